// The target of the conformance suite, and the helpers every conformance test uses.
//
// By default each test file starts its own localkube (port 0, temp dataDir). When
// FERRY_CONFORMANCE_KUBECONFIG names a kubeconfig file, the same tests run against that cluster instead.
// Either way a test file gets a fresh namespace `ferry-conformance-<random>` (deleted at the end) and
// talks to the target only through @kubernetes/client-node: KubeConfig, CoreV1Api, Watch and Log. The few
// checks of exact HTTP behaviour (405, 415, bad JSON, Tables) go through client-node's own request
// machinery (`raw` below), so they carry the kubeconfig's TLS settings and credentials too.
//
// Nothing in here (or in the test files that use it) may depend on localkube internals: the worker-image
// mapping, its dataDir, FERRY_TERMINATION_MESSAGE_PATH or its watch-history size. Tests of those live in
// test/localkube/localkube-only.test.ts.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Readable, Writable } from "node:stream";
import {
  ApiException,
  CoreV1Api,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  Log,
  RequestContext,
  Watch,
  type V1Pod,
} from "@kubernetes/client-node";
import { startLocalKube } from "../../localkube/index.ts";

/** Set to a kubeconfig path to run the suite against a real cluster. */
export const KUBECONFIG_ENV = "FERRY_CONFORMANCE_KUBECONFIG";
export const clusterKubeconfig = process.env[KUBECONFIG_ENV] || undefined;
/** True when the suite runs against the embedded localkube (decided at load time, for `todo`/`skip`). */
export const onLocalkube = clusterKubeconfig === undefined;

/** A real, small image: on a cluster `command` runs inside it; localkube runs `command` on the host. */
export const IMAGE = "busybox:1.36";

/**
 * Upper bounds for waits. A cluster schedules and pulls images, so its bounds are generous; localkube's
 * are short so a broken test fails fast. These are limits, never expectations: no test asserts a duration.
 */
export const WAIT = onLocalkube
  ? { running: 20_000, terminal: 30_000, gone: 30_000, event: 30_000, poll: 50 }
  : { running: 180_000, terminal: 240_000, gone: 240_000, event: 240_000, poll: 500 };

export interface Target {
  readonly kind: "localkube" | "cluster";
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  /** The fresh namespace this test file owns. */
  readonly ns: string;
  /** Random per file; use it in label values that cross namespaces so other workloads never match. */
  readonly runId: string;
  close(): Promise<void>;
}

/** Random lowercase alphanumerics, safe in names and label values. */
export function randomId(n = 8): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join("");
}

export async function openTarget(): Promise<Target> {
  const runId = randomId();
  const ns = `ferry-conformance-${runId}`;
  let kc = new KubeConfig();
  let shutdown: () => Promise<void>;
  let kind: Target["kind"];
  if (clusterKubeconfig) {
    kind = "cluster";
    kc.loadFromFile(clusterKubeconfig);
    shutdown = async () => {};
  } else {
    kind = "localkube";
    const dir = await mkdtemp(join(tmpdir(), "ferry-conformance-"));
    // The worker image is a localkube feature this suite never uses; any executable will do. Logs rotate
    // at 64 KiB (a kubelet's default is 10 MiB) so the log tests read through the rotating path.
    const lk = await startLocalKube({ dataDir: dir, workerImage: "ferry-conformance/unused", workerCommand: [process.execPath], logMaxBytes: 64 * 1024 });
    kc = new KubeConfig();
    kc.loadFromString(lk.kubeconfig());
    shutdown = async () => {
      await lk.close();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.createNamespace({ body: { metadata: { name: ns, labels: { "ferry-conformance": runId } } } });
  } catch (e) {
    await shutdown();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    kind,
    kc,
    core,
    ns,
    runId,
    close() {
      closing ??= (async () => {
        try {
          // Pods go with the namespace; on a cluster the namespace controller finishes in the background.
          await core.deleteNamespace({ name: ns, gracePeriodSeconds: 0 });
        } catch (e) {
          if (!(e instanceof ApiException && e.code === 404)) console.error(`could not delete namespace ${ns}:`, e);
        } finally {
          await shutdown();
        }
      })();
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Pods

export type Container = V1Pod["spec"] extends infer S ? (S extends { containers: (infer C)[] } ? C : never) : never;

/** A one-container Pod running `command` in IMAGE, never restarted, labelled `app: conformance`. */
export function pod(name: string, command: string[], extra: Partial<NonNullable<V1Pod["spec"]>> = {}, container: Partial<Container> = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "conformance" } },
    spec: {
      restartPolicy: "Never",
      // Keep deletes fast on a cluster; tests that need a longer grace set their own.
      terminationGracePeriodSeconds: 5,
      containers: [{ name: "main", image: IMAGE, command, ...container }],
      ...extra,
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const terminal = (p: V1Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
export const running = (p: V1Pod) => p.status?.phase === "Running";
export const terminated = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;
export const condition = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);

/** Polls until `pred` holds for the pod (404 counts as "not yet"). */
export async function waitForPod(t: Target, name: string, pred: (p: V1Pod) => boolean, timeoutMs = WAIT.terminal): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  let last: V1Pod | undefined;
  while (Date.now() < deadline) {
    try {
      last = await t.core.readNamespacedPod({ name, namespace: t.ns });
      if (pred(last)) return last;
    } catch (e) {
      if (!(e instanceof ApiException) || e.code !== 404) throw e;
    }
    await sleep(WAIT.poll);
  }
  throw new Error(`timed out waiting for pod ${t.ns}/${name}; last status: ${JSON.stringify(last?.status)}`);
}

export async function waitForGone(t: Target, name: string, timeoutMs = WAIT.gone): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await t.core.readNamespacedPod({ name, namespace: t.ns });
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return;
      throw e;
    }
    await sleep(WAIT.poll);
  }
  throw new Error(`timed out waiting for pod ${t.ns}/${name} to be deleted`);
}

/** Runs `fn`, expecting an ApiException; returns its code and parsed Status body. */
export async function apiError(fn: () => Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiException) {
      let body: unknown = e.body;
      if (typeof body === "string") {
        try {
          body = JSON.parse(body);
        } catch {
          // not JSON: leave the text
        }
      }
      return { code: e.code, body };
    }
    throw e;
  }
  throw new Error("expected the call to fail");
}

// ---------------------------------------------------------------------------------------------------
// Raw requests, through client-node's own auth/TLS handling (as its log.ts and watch.ts do)

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  json(): any;
}

export async function raw(
  t: Target,
  method: keyof typeof HttpMethod,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const server = t.kc.getCurrentCluster()?.server;
  if (!server) throw new Error("kubeconfig has no current cluster");
  const ctx = new RequestContext(server.replace(/\/+$/, "") + path, HttpMethod[method]);
  await t.kc.applySecurityAuthentication(ctx);
  for (const [k, v] of Object.entries(opts.headers ?? {})) ctx.setHeaderParam(k, v);
  if (opts.body !== undefined) ctx.setBody(opts.body);
  const res = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  const text = await res.body.text();
  return { status: res.httpStatusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

// ---------------------------------------------------------------------------------------------------
// Watch

export interface WatchEvent {
  type: string;
  obj: any;
}

const rvOf = (ev: WatchEvent | undefined): string | undefined => ev?.obj?.metadata?.resourceVersion;

/**
 * Watches `path` until `until(events)` holds. A watch may end at any time (client-node's inactivity
 * timeout, a server's own timeout); when that happens before `until` holds, this resumes from the last
 * resourceVersion seen, as a client must. Start the watch before causing the events; await `done`.
 */
export function watchUntil(
  t: Target,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  until: (evs: WatchEvent[]) => boolean,
  timeoutMs = WAIT.event,
): { evs: WatchEvent[]; done: Promise<WatchEvent[]> } {
  const evs: WatchEvent[] = [];
  let ctl: AbortController | undefined;
  let finished = false;
  const done = new Promise<WatchEvent[]>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`watch timed out; got ${JSON.stringify(evs.map((e) => [e.type, e.obj?.status?.phase]))}`)), timeoutMs);
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      ctl?.abort();
      if (err) reject(err);
      else resolve(evs);
    };
    const start = (q: typeof query) => {
      new Watch(t.kc)
        .watch(
          path,
          q,
          (type, obj) => {
            if (finished) return;
            evs.push({ type, obj });
            if (type === "ERROR") finish(new Error(`watch ERROR event: ${JSON.stringify(obj)}`));
            else if (until(evs)) finish();
          },
          (err) => {
            if (finished) return;
            if (until(evs)) return finish();
            // Ended early: resume after the last event we saw (or from where we started).
            const last = [...evs].reverse().find((e) => rvOf(e) !== undefined);
            const rv = rvOf(last) ?? q.resourceVersion;
            if (rv === undefined) return finish(err instanceof Error ? err : new Error(`watch ended early: ${String(err)}`));
            setTimeout(() => !finished && start({ ...q, resourceVersion: rv }), 100);
          },
        )
        .then((c) => {
          ctl = c;
          if (finished) c.abort();
        })
        .catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
    };
    start(query);
  });
  return { evs, done };
}

/** One watch request, read to its end: resolves with its events and the error `done` got (null if none). */
export function watchOnce(
  t: Target,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  timeoutMs = WAIT.event,
): Promise<{ evs: WatchEvent[]; err: unknown }> {
  const evs: WatchEvent[] = [];
  return new Promise((resolve, reject) => {
    let ctl: AbortController | undefined;
    const timer = setTimeout(() => {
      ctl?.abort();
      reject(new Error(`the watch did not end; got ${JSON.stringify(evs.map((e) => e.type))}`));
    }, timeoutMs);
    new Watch(t.kc)
      .watch(path, query, (type, obj) => evs.push({ type, obj }), (err) => {
        clearTimeout(timer);
        resolve({ evs, err: err ?? null });
      })
      .then((c) => (ctl = c))
      .catch(reject);
  });
}

/** The 410 ERROR event a client keys on to re-list: a Status with code 410, reason Expired (older servers: Gone). */
export function assertExpired(ev: WatchEvent, message: RegExp): void {
  assert.equal(ev.type, "ERROR");
  assert.equal(ev.obj.kind, "Status");
  assert.equal(ev.obj.apiVersion, "v1");
  assert.equal(ev.obj.status, "Failure");
  assert.equal(ev.obj.code, 410);
  assert.ok(["Expired", "Gone"].includes(ev.obj.reason), `reason ${ev.obj.reason}`);
  assert.match(ev.obj.message, message);
}

// ---------------------------------------------------------------------------------------------------
// Logs

export interface LogStream {
  text(): string;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  hasEnded(): boolean;
  abort(): void;
}

/** Reads a pod's log through client-node's Log (which, unlike readNamespacedPodLog, knows sinceTime and follow). */
export async function logStream(
  t: Target,
  name: string,
  opts: { follow?: boolean; timestamps?: boolean; sinceTime?: string; tailLines?: number; limitBytes?: number } = {},
): Promise<LogStream> {
  let text = "";
  let ended = false;
  let onEnd: () => void = () => {};
  const endedP = new Promise<void>((resolve) => (onEnd = resolve));
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString("utf8");
      cb();
    },
  });
  out.on("finish", () => {
    ended = true;
    onEnd();
  });
  // client-node pipes the response into `out` without an error listener on the source, so an abort
  // would be an uncaught exception: catch it at the pipe.
  out.once("pipe", (source: Readable) => source.on("error", () => out.destroy()));
  out.on("error", () => {});
  const ctl = await new Log(t.kc).log(t.ns, name, "main", out, opts);
  return { text: () => text, ended: endedP, hasEnded: () => ended, abort: () => ctl.abort() };
}

/** The whole (non-follow) log text for `opts`. */
export async function logText(t: Target, name: string, opts: Parameters<typeof logStream>[2] = {}): Promise<string> {
  const s = await logStream(t, name, { ...opts, follow: false });
  await s.ended;
  return s.text();
}

/** Polls `pred` until it holds. */
export async function until(pred: () => boolean, timeoutMs = WAIT.event, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
