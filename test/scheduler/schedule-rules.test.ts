// The scheduler's dates against a real Postgres, on a clock of the test's: a DAG's end, each run's data
// interval, schedules with seconds, and daylight-saving nights seen by a scheduler that looks at any
// moment (README.md, "Scheduling rules").
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Scheduler } from "../../scheduler/scheduler.ts";
import { getDag } from "../../scheduler/dags.repository.ts";
import type { TestDb } from "../support/db.ts";
import { at, createManualRun, definition, manualClock, runsOf, saveDefinition, useClockedScheduler } from "./support.ts";

describe("schedule rules", { timeout: 60_000 }, () => {
  const clock = manualClock("2026-01-01T00:00:00Z");
  let t: TestDb;
  let scheduler: Scheduler;
  useClockedScheduler(clock.read, (started) => ({ t, scheduler } = started));

  const post = (dagId: string, over: Parameters<typeof definition>[1], postedAt = "2026-01-01T00:00:00Z") =>
    saveDefinition(t.db, definition(dagId, { maxActiveRuns: 1000, ...over }), postedAt);
  const ids = async (dagId: string) => (await runsOf(t.db, dagId)).map((r) => r.run_id.replace(/^scheduled__/, ""));

  it("the scheduler reads the time from its clock", async () => {
    await post("rule_clock", {});
    clock.set("2026-01-01T02:10:00Z");
    await scheduler.tick();
    assert.deepEqual(await ids("rule_clock"), ["2026-01-01T02:00:00.000Z"]);
  });

  it("makes no scheduled run after the DAG's end, with catchup or without, and then has no next run", async () => {
    await post("rule_end_catchup", { catchup: true, end: "2026-01-01T02:30:00.000Z" });
    await post("rule_end", { catchup: false, end: "2026-01-01T02:30:00.000Z" });
    clock.set("2026-01-01T01:30:00Z");
    await scheduler.tick();
    assert.deepEqual((await getDag(t.db, "rule_end"))!.nextRunAt, at("2026-01-01T02:00:00Z"));
    clock.set("2026-01-01T06:00:00Z");
    await scheduler.tick();
    assert.deepEqual(await ids("rule_end_catchup"), ["2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z"]);
    assert.deepEqual(await ids("rule_end"), ["2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z"], "the last tick before the end, not the latest tick");
    for (const dagId of ["rule_end", "rule_end_catchup"]) assert.equal((await getDag(t.db, dagId))!.nextRunAt, null);
    await post("rule_end_past", { end: "2025-12-31T00:00:00.000Z", start: "2025-12-01T00:00:00.000Z" }, "2026-01-01T05:00:00Z");
    assert.equal((await getDag(t.db, "rule_end_past"))!.nextRunAt, null, "posted after its end: never scheduled");
  });

  it("gives a scheduled run the data interval from the previous tick to its own; a manual run its logical date for both", async () => {
    await post("rule_interval", { schedule: "0 */6 * * *", catchup: true });
    clock.set("2026-01-01T12:00:00Z");
    await scheduler.tick();
    const runs = await runsOf(t.db, "rule_interval");
    assert.deepEqual(
      runs.map((r) => [r.data_interval_start.toISOString(), r.data_interval_end.toISOString()]),
      [
        ["2025-12-31T18:00:00.000Z", "2026-01-01T00:00:00.000Z"],
        ["2026-01-01T00:00:00.000Z", "2026-01-01T06:00:00.000Z"],
        ["2026-01-01T06:00:00.000Z", "2026-01-01T12:00:00.000Z"],
      ],
    );
    const def = definition("rule_interval", { schedule: "0 */6 * * *" });
    const manual = await createManualRun(t.db, def, "m1", "2026-01-01T07:15:00Z");
    assert.deepEqual([manual!.dataIntervalStart, manual!.dataIntervalEnd], [at("2026-01-01T07:15:00Z"), at("2026-01-01T07:15:00Z")]);
  });

  it("fires a 6-field schedule at its seconds", async () => {
    await post("rule_seconds", { schedule: "*/15 * * * * *", catchup: false }, "2026-01-01T00:00:01Z");
    assert.deepEqual((await getDag(t.db, "rule_seconds"))!.nextRunAt, at("2026-01-01T00:00:15Z"));
    clock.set("2026-01-01T00:00:14.999Z");
    await scheduler.tick();
    assert.deepEqual(await ids("rule_seconds"), [], "not a millisecond early");
    clock.set("2026-01-01T00:00:15Z");
    await scheduler.tick();
    clock.set("2026-01-01T00:00:30.200Z");
    await scheduler.tick();
    assert.deepEqual(await ids("rule_seconds"), ["2026-01-01T00:00:15.000Z", "2026-01-01T00:00:30.000Z"]);
    const [second] = (await runsOf(t.db, "rule_seconds")).slice(1);
    assert.deepEqual(second!.data_interval_start, at("2026-01-01T00:00:15Z"));
  });

  // A scheduler passes at whatever moment it is woken; these look every 7 minutes through the night.
  const night = async (dagId: string, from: string, to: string) => {
    for (let ms = at(from).getTime(); ms <= at(to).getTime(); ms += 7 * 60_000) {
      clock.set(new Date(ms).toISOString());
      await scheduler.tick();
    }
  };

  it("America/New_York fall back: a daily 01:30 run happens once, at the first 01:30, however often the scheduler looks", async () => {
    await post("rule_ny_fall", { schedule: "30 1 * * *", timezone: "America/New_York" }, "2026-10-31T12:00:00Z");
    await night("rule_ny_fall", "2026-11-01T04:00:00Z", "2026-11-01T09:00:00Z");
    const runs = await runsOf(t.db, "rule_ny_fall");
    assert.deepEqual(runs.map((r) => r.run_id), ["scheduled__2026-11-01T05:30:00.000Z"]);
    assert.deepEqual((await getDag(t.db, "rule_ny_fall"))!.nextRunAt, at("2026-11-02T06:30:00Z"));

    // A scheduler that was down and first looks between the two 01:30s (01:10 EST) runs the missed tick
    // and does not take the second 01:30 for the next one.
    await post("rule_ny_fall_late", { schedule: "30 1 * * *", timezone: "America/New_York" }, "2026-10-31T12:00:00Z");
    await night("rule_ny_fall_late", "2026-11-01T06:10:00Z", "2026-11-01T09:00:00Z");
    assert.deepEqual(await ids("rule_ny_fall_late"), ["2026-11-01T05:30:00.000Z"]);
  });

  it("America/New_York spring forward: a daily 02:30 run happens once, at 03:30 EDT", async () => {
    await post("rule_ny_spring", { schedule: "30 2 * * *", timezone: "America/New_York" }, "2026-03-07T12:00:00Z");
    await night("rule_ny_spring", "2026-03-08T05:00:00Z", "2026-03-08T10:00:00Z");
    assert.deepEqual(await ids("rule_ny_spring"), ["2026-03-08T07:30:00.000Z"]);

    // Posted at 03:10 EDT, after the jump but before the moved 02:30: that night's run is still to come.
    await post("rule_ny_spring_posted", { schedule: "30 2 * * *", timezone: "America/New_York" }, "2026-03-08T07:10:00Z");
    assert.deepEqual((await getDag(t.db, "rule_ny_spring_posted"))!.nextRunAt, at("2026-03-08T07:30:00Z"));
  });

  it("Europe/Berlin: an hourly schedule runs once per elapsed hour through both nights, each from the previous hour", async () => {
    await post("rule_berlin_fall", { schedule: "0 * * * *", timezone: "Europe/Berlin" }, "2026-10-24T23:30:00Z");
    await night("rule_berlin_fall", "2026-10-24T23:30:00Z", "2026-10-25T03:10:00Z");
    const fall = await runsOf(t.db, "rule_berlin_fall");
    assert.deepEqual(
      fall.map((r) => r.logical_date.toISOString()),
      ["2026-10-25T00:00:00.000Z", "2026-10-25T01:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"],
      "02:00 CEST, 02:00 CET, 03:00 CET, 04:00 CET",
    );
    for (const r of fall) assert.equal(r.logical_date.getTime() - r.data_interval_start.getTime(), 3600_000);

    await post("rule_berlin_spring", { schedule: "0 * * * *", timezone: "Europe/Berlin" }, "2026-03-28T23:30:00Z");
    await night("rule_berlin_spring", "2026-03-28T23:30:00Z", "2026-03-29T02:10:00Z");
    const spring = await runsOf(t.db, "rule_berlin_spring");
    assert.deepEqual(
      spring.map((r) => r.logical_date.toISOString()),
      ["2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z"],
      "01:00 CET, 03:00 CEST, 04:00 CEST",
    );
    for (const r of spring) assert.equal(r.logical_date.getTime() - r.data_interval_start.getTime(), 3600_000);
  });

  it("Europe/Berlin: a daily 02:30 schedule runs once on each night, at 03:30 CEST in spring and the first 02:30 in the fall", async () => {
    await post("rule_berlin_daily", { schedule: "30 2 * * *", timezone: "Europe/Berlin", catchup: true, start: "2026-03-28T00:00:00.000Z" }, "2026-03-28T00:00:00Z");
    await night("rule_berlin_daily", "2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z");
    await night("rule_berlin_daily", "2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z");
    const runs = (await ids("rule_berlin_daily")).filter((id) => id.startsWith("2026-03-2") || id.startsWith("2026-10-2"));
    assert.ok(runs.includes("2026-03-29T01:30:00.000Z"), "the spring night's run, at 03:30 CEST");
    assert.ok(runs.includes("2026-10-25T00:30:00.000Z"), "the fall night's run, at 02:30 CEST");
    assert.ok(!runs.includes("2026-10-25T01:30:00.000Z"), "not again at 02:30 CET");
    const all = await ids("rule_berlin_daily");
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.length, 212, "one run per day from 2026-03-28 to 2026-10-25 (4 + 30 + 31 + 30 + 31 + 31 + 30 + 25 days): none skipped or doubled");
  });
});
