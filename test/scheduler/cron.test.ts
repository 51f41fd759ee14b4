import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dataIntervalOf, dueTicks, firstTickAtOrAfter, initialNextRunAt, latestTickAtOrBefore, nextTickAfter, ticksBetween } from "../../scheduler/cron.ts";

const d = (s: string) => new Date(s);

describe("cron ticks", () => {
  it("honours the DAG's timezone (02:00 in Seoul is 17:00 UTC the day before)", () => {
    assert.deepEqual(nextTickAfter("0 2 * * *", "Asia/Seoul", d("2026-01-01T00:00:00Z")), d("2026-01-01T17:00:00Z"));
  });

  it("counts a tick exactly at the start as at-or-after", () => {
    assert.deepEqual(firstTickAtOrAfter("@hourly", "UTC", d("2026-01-01T05:00:00Z")), d("2026-01-01T05:00:00Z"));
    assert.deepEqual(latestTickAtOrBefore("@hourly", "UTC", d("2026-01-01T05:00:00Z")), d("2026-01-01T05:00:00Z"));
  });

  it("with catchup owes every missed tick, oldest first, and waits for the next", () => {
    const due = dueTicks("@hourly", "UTC", d("2026-01-01T01:00:00Z"), d("2026-01-01T03:30:00Z"), true);
    assert.deepEqual(due.ticks, [d("2026-01-01T01:00:00Z"), d("2026-01-01T02:00:00Z"), d("2026-01-01T03:00:00Z")]);
    assert.deepEqual(due.nextRunAt, d("2026-01-01T04:00:00Z"));
  });

  it("bounds catchup per call", () => {
    const due = dueTicks("* * * * *", "UTC", d("2026-01-01T00:00:00Z"), d("2026-01-02T00:00:00Z"), true, 10);
    assert.equal(due.ticks.length, 10);
    assert.deepEqual(due.nextRunAt, d("2026-01-01T00:10:00Z"));
  });

  it("without catchup owes only the latest tick", () => {
    const due = dueTicks("@hourly", "UTC", d("2026-01-01T01:00:00Z"), d("2026-01-01T03:30:00Z"), false);
    assert.deepEqual(due.ticks, [d("2026-01-01T03:00:00Z")]);
    assert.deepEqual(due.nextRunAt, d("2026-01-01T04:00:00Z"));
  });

  it("starts a new schedule at its start date with catchup, or from now without", () => {
    const now = d("2026-01-10T12:30:00Z");
    assert.deepEqual(initialNextRunAt("@daily", "UTC", d("2026-01-01T00:00:00Z"), true, now), d("2026-01-01T00:00:00Z"));
    assert.deepEqual(initialNextRunAt("@daily", "UTC", d("2026-01-01T00:00:00Z"), false, now), d("2026-01-11T00:00:00Z"));
    assert.deepEqual(initialNextRunAt("@daily", "UTC", d("2026-02-01T00:00:00Z"), false, now), d("2026-02-01T00:00:00Z"));
  });

  it("owes no tick after the DAG's end, and has no next run once past it", () => {
    const end = d("2026-01-01T02:30:00Z");
    const withCatchup = dueTicks("@hourly", "UTC", d("2026-01-01T01:00:00Z"), d("2026-01-01T05:30:00Z"), true, 100, end);
    assert.deepEqual(withCatchup, { ticks: [d("2026-01-01T01:00:00Z"), d("2026-01-01T02:00:00Z")], nextRunAt: null });
    const without = dueTicks("@hourly", "UTC", d("2026-01-01T01:00:00Z"), d("2026-01-01T05:30:00Z"), false, 100, end);
    assert.deepEqual(without, { ticks: [d("2026-01-01T02:00:00Z")], nextRunAt: null });
    const before = dueTicks("@hourly", "UTC", d("2026-01-01T01:00:00Z"), d("2026-01-01T01:30:00Z"), false, 100, end);
    assert.deepEqual(before, { ticks: [d("2026-01-01T01:00:00Z")], nextRunAt: d("2026-01-01T02:00:00Z") });
    assert.equal(initialNextRunAt("@daily", "UTC", null, false, d("2026-01-10T12:30:00Z"), d("2026-01-10T23:00:00Z")), null);
  });

  it("lists the ticks of a range, both ends included, and says when there are more than asked", () => {
    assert.deepEqual(ticksBetween("@hourly", "UTC", d("2026-01-01T01:00:00Z"), d("2026-01-01T03:00:00Z"), 10), [
      d("2026-01-01T01:00:00Z"),
      d("2026-01-01T02:00:00Z"),
      d("2026-01-01T03:00:00Z"),
    ]);
    assert.equal(ticksBetween("@hourly", "UTC", d("2026-01-01T00:00:00Z"), d("2026-01-02T00:00:00Z"), 5).length, 6, "limit + 1");
  });

  it("keeps the seconds of a 6-field schedule", () => {
    assert.deepEqual(nextTickAfter("*/15 * * * * *", "UTC", d("2026-01-01T00:00:00Z")), d("2026-01-01T00:00:15Z"));
    assert.deepEqual(nextTickAfter("30 0 2 * * *", "Asia/Seoul", d("2026-01-01T00:00:00Z")), d("2026-01-01T17:00:30Z"));
    assert.deepEqual(dataIntervalOf("*/15 * * * * *", "UTC", d("2026-01-01T00:00:45Z")), { start: d("2026-01-01T00:00:30Z"), end: d("2026-01-01T00:00:45Z") });
  });
});
