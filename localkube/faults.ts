// Fault injection: the ways a real cluster misbehaves, switchable at runtime (tests) or from the
// FERRY_LOCALKUBE_FAULTS environment variable (`ferry localkube`). This module owns the config, its
// validation, the seeded random draws and the request-level faults (500 / 429). Pod-level faults are
// read from here by the scheduler and the kubelet; they never affect localkube's own store writes.

import type { ServerResponse } from "node:http";
import { internalError, tooManyRequests } from "./status.ts";

export interface FaultConfig {
  /** Fraction (0..1) of API requests (any verb, any path under /api) answered 500 InternalError. @default 0 */
  errorRate?: number;
  /** Fraction (0..1) answered 429 TooManyRequests with a Retry-After header. @default 0 */
  throttleRate?: number;
  /** Retry-After value in seconds for 429s. @default 1 */
  retryAfterSeconds?: number;
  /** Watches end (stream closed, no final event) after this many seconds. */
  watchCutAfterSeconds?: number;
  /** Watches end after this many events. */
  watchCutAfterEvents?: number;
  /** A watch that resumes from a resourceVersion gets HTTP 200 then an ERROR 410 Expired event, then closes. */
  expireOnResume?: boolean;
  /**
   * Watches go silent, as on a half-dead connection (a proxy or load balancer that dropped it without a
   * word): every open watch, and each new one, stays open and sends nothing more, neither events nor
   * bookmarks nor its end. Unlike the other watch faults it takes hold of watches already open, the
   * moment it is set; a watch it silenced stays silent after it is cleared, until its client hangs up.
   */
  watchSilent?: boolean;
  /**
   * Answers to writes (POST, PUT, PATCH, DELETE) are held this long after the write took effect, as on a
   * congested connection: watchers hear of the change, and a new Pod may run or even finish, before the
   * client that made the change gets its answer. @default 0
   */
  slowWriteResponsesMs?: number;
  /**
   * Follow streams of a container's log do not end when the container does: they stay open and send
   * nothing more, as through a proxy or API server that lost the end of the stream. @default false
   */
  logFollowHangs?: boolean;
  /** Pods wait this long in Pending / ContainerCreating before their process starts. @default 0 */
  podStartDelayMs?: number;
  /** Images matching any of these globs (`*` wildcard) fail to pull: waiting ErrImagePull, then ImagePullBackOff (alternating as a kubelet does), never start. */
  imagePullFailures?: string[];
  /** New pods are not scheduled: Pending with PodScheduled False, reason Unschedulable, message like "0/1 nodes are available: ...". */
  unschedulable?: boolean;
  /**
   * The kubelet does not enforce activeDeadlineSeconds (as if the API server or the kubelet lost it):
   * containers run on past their deadline, including a deadline lowered to stop them. @default false
   */
  deadlinesIgnored?: boolean;
}

export interface FaultController {
  set(faults: FaultConfig): void; // replaces the current config (an empty object clears all)
  get(): FaultConfig;
  /** Evicts a running pod as node pressure would: process killed, phase Failed, reason Evicted, message "The node was low on resource: memory. ...". */
  evict(namespace: string, name: string): Promise<void>;
  /** The whole node is lost: every running pod's process dies; those pods go Failed with reason NodeLost (message says the node was lost). */
  loseNode(): Promise<void>;
}

type Kind = "rate" | "seconds" | "count" | "ms" | "boolean" | "globs";
const KEYS: Record<keyof FaultConfig, Kind> = {
  errorRate: "rate",
  throttleRate: "rate",
  retryAfterSeconds: "count",
  watchCutAfterSeconds: "seconds",
  watchCutAfterEvents: "count",
  expireOnResume: "boolean",
  watchSilent: "boolean",
  slowWriteResponsesMs: "ms",
  logFollowHangs: "boolean",
  podStartDelayMs: "ms",
  imagePullFailures: "globs",
  unschedulable: "boolean",
  deadlinesIgnored: "boolean",
};

/** Checks a FaultConfig (from code or JSON) and returns a private copy; throws with every problem named. */
export function checkFaults(input: unknown, source = "faults"): FaultConfig {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new Error(`${source}: must be a JSON object, e.g. {"errorRate":0.1}`);
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const kind = KEYS[k as keyof FaultConfig];
    if (!kind) {
      problems.push(`unknown key "${k}" (known: ${Object.keys(KEYS).join(", ")})`);
      continue;
    }
    if (v === undefined) continue;
    const num = typeof v === "number" && Number.isFinite(v);
    const ok =
      kind === "rate" ? num && v >= 0 && v <= 1
      : kind === "count" ? num && Number.isInteger(v) && v >= 0
      : kind === "seconds" || kind === "ms" ? num && v >= 0
      : kind === "boolean" ? typeof v === "boolean"
      : Array.isArray(v) && v.every((g) => typeof g === "string" && g.length > 0);
    if (!ok) problems.push(`"${k}" must be ${DESCRIBE[kind]}, got ${JSON.stringify(v)}`);
    else out[k] = Array.isArray(v) ? [...v] : v;
  }
  if (typeof out.errorRate === "number" && typeof out.throttleRate === "number" && out.errorRate + out.throttleRate > 1)
    problems.push(`errorRate + throttleRate must not exceed 1, got ${out.errorRate} + ${out.throttleRate}`);
  if (problems.length) throw new Error(`${source}: ${problems.join("; ")}`);
  return out as FaultConfig;
}

const DESCRIBE: Record<Kind, string> = {
  rate: "a number from 0 to 1",
  count: "a whole number >= 0",
  seconds: "a number of seconds >= 0",
  ms: "a number of milliseconds >= 0",
  boolean: "true or false",
  globs: "a list of non-empty image globs",
};

/** Reads FERRY_LOCALKUBE_FAULTS (JSON); unset or blank means no faults. Throws a readable error otherwise. */
export function faultsFromEnv(env: Record<string, string | undefined> = process.env): FaultConfig {
  const raw = env.FERRY_LOCALKUBE_FAULTS;
  if (raw === undefined || !raw.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new Error(`FERRY_LOCALKUBE_FAULTS is not valid JSON (${(e as Error).message}); expected e.g. {"errorRate":0.05,"unschedulable":true}`);
  }
  return checkFaults(parsed, "FERRY_LOCALKUBE_FAULTS");
}

/** `*` matches any run of characters (including `/` and `:`); everything else is literal. */
export function globMatch(glob: string, s: string): boolean {
  const re = new RegExp(`^${glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(s);
}

/** mulberry32: tiny, seedable, good enough to make "10% of requests" reproducible in a test. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WatchFaults {
  cutAfterMs?: number;
  cutAfterEvents?: number;
  expireOnResume?: boolean;
  /** Calls `goSilent` now if watches are to be silent, else once they are; returns the unsubscribe. */
  whenSilent?: (goSilent: () => void) => () => void;
}

/** The current fault config plus the random source; the parts of localkube that inject faults read it. */
export class Faults {
  private config: FaultConfig;
  private readonly random: () => number;
  private readonly listeners = new Set<() => void>();

  constructor(initial: FaultConfig = {}, seed?: number) {
    this.config = checkFaults(initial);
    this.random = prng(seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  get(): FaultConfig {
    return structuredClone(this.config);
  }

  set(next: FaultConfig): void {
    this.config = checkFaults(next);
    for (const l of this.listeners) l();
  }

  /** Called after every set(), e.g. so the scheduler retries pods that were unschedulable. */
  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get podStartDelayMs(): number {
    return this.config.podStartDelayMs ?? 0;
  }

  /** How long to hold the answer to a write that has already taken effect. */
  writeResponseDelayMs(method: string | undefined): number {
    const ms = this.config.slowWriteResponsesMs ?? 0;
    return ms > 0 && method !== "GET" && method !== "HEAD" ? ms : 0;
  }

  get logFollowHangs(): boolean {
    return this.config.logFollowHangs === true;
  }

  get unschedulable(): boolean {
    return this.config.unschedulable === true;
  }

  get deadlinesIgnored(): boolean {
    return this.config.deadlinesIgnored === true;
  }

  imagePullFails(image: string): boolean {
    return (this.config.imagePullFailures ?? []).some((g) => globMatch(g, image));
  }

  /** Watch faults as of the watch's start: a watch keeps the config it began with (but see watchSilent). */
  watch(): WatchFaults {
    const c = this.config;
    return {
      cutAfterMs: c.watchCutAfterSeconds !== undefined ? c.watchCutAfterSeconds * 1000 : undefined,
      cutAfterEvents: c.watchCutAfterEvents,
      expireOnResume: c.expireOnResume,
      whenSilent: (goSilent) => {
        if (this.config.watchSilent) {
          goSilent();
          return () => {};
        }
        const stop = this.onChange(() => {
          if (!this.config.watchSilent) return;
          stop();
          goSilent();
        });
        return stop;
      },
    };
  }

  /**
   * Answers a client request with an injected 500 or 429 when the dice say so; returns true if it did.
   * One draw per request: [0, errorRate) is a 500, [errorRate, errorRate + throttleRate) a 429.
   */
  maybeFailRequest(path: string, res: ServerResponse): boolean {
    if (path !== "/api" && !path.startsWith("/api/")) return false;
    const { errorRate = 0, throttleRate = 0 } = this.config;
    if (errorRate <= 0 && throttleRate <= 0) return false;
    const r = this.random();
    let err;
    const headers: Record<string, string> = {};
    if (r < errorRate) err = internalError("localkube fault injection: errorRate");
    else if (r < errorRate + throttleRate) {
      const after = this.config.retryAfterSeconds ?? 1;
      err = tooManyRequests(after);
      headers["Retry-After"] = String(after);
    } else return false;
    const text = JSON.stringify(err.body);
    res.writeHead(err.code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-cache, private", ...headers });
    res.end(text);
    return true;
  }
}
