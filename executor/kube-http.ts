// The HTTP layer under Ferry's Kubernetes API calls (client-node's generated CoreV1Api sends every
// request through it). It protects the API server and Ferry from each other:
// - writes (POST, PUT, PATCH, DELETE) wait for a token of one bucket per process, so a burst of work
//   (a hundred tries claimed at once) reaches the server at a steady QPS instead of all at once;
// - every request has a deadline (watches and log follows, which are meant to last, are left to the
//   watchdog and to the connection-setup timeout of kube.ts);
// - idempotent requests (GET, HEAD, DELETE) that the server shed (429) or failed (5xx), or that never
//   reached it, are sent again after a jittered backoff, never sooner than Retry-After. Creates and
//   patches are not: a create whose answer was lost may have made the Pod, and the executor settles
//   that itself (a second create answers 409); PodControl returns their retry with its delay.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import type { TokenBucket } from "../lib/token-bucket.ts";
import { kubeRetryDelayMs, retryAfterMs } from "./kube-retry.ts";

export interface KubeHttpOptions {
  /** Shared by every write the process makes. */
  writeLimiter: TokenBucket;
  requestTimeoutMs: number;
  log: Logger;
  /** Retries of an idempotent request, after its first try. @default 2 */
  maxRetries?: number;
  /** A retry that would wait longer than this is left to the caller's own loop. @default 10000 */
  maxRetryWaitMs?: number;
  random?: () => number;
  /** Told of every answer (or its absence, code 0), for the metrics. */
  onResponse?: (verb: string, code: number) => void;
}

const WRITES: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Methods whose repetition has no further effect on the server (RFC 9110, 9.2.2) that Ferry sends. */
const IDEMPOTENT: ReadonlySet<string> = new Set(["GET", "HEAD", "DELETE"]);
/** A throttled write that waited longer than this is logged, as client-go does. */
const LOGGED_WAIT_MS = 1000;

/** Thrown when the API server has not answered a request within the request timeout. */
export class KubeRequestTimeoutError extends Error {
  override name = "KubeRequestTimeoutError";
}

export function guardedHttpLibrary(opts: KubeHttpOptions): k8s.HttpLibrary {
  const inner = new k8s.IsomorphicFetchHttpLibrary();
  const maxRetries = opts.maxRetries ?? 2;
  const maxRetryWaitMs = opts.maxRetryWaitMs ?? 10_000;
  const random = opts.random ?? Math.random;

  const sendOnce = async (request: k8s.RequestContext): Promise<k8s.ResponseContext> => {
    // The signal also bounds the reading of the body, which client-node does after send() resolves.
    const signal = isLongLived(request.getUrl()) ? undefined : AbortSignal.timeout(opts.requestTimeoutMs);
    if (signal) request.setSignal(signal);
    try {
      const response = await inner.send(request).toPromise();
      opts.onResponse?.(verbOf(request), response.httpStatusCode);
      return response;
    } catch (err) {
      opts.onResponse?.(verbOf(request), 0);
      if (signal?.aborted) {
        throw new KubeRequestTimeoutError(`no answer from the Kubernetes API within ${opts.requestTimeoutMs} ms: ${describe(request)}`, { cause: err });
      }
      throw err;
    }
  };

  const send = async (request: k8s.RequestContext): Promise<k8s.ResponseContext> => {
    const method = request.getHttpMethod();
    for (let attempt = 1; ; attempt++) {
      if (WRITES.has(method)) {
        const waitedMs = await opts.writeLimiter.take();
        if (waitedMs > LOGGED_WAIT_MS) {
          opts.log.info("waited for the client-side rate limit on Kubernetes writes", {
            request: describe(request),
            waitedMs: Math.round(waitedMs),
            qps: opts.writeLimiter.ratePerSecond,
            burst: opts.writeLimiter.burst,
          });
        }
      }
      const mayRetry = IDEMPOTENT.has(method) && attempt <= maxRetries;
      let response: k8s.ResponseContext;
      try {
        response = await sendOnce(request);
      } catch (err) {
        // A request the server did not answer in time is not sent again here: it would most likely
        // wait as long again, and each caller has a loop of its own that asks later.
        if (!mayRetry || err instanceof KubeRequestTimeoutError) throw err;
        const waitMs = kubeRetryDelayMs(attempt, null, random);
        if (waitMs > maxRetryWaitMs) throw err;
        opts.log.warn("Kubernetes API unreachable; retrying", { request: describe(request), message: (err as Error).message, retryInMs: waitMs });
        await sleep(waitMs);
        continue;
      }
      const code = response.httpStatusCode;
      if (!mayRetry || (code !== 429 && code < 500)) return response;
      const waitMs = kubeRetryDelayMs(attempt, retryAfterMs(response.headers), random);
      if (waitMs > maxRetryWaitMs) return response;
      opts.log.warn("Kubernetes API request failed; retrying", { request: describe(request), code, retryInMs: waitMs });
      await response.body.text().catch(() => ""); // frees the connection
      await sleep(waitMs);
    }
  };

  return k8s.wrapHttpLibrary({ send });
}

/** The request's verb as Kubernetes names it (a GET that watches is a watch). */
function verbOf(request: k8s.RequestContext): string {
  const q = new URL(request.getUrl()).searchParams;
  if (q.get("watch") === "true") return "watch";
  const method = request.getHttpMethod().toString();
  return method === "POST" ? "create" : method.toLowerCase();
}

/** Watches and log follows are meant to stay open; only their connection setup has a deadline. */
function isLongLived(url: string): boolean {
  const q = new URL(url).searchParams;
  return q.get("watch") === "true" || q.get("follow") === "true";
}

function describe(request: k8s.RequestContext): string {
  return `${request.getHttpMethod()} ${new URL(request.getUrl()).pathname}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
