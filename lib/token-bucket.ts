// A token bucket that hands out reservations: it holds up to `burst` tokens, refilled at `ratePerSecond`,
// and a caller that finds it empty is told how long until its own token comes rather than being
// refused. Reservations are served in the order they were made (the count may go below zero, as a
// queue of promised tokens), so callers go first come, first served and, over any stretch of time L,
// at most burst + ratePerSecond * L tokens become usable.

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be a whole number >= 1, got ${burst}`);
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes one token; returns how many milliseconds from now it may be used (0: at once). */
  reserve(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.ratePerSecond) * 1000;
  }

  /** Waits until a token is ours; resolves with how long that took (milliseconds). */
  async take(): Promise<number> {
    const waitMs = this.reserve();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(waitMs)));
    return waitMs;
  }
}
