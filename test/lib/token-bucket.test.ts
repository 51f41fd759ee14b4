// The token bucket on a clock the test moves: a burst goes at once, then one token per 1/rate, first
// come first served, and over any stretch of time L at most burst + rate * L tokens are usable.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TokenBucket } from "../../lib/token-bucket.ts";

describe("token bucket", () => {
  it("lets the burst through at once, then one token every 1/rate seconds, in the order asked", () => {
    let now = 0;
    const bucket = new TokenBucket(4, 3, () => now);
    const waits = Array.from({ length: 7 }, () => bucket.reserve());
    assert.deepEqual(waits, [0, 0, 0, 250, 500, 750, 1000]);
  });

  it("refills with time, never above the burst", () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    bucket.reserve();
    bucket.reserve();
    assert.equal(bucket.reserve(), 100, "empty: the next token is 100 ms away");
    now = 10_000; // a long quiet time refills to the burst, not to 100 tokens
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 100]);
  });

  it("never makes more than burst + rate * L tokens usable in any stretch L", () => {
    let now = 0;
    const rate = 5;
    const burst = 4;
    const bucket = new TokenBucket(rate, burst, () => now);
    const usableAt: number[] = [];
    // Uneven demand: bursts of asks at irregular times.
    for (const [at, count] of [[0, 20], [700, 3], [2500, 15], [9000, 30], [9100, 2]] as const) {
      now = at;
      for (let i = 0; i < count; i++) usableAt.push(now + bucket.reserve());
    }
    usableAt.sort((a, b) => a - b);
    for (let i = 0; i < usableAt.length; i++) {
      for (let j = i; j < usableAt.length; j++) {
        const stretchSeconds = (usableAt[j]! - usableAt[i]!) / 1000;
        assert.ok(j - i + 1 <= burst + rate * stretchSeconds + 1e-9, `${j - i + 1} tokens within ${stretchSeconds} s`);
      }
    }
  });

  it("take() waits for its token", async () => {
    const bucket = new TokenBucket(20, 1);
    assert.equal(await bucket.take(), 0);
    const started = performance.now();
    const waited = await bucket.take();
    assert.ok(waited > 0, "the second token was not there yet");
    assert.ok(performance.now() - started >= waited - 1, "and take() did wait for it");
  });

  it("refuses a rate or burst that cannot work", () => {
    assert.throws(() => new TokenBucket(0, 1), RangeError);
    assert.throws(() => new TokenBucket(5, 0), RangeError);
    assert.throws(() => new TokenBucket(5, 1.5), RangeError);
  });
});
