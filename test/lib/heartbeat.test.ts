// The pure decision behind /healthz's liveness (lib/heartbeat.ts): a running loop is stuck once its last
// pass, or its start before the first pass, is more than its threshold ago; a loop not running is not.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { judgeLoop, MIN_STUCK_AFTER_MS, stuckAfterMsFor } from "../../lib/heartbeat.ts";

describe("judgeLoop", () => {
  const stuckAfterMs = 60_000;
  const t0 = Date.parse("2024-05-01T00:00:00Z");

  it("is not stuck while passes keep coming, however long it has run", () => {
    const h = judgeLoop({ startedAtMs: t0, lastPassAtMs: t0 + 3_600_000, stuckAfterMs }, t0 + 3_600_000 + 59_000);
    assert.equal(h.stuck, false);
    assert.equal(h.ageMs, 59_000);
    assert.equal(h.lastPassAt?.toISOString(), "2024-05-01T01:00:00.000Z");
  });

  it("is stuck once its last pass is more than the threshold ago, and not at the threshold itself", () => {
    assert.equal(judgeLoop({ startedAtMs: t0, lastPassAtMs: t0 + 1000, stuckAfterMs }, t0 + 1000 + stuckAfterMs).stuck, false);
    const h = judgeLoop({ startedAtMs: t0, lastPassAtMs: t0 + 1000, stuckAfterMs }, t0 + 1000 + stuckAfterMs + 1);
    assert.equal(h.stuck, true);
    assert.equal(h.ageMs, stuckAfterMs + 1);
  });

  it("gives a starting loop the threshold from its start for its first pass", () => {
    const starting = judgeLoop({ startedAtMs: t0, lastPassAtMs: null, stuckAfterMs }, t0 + 30_000);
    assert.deepEqual(starting, { lastPassAt: null, ageMs: 30_000, stuckAfterMs, stuck: false });
    assert.equal(judgeLoop({ startedAtMs: t0, lastPassAtMs: null, stuckAfterMs }, t0 + stuckAfterMs + 1).stuck, true);
  });

  it("never calls a loop that does not run stuck (not started yet, or stopping)", () => {
    assert.deepEqual(judgeLoop({ startedAtMs: null, lastPassAtMs: null, stuckAfterMs }, t0), { lastPassAt: null, ageMs: 0, stuckAfterMs, stuck: false });
    assert.equal(judgeLoop({ startedAtMs: null, lastPassAtMs: t0, stuckAfterMs }, t0 + 10 * stuckAfterMs).stuck, false);
  });

  it("reads a clock that went back as age 0, not as a negative age", () => {
    assert.equal(judgeLoop({ startedAtMs: t0, lastPassAtMs: t0, stuckAfterMs }, t0 - 5000).ageMs, 0);
  });
});

describe("stuckAfterMsFor", () => {
  it("is a minute for the usual poll intervals, and ten intervals for a loop that polls slower", () => {
    assert.equal(MIN_STUCK_AFTER_MS, 60_000);
    assert.equal(stuckAfterMsFor(200), 60_000);
    assert.equal(stuckAfterMsFor(1000), 60_000);
    assert.equal(stuckAfterMsFor(30_000), 300_000);
  });
});
