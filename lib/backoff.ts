// Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): the
// wait before retry n is drawn uniformly from [0, min(cap, base * 2^(n-1))). Drawing the whole wait,
// rather than adding a little noise to a fixed one, spreads the clients that failed together (one
// overloaded server answers many of them at once) over the whole window, so they do not return together.

export interface BackoffPolicy {
  /** The ceiling of the first retry's wait. */
  baseMs: number;
  /** No wait is drawn from a window wider than this, however many tries failed. */
  capMs: number;
}

/** The widest wait before retry `attempt` (1 = the first retry): the window full jitter draws from. */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** n grows to Infinity long after the cap has taken over; min() keeps the result finite.
  return Math.min(policy.capMs, policy.baseMs * 2 ** (n - 1));
}

/** The wait before retry `attempt`, drawn with `random` (in [0, 1), injectable so tests can pin it). */
export function fullJitterBackoffMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeilingMs(attempt, policy));
}
