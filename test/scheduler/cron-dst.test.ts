// Schedule ticks across daylight-saving changes, in America/New_York and Europe/Berlin, for both
// transitions, hourly and daily (README.md, "Scheduling rules"): what each night gives, and that the
// answer never depends on when the scheduler looks (the ticks equal one forward walk of cron-parser's,
// asked from any instant of the night).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CronExpressionParser } from "cron-parser";
import { dataIntervalOf, latestTickAtOrBefore, nextTickAfter, ticksBetween } from "../../scheduler/cron.ts";

const d = (s: string) => new Date(s);
const iso = (ds: Date[]) => ds.map((x) => x.toISOString());
const HOUR = 3600_000;

/** The wall time of `t` in `zone` with its offset, e.g. "01:30 GMT-4" (EDT). */
function wall(zone: string, t: Date): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", timeZoneName: "shortOffset" }).format(t);
}

const TRANSITIONS = [
  { zone: "America/New_York", kind: "spring forward", day: "2026-03-08", changeUtc: "2026-03-08T07:00:00Z" },
  { zone: "America/New_York", kind: "fall back", day: "2026-11-01", changeUtc: "2026-11-01T06:00:00Z" },
  { zone: "Europe/Berlin", kind: "spring forward", day: "2026-03-29", changeUtc: "2026-03-29T01:00:00Z" },
  { zone: "Europe/Berlin", kind: "fall back", day: "2026-10-25", changeUtc: "2026-10-25T01:00:00Z" },
] as const;

/** Every tick of one uninterrupted forward walk of cron-parser, from `from` to `to`. */
function forwardWalk(schedule: string, zone: string, from: Date, to: Date): Date[] {
  const walk = CronExpressionParser.parse(schedule, { currentDate: from, tz: zone });
  const out: Date[] = [];
  for (let t = walk.next().toDate(); t <= to; t = walk.next().toDate()) out.push(t);
  return out;
}

describe("ticks across daylight-saving changes", () => {
  describe("America/New_York", () => {
    const zone = "America/New_York";

    it("spring forward, hourly: 23 ticks that day, one per elapsed hour, none at the missing 02:00", () => {
      const ticks = ticksBetween("0 * * * *", zone, d("2026-03-08T05:00:00Z"), d("2026-03-09T03:59:59Z"), 100);
      assert.equal(ticks.length, 23);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]!.getTime() - ticks[i - 1]!.getTime(), HOUR);
      assert.deepEqual(ticks.slice(0, 4).map((t) => wall(zone, t)), ["00:00 GMT-5", "01:00 GMT-5", "03:00 GMT-4", "04:00 GMT-4"], "EST, then EDT");
    });

    it("fall back, hourly: 25 ticks that day, 01:00 once in EDT and once in EST", () => {
      const ticks = ticksBetween("0 * * * *", zone, d("2026-11-01T04:00:00Z"), d("2026-11-02T04:59:59Z"), 100);
      assert.equal(ticks.length, 25);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]!.getTime() - ticks[i - 1]!.getTime(), HOUR);
      assert.deepEqual(ticks.slice(0, 4).map((t) => wall(zone, t)), ["00:00 GMT-4", "01:00 GMT-4", "01:00 GMT-5", "02:00 GMT-5"], "EDT, then EST");
    });

    it("spring forward, daily at 02:30 (a time that does not exist that night): once, at 03:30 EDT", () => {
      const ticks = ticksBetween("30 2 * * *", zone, d("2026-03-07T00:00:00Z"), d("2026-03-10T00:00:00Z"), 100);
      assert.deepEqual(iso(ticks), ["2026-03-07T07:30:00.000Z", "2026-03-08T07:30:00.000Z", "2026-03-09T06:30:00.000Z"]);
      assert.equal(wall(zone, ticks[1]!), "03:30 GMT-4");
    });

    it("fall back, daily at 01:30 (a time that happens twice that night): once, at the first 01:30 (EDT)", () => {
      const ticks = ticksBetween("30 1 * * *", zone, d("2026-10-31T00:00:00Z"), d("2026-11-03T00:00:00Z"), 100);
      assert.deepEqual(iso(ticks), ["2026-10-31T05:30:00.000Z", "2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"]);
      assert.equal(wall(zone, ticks[1]!), "01:30 GMT-4");
    });

    it("a daily data interval spans the change: 23 hours in spring, 25 in the fall", () => {
      const spring = dataIntervalOf("30 2 * * *", zone, d("2026-03-09T06:30:00Z"));
      assert.deepEqual(spring.start, d("2026-03-08T07:30:00Z"));
      const springBefore = dataIntervalOf("0 0 * * *", zone, d("2026-03-09T04:00:00Z"));
      assert.equal(springBefore.end.getTime() - springBefore.start.getTime(), 23 * HOUR);
      const fall = dataIntervalOf("30 1 * * *", zone, d("2026-11-02T06:30:00Z"));
      assert.deepEqual(fall.start, d("2026-11-01T05:30:00Z"), "the interval starts at the one 01:30 that fired");
      assert.equal(fall.end.getTime() - fall.start.getTime(), 25 * HOUR);
    });
  });

  describe("Europe/Berlin", () => {
    const zone = "Europe/Berlin";

    it("spring forward, hourly: 23 ticks that day, none at the missing 02:00", () => {
      const ticks = ticksBetween("0 * * * *", zone, d("2026-03-28T23:00:00Z"), d("2026-03-29T21:59:59Z"), 100);
      assert.equal(ticks.length, 23);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]!.getTime() - ticks[i - 1]!.getTime(), HOUR);
      assert.deepEqual(ticks.slice(0, 4).map((t) => wall(zone, t)), ["00:00 GMT+1", "01:00 GMT+1", "03:00 GMT+2", "04:00 GMT+2"]);
    });

    it("fall back, hourly: 25 ticks that day, 02:00 once in CEST and once in CET", () => {
      const ticks = ticksBetween("0 * * * *", zone, d("2026-10-24T22:00:00Z"), d("2026-10-25T22:59:59Z"), 100);
      assert.equal(ticks.length, 25);
      for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]!.getTime() - ticks[i - 1]!.getTime(), HOUR);
      assert.deepEqual(ticks.slice(2, 5).map((t) => wall(zone, t)), ["02:00 GMT+2", "02:00 GMT+1", "03:00 GMT+1"]);
    });

    it("spring forward, daily at 02:30: once, at 03:30 CEST", () => {
      const ticks = ticksBetween("30 2 * * *", zone, d("2026-03-28T00:00:00Z"), d("2026-03-31T00:00:00Z"), 100);
      assert.deepEqual(iso(ticks), ["2026-03-28T01:30:00.000Z", "2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"]);
      assert.equal(wall(zone, ticks[1]!), "03:30 GMT+2");
    });

    it("fall back, daily at 02:30: once, at the first 02:30 (CEST)", () => {
      const ticks = ticksBetween("30 2 * * *", zone, d("2026-10-24T00:00:00Z"), d("2026-10-27T00:00:00Z"), 100);
      assert.deepEqual(iso(ticks), ["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
      assert.equal(wall(zone, ticks[1]!), "02:30 GMT+2");
    });
  });

  // The scheduler asks "what is the next tick after t" and "the latest tick at or before t" at whatever
  // instant it runs; cron-parser alone answers differently depending on that instant near a change.
  const SCHEDULES = ["0 * * * *", "30 * * * *", "*/20 * * * *", "0 2 * * *", "30 2 * * *", "30 1 * * *", "0 3 * * *", "30 0-3 * * *", "15 30 2 * * *"];
  for (const tr of TRANSITIONS) {
    it(`${tr.zone} ${tr.kind}: asked at any instant of the night, the answers come from one forward walk`, () => {
      const change = d(tr.changeUtc).getTime();
      const from = new Date(change - 30 * HOUR);
      const to = new Date(change + 30 * HOUR);
      for (const schedule of SCHEDULES) {
        const walk = forwardWalk(schedule, tr.zone, from, to);
        for (let i = 1; i < walk.length; i++) assert.ok(walk[i]! > walk[i - 1]!, `${schedule}: no tick twice`);
        for (let t = change - 4 * HOUR + 7_000; t < change + 6 * HOUR; t += 4 * 60_000 + 13_000) {
          const at = new Date(t);
          const expectedNext = walk.find((w) => w > at)!;
          const expectedLatest = [...walk].reverse().find((w) => w <= at)!;
          assert.deepEqual(nextTickAfter(schedule, tr.zone, at), expectedNext, `${schedule}: next tick after ${at.toISOString()}`);
          assert.deepEqual(latestTickAtOrBefore(schedule, tr.zone, at), expectedLatest, `${schedule}: latest tick at or before ${at.toISOString()}`);
        }
        for (const tick of walk.slice(1, -1)) {
          assert.deepEqual(nextTickAfter(schedule, tr.zone, tick), walk[walk.indexOf(tick) + 1], `${schedule}: the tick after ${tick.toISOString()}`);
        }
      }
    });
  }
});
