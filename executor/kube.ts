// Ferry reaches Kubernetes only through @kubernetes/client-node. This module builds the client from the
// configuration (a kubeconfig, in-cluster, or the embedded localkube's kubeconfig) and reads the
// Kubernetes `Status` out of the client's errors.
import type { Readable, Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";

export interface Kube {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  watch: k8s.Watch;
  logs: k8s.Log;
  namespace: string;
}

export type KubeSource = { kind: "kubeconfig-text"; text: string } | { kind: "kubeconfig-file"; path: string | null } | { kind: "in-cluster" };

export function connectKube(source: KubeSource, namespace: string): Kube {
  const config = new k8s.KubeConfig();
  if (source.kind === "kubeconfig-text") config.loadFromString(source.text);
  else if (source.kind === "kubeconfig-file") {
    if (source.path) config.loadFromFile(source.path);
    else config.loadFromDefault();
  } else config.loadFromCluster();
  return {
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    watch: new k8s.Watch(config),
    logs: new k8s.Log(config),
    namespace,
  };
}

export interface KubeFailure {
  /** HTTP status, or 0 when the server was not reached. */
  code: number;
  reason: string | null;
  message: string;
  /** From a Retry-After header (429, 503): how long the server asks us to wait. */
  retryAfterMs: number | null;
}

function retryAfter(headers: unknown): number | null {
  const raw = headers && typeof headers === "object" ? (headers as Record<string, string | undefined>)["retry-after"] : undefined;
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
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
    return { code: err.code, reason, message, retryAfterMs: retryAfter(err.headers) };
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
