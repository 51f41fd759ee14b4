// How long Ferry waits before asking the Kubernetes API again after an answer that invites a retry
// (429 TooManyRequests, 5xx, no answer at all): exponential backoff with full jitter, and never sooner
// than the server's Retry-After. Under API priority and fairness a 429 means the server shed our
// request to protect itself; coming back at once, or all at the same moment, only adds to its load.
import { fullJitterBackoffMs, type BackoffPolicy } from "../lib/backoff.ts";

/** 0.5 s for the first retry, doubling up to a 30 s window. */
export const KUBE_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/** The wait before retry `attempt` (1 = the first): jittered backoff, at least `retryAfterMs`. */
export function kubeRetryDelayMs(attempt: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  return Math.max(retryAfterMs ?? 0, fullJitterBackoffMs(attempt, KUBE_BACKOFF, random));
}

/** The Retry-After header (seconds, or an HTTP date) in milliseconds; null when absent or unreadable. */
export function retryAfterMs(headers: unknown): number | null {
  const raw = headers && typeof headers === "object" ? (headers as Record<string, string | undefined>)["retry-after"] : undefined;
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * Counts each key's failures in a row (a try's Pod name), so that every try backs off on its own: one
 * try's failed creates do not slow another's first one. Bounded, because a try may be given up (a
 * cancel) between a failure and its retry: past `maxKeys`, the key failed longest ago is forgotten.
 */
export class RetryAttempts {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly random: () => number = Math.random,
    private readonly maxKeys = 10_000,
  ) {}

  /** Records one more failure of `key`; returns how long to wait before trying it again. */
  failed(key: string, retryAfter: number | null): number {
    const attempt = (this.failures.get(key) ?? 0) + 1;
    // Re-inserted, so the Map's order stays "failed longest ago first".
    this.failures.delete(key);
    this.failures.set(key, attempt);
    if (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
    return kubeRetryDelayMs(attempt, retryAfter, this.random);
  }

  /** `key` got a final answer: a later failure starts the backoff over. */
  settled(key: string): void {
    this.failures.delete(key);
  }
}
