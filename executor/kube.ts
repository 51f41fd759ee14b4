// Ferry reaches Kubernetes only through @kubernetes/client-node. This module builds the client from the
// configuration (a kubeconfig, in-cluster, or the embedded localkube's kubeconfig), with the guards of
// a client that protects the API server (kube-http.ts: a write rate limit, request timeouts, retries of
// idempotent requests; here: a deadline on the setup of every connection), and reads the Kubernetes
// `Status` out of the client's errors.
import type { Metrics } from "../lib/metrics.ts";
import type { Readable, Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { FERRY_VERSION } from "../config/config.ts";
import { silentLogger, type Logger } from "../lib/logger.ts";
import { TokenBucket } from "../lib/token-bucket.ts";
import { guardedHttpLibrary } from "./kube-http.ts";
import { retryAfterMs } from "./kube-retry.ts";

export interface Kube {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  watch: k8s.Watch;
  logs: k8s.Log;
  namespace: string;
  /** The limits this client keeps; watchers read theirs from here. */
  limits: { requestTimeoutMs: number; watchIdleMs: number };
}

export type KubeSource = { kind: "kubeconfig-text"; text: string } | { kind: "kubeconfig-file"; path: string | null } | { kind: "in-cluster" };

export interface KubeClientOptions {
  /** Writes (Pod create, patch, delete) per second, shared by every write of this client. @default 50 */
  qps?: number;
  /** Writes that may go at once before the rate applies. @default 100 */
  burst?: number;
  /**
   * Longest wait for an answer to a request; for watches and log follows, which are meant to last, the
   * longest wait for the server to begin answering. @default 30000
   */
  requestTimeoutMs?: number;
  /** A watch that brings no event and no bookmark for this long is taken for dead. @default 120000 */
  watchIdleMs?: number;
  /** Where throttled writes and retries are logged. @default silent */
  log?: Logger;
  /** Counts requests by verb and code. */
  metrics?: Pick<Metrics, "kubeRequests">;
}

export const KUBE_CLIENT_DEFAULTS = { qps: 50, burst: 100, requestTimeoutMs: 30_000, watchIdleMs: 120_000 } as const;

export function connectKube(source: KubeSource, namespace: string, opts: KubeClientOptions = {}): Kube {
  const o = { ...KUBE_CLIENT_DEFAULTS, log: silentLogger, ...opts };
  const config = new KubeConfigWithSetupTimeout(o.requestTimeoutMs);
  if (source.kind === "kubeconfig-text") config.loadFromString(source.text);
  else if (source.kind === "kubeconfig-file") {
    if (source.path) config.loadFromFile(source.path);
    else config.loadFromDefault();
  } else config.loadFromCluster();
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig names no current cluster");
  // As KubeConfig.makeApiClient builds it, but sending through the guarded HTTP layer.
  const core = new k8s.CoreV1Api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: config },
      httpApi: guardedHttpLibrary({
        writeLimiter: new TokenBucket(o.qps, o.burst),
        requestTimeoutMs: o.requestTimeoutMs,
        log: o.log,
        onResponse: o.metrics ? (verb, code) => o.metrics!.kubeRequests.inc({ verb, code: String(code) }) : undefined,
      }),
      middleware: [k8s.setHeaderMiddleware("User-Agent", `ferry/${FERRY_VERSION}`)],
    }),
  );
  const watch = new k8s.Watch(config);
  // client-node's Watch gives up on a stream after 30 s without a byte, a default of its own; Ferry's
  // watchdog (pod-watcher.ts) judges silence by FERRY_KUBE_WATCH_IDLE_SECONDS instead, so this is
  // pushed beyond it and stays only as a backstop. (A private field: if a later client-node drops it,
  // this assignment does nothing and its own default applies.)
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = o.watchIdleMs + o.requestTimeoutMs;
  return {
    config,
    core,
    watch,
    logs: new k8s.Log(config),
    namespace,
    limits: { requestTimeoutMs: o.requestTimeoutMs, watchIdleMs: o.watchIdleMs },
  };
}

/**
 * client-node gives each request (API calls, watches, log follows alike) a dispatcher built from the
 * cluster's TLS settings; this one also gives up on a server that has not sent a response's status and
 * headers within `headersTimeoutMs`, so that a watch or a log follow cannot hang in its setup on a
 * server that accepted the connection and never answered. (When the cluster needs no TLS setting at all,
 * client-node uses undici's shared dispatcher and its own 300 s headers timeout.)
 */
class KubeConfigWithSetupTimeout extends k8s.KubeConfig {
  constructor(private readonly headersTimeoutMs: number) {
    super();
  }

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const dispatcher = context.getDispatcher();
    if (!dispatcher) return;
    const headersTimeout = this.headersTimeoutMs;
    context.setDispatcher(dispatcher.compose((dispatch) => (options, handler) => dispatch({ ...options, headersTimeout }, handler)));
  }
}

export interface KubeFailure {
  /** HTTP status, or 0 when the server was not reached. */
  code: number;
  reason: string | null;
  message: string;
  /** From a Retry-After header (429, 503): how long the server asks us to wait. */
  retryAfterMs: number | null;
}

/** Reads the Status from an ApiException (whose body is raw text) or describes a network failure. */
export function kubeFailure(err: unknown): KubeFailure {
  if (err instanceof k8s.ApiException) {
    let reason: string | null = null;
    let message = `HTTP ${err.code}`;
    const body = err.body as unknown;
    try {
      const status = typeof body === "string" ? JSON.parse(body) : body;
      if (status && typeof status === "object") {
        reason = (status as { reason?: string }).reason ?? null;
        message = (status as { message?: string }).message ?? message;
      }
    } catch {
      if (typeof body === "string" && body) message = body;
    }
    return { code: err.code, reason, message, retryAfterMs: retryAfterMs(err.headers) };
  }
  return { code: 0, reason: null, message: err instanceof Error ? err.message : String(err), retryAfterMs: null };
}

export function isNotFound(err: unknown): boolean {
  return kubeFailure(err).code === 404;
}

/** Errors worth retrying: the server was unreachable, overloaded or failed internally. */
export function isTransient(err: unknown): boolean {
  const { code } = kubeFailure(err);
  return code === 0 || code === 429 || code >= 500;
}

export interface PodLogStream {
  abort(): void;
  /** Resolves when the server ended the stream ("ended") or it broke or was aborted ("broken"). */
  done: Promise<"ended" | "broken">;
}

/**
 * Streams a container's log into `sink` through client-node's Log. client-node pipes the response into
 * the sink but leaves the response stream without an error listener, so an abort or a dropped
 * connection would surface as an uncaught exception; the source is caught here, at the sink's 'pipe'.
 */
export async function openPodLog(
  kube: Kube,
  namespace: string,
  podName: string,
  container: string,
  sink: Writable,
  opts: { follow: boolean; timestamps?: boolean; sinceTime?: string },
): Promise<PodLogStream> {
  let settle!: (v: "ended" | "broken") => void;
  const done = new Promise<"ended" | "broken">((r) => (settle = r));
  sink.once("pipe", (source: Readable) => source.on("error", () => settle("broken")));
  // The sink finishes once client-node's pipe has handed it every byte and ended it.
  sink.once("finish", () => settle("ended"));
  const controller = await kube.logs.log(namespace, podName, container, sink as never, {
    follow: opts.follow,
    timestamps: opts.timestamps ?? false,
    ...(opts.sinceTime ? { sinceTime: opts.sinceTime } : {}),
  });
  return { abort: () => controller.abort(), done };
}
