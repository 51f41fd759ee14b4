// Exponential backoff with full jitter, with the random source pinned: the window doubles per retry up
// to its cap, and the wait is drawn from the whole window.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { backoffCeilingMs, fullJitterBackoffMs } from "../../lib/backoff.ts";

const policy = { baseMs: 500, capMs: 30_000 };

describe("backoff with full jitter", () => {
  it("doubles its window per retry, up to the cap", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 50, 5000].map((n) => backoffCeilingMs(n, policy)),
      [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000],
    );
    assert.equal(backoffCeilingMs(0, policy), 500, "an attempt below 1 counts as the first");
  });

  it("draws the wait from the whole window: the same draw waits longer on each retry", () => {
    const waits = (r: number) => [1, 2, 3, 4, 5, 6, 7, 8].map((n) => fullJitterBackoffMs(n, policy, () => r));
    assert.deepEqual(waits(0.5), [250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
    assert.deepEqual(waits(0), [0, 0, 0, 0, 0, 0, 0, 0], "full jitter may retry at once");
    assert.deepEqual(waits(0.999_999), [499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999], "never the window's end");
  });

  it("spreads clients that failed together over the window", () => {
    // A fixed sequence stands in for Math.random: ten clients on their third retry.
    const draws = [0.05, 0.93, 0.41, 0.67, 0.12, 0.88, 0.29, 0.55, 0.74, 0.02];
    let i = 0;
    const waits = draws.map(() => fullJitterBackoffMs(3, policy, () => draws[i++]!));
    assert.equal(new Set(waits).size, waits.length, "no two come back together");
    for (const w of waits) assert.ok(w >= 0 && w < 2000, `${w} within [0, 2000)`);
    assert.ok(Math.max(...waits) - Math.min(...waits) > 1000, "over most of the window");
  });
});
