// Backfills against a real Postgres, with the scheduler on a clock of the test's: the runs a backfill
// makes (as the schedule would have), the order and bound it starts them in, what it does with ticks
// that have runs (reprocess none, failed, all), cancelling, and the ranges it refuses.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Scheduler } from "../../scheduler/scheduler.ts";
import { backfillTicks, cancelBackfill, createBackfill, MAX_BACKFILL_TICKS, type BackfillRequest } from "../../scheduler/backfills.ts";
import { createRun } from "../../scheduler/runs.repository.ts";
import type { TestDb } from "../support/db.ts";
import { at, createManualRun, definition, endScheduledTasks, manualClock, runsOf, saveDefinition, taskStates, useClockedScheduler } from "./support.ts";

describe("backfills", { timeout: 60_000 }, () => {
  const clock = manualClock("2026-02-01T00:00:00Z");
  let t: TestDb;
  let scheduler: Scheduler;
  useClockedScheduler(clock.read, (started) => ({ t, scheduler } = started));

  const backfill = (dagId: string, request: Omit<Partial<BackfillRequest>, "from" | "to"> & { from: string; to: string }) =>
    t.db.transaction((tx) =>
      createBackfill(tx, dagId, { reprocess: "none", ...request, from: at(request.from), to: at(request.to) }, clock.now),
    );
  const created = async (dagId: string, request: Omit<Partial<BackfillRequest>, "from" | "to"> & { from: string; to: string }) => {
    const outcome = await backfill(dagId, request);
    assert.equal(outcome.kind, "created", JSON.stringify(outcome));
    return outcome as Extract<typeof outcome, { kind: "created" }>;
  };
  // The schedule of these DAGs ended before they were posted: the runs in them are the backfills' own
  // (a backfill covers the range it is given, whatever the DAG's start and end).
  const ENDED = { end: "2026-01-15T00:00:00.000Z" };
  const statesOf = async (dagId: string) => Object.fromEntries((await runsOf(t.db, dagId)).map((r) => [r.run_id, r.state]));

  it("makes a run per tick in [from, to], each as the schedule would have made it, data interval included", async () => {
    const def = definition("bf_made", { schedule: "0 6 * * *", timezone: "Europe/Berlin", params: { region: "eu" }, ...ENDED });
    await saveDefinition(t.db, def, "2026-01-20T00:00:00Z");
    const out = await created("bf_made", { from: "2026-01-01T00:00:00Z", to: "2026-01-03T05:00:00Z" });
    const ids = ["scheduled__2026-01-01T05:00:00.000Z", "scheduled__2026-01-02T05:00:00.000Z", "scheduled__2026-01-03T05:00:00.000Z"];
    assert.deepEqual(out.runs.map((r) => [r.runId, r.action]), ids.map((id) => [id, "created"]));
    const runs = await runsOf(t.db, "bf_made");
    assert.deepEqual(runs.map((r) => r.run_id), ids);
    for (const r of runs) {
      assert.equal(r.run_type, "backfill");
      assert.equal(r.state, "queued");
      assert.equal(r.backfill_id, out.backfill.id);
      assert.equal(r.data_interval_end.getTime(), r.logical_date.getTime());
      assert.equal(r.logical_date.getTime() - r.data_interval_start.getTime(), 24 * 3600_000, "from the previous tick");
    }
    assert.deepEqual(runs[0]!.data_interval_start, at("2025-12-31T05:00:00Z"), "the first interval starts at the tick before the range");
    const [row] = await t.db.query<{ params: unknown; n: number }>(
      `SELECT r.params, (SELECT count(*)::int FROM task_instances ti WHERE ti.run_pk = r.id AND ti.state = 'pending') AS n FROM dag_runs r WHERE r.run_id = $1`,
      [ids[0]],
    );
    assert.deepEqual(row, { params: { region: "eu" }, n: 2 }, "the DAG's params, every task pending");
    assert.equal(out.backfill.maxActiveRuns, def.maxActiveRuns, "maxActiveRuns defaults to the DAG's");
  });

  it("starts its runs oldest first within its own maxActiveRuns, neither counted in nor held up by the DAG's", async () => {
    const def = definition("bf_order", { schedule: "@daily", maxActiveRuns: 1, ...ENDED });
    await saveDefinition(t.db, def, "2026-01-20T00:00:00Z");
    await createManualRun(t.db, def, "manual-1", "2026-01-30T00:00:00Z");
    await scheduler.tick();
    assert.equal((await statesOf("bf_order"))["manual-1"], "running", "the manual run takes the DAG's one slot");

    await created("bf_order", { from: "2026-01-01T00:00:00Z", to: "2026-01-05T00:00:00Z", maxActiveRuns: 2 });
    await scheduler.tick();
    const day = (n: number) => `scheduled__2026-01-0${n}T00:00:00.000Z`;
    assert.deepEqual(await statesOf("bf_order"), {
      [day(1)]: "running",
      [day(2)]: "running",
      [day(3)]: "queued",
      [day(4)]: "queued",
      [day(5)]: "queued",
      "manual-1": "running",
    });
    // The two running backfill runs finish (both tasks, one after the other): the next two oldest start.
    for (let i = 0; i < 2; i++) {
      await endScheduledTasks(t.db, "bf_order", "success", day(1));
      await endScheduledTasks(t.db, "bf_order", "success", day(2));
      await scheduler.tick();
    }
    await scheduler.tick();
    const states = await statesOf("bf_order");
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => states[day(n)]), ["success", "success", "running", "running", "queued"]);
    assert.equal(states["manual-1"], "running");
    await createManualRun(t.db, def, "manual-2", "2026-01-31T00:00:00Z");
    await scheduler.tick();
    assert.equal((await statesOf("bf_order"))["manual-2"], "queued", "the DAG's own maxActiveRuns still holds for its own runs");
  });

  it("leaves a tick's run alone (none), clears its failed tasks and what follows them (failed), or clears it whole (all)", async () => {
    const base = definition("bf_reprocess", { schedule: "@daily", ...ENDED });
    const t0 = base.tasks[0]!;
    const def = {
      ...base,
      tasks: [
        { ...t0, taskId: "a" },
        { ...t0, taskId: "b", dependsOn: ["a"] },
        { ...t0, taskId: "c" },
      ],
    };
    await saveDefinition(t.db, def, "2026-01-20T00:00:00Z");
    const day = (n: number) => `scheduled__2026-01-0${n}T00:00:00.000Z`;
    // Day 1 succeeded, day 2 failed (a failed, so b upstream_failed; c succeeded), day 3 is running.
    await t.db.transaction(async (tx) => {
      for (const n of [1, 2, 3]) {
        const logicalDate = at(`2026-01-0${n}T00:00:00Z`);
        await createRun(tx, { dagId: "bf_reprocess", runId: day(n), runType: "scheduled", logicalDate, params: {}, dagVersion: 1, definition: def });
      }
      const set = (runId: string, runState: string, tasks: Record<string, string>) =>
        Promise.all([
          tx.query(`UPDATE dag_runs SET state = $2, started_at = now(), ended_at = CASE WHEN $2 = 'running' THEN NULL ELSE now() END WHERE run_id = $1`, [runId, runState]),
          ...Object.entries(tasks).map(([taskId, s]) =>
            tx.query(`UPDATE task_instances SET state = $3, try_number = 1 FROM dag_runs r WHERE r.id = run_pk AND r.run_id = $1 AND task_id = $2`, [runId, taskId, s]),
          ),
        ]);
      await set(day(1), "success", { a: "success", b: "success", c: "success" });
      await set(day(2), "failed", { a: "failed", b: "upstream_failed", c: "success" });
      await set(day(3), "running", { a: "running", b: "pending", c: "running" });
    });
    const range = { from: "2026-01-01T00:00:00Z", to: "2026-01-04T00:00:00Z" };

    const none = await created("bf_reprocess", range);
    assert.deepEqual(none.runs.map((r) => [r.runId, r.action]), [[day(4), "created"]]);
    assert.deepEqual(none.leftAlone.map((r) => [r.runId, r.reason]), [
      [day(1), "the tick has a run"],
      [day(2), "the tick has a run"],
      [day(3), "the run is running"],
    ]);
    assert.deepEqual(await taskStates(t.db, "bf_reprocess", day(2)), { a: "failed", b: "upstream_failed", c: "success" });

    const failed = await created("bf_reprocess", { ...range, reprocess: "failed" });
    assert.deepEqual(failed.runs.map((r) => [r.runId, r.action]), [[day(2), "reprocessed"]]);
    assert.deepEqual(failed.cleared.map((c) => [c.runId, c.taskIds]), [[day(2), ["a", "b"]]]);
    assert.deepEqual(failed.leftAlone.map((r) => [r.runId, r.reason]), [
      [day(1), "the run is success, not failed"],
      [day(3), "the run is running"],
      [day(4), "the run is queued"],
    ]);
    assert.deepEqual(await taskStates(t.db, "bf_reprocess", day(2)), { a: "pending", b: "pending", c: "success" }, "c, which succeeded, is kept");
    let runs = await runsOf(t.db, "bf_reprocess");
    const day2 = runs.find((r) => r.run_id === day(2))!;
    assert.equal(day2.state, "queued");
    assert.equal(day2.backfill_id, failed.backfill.id, "the reprocessed run now belongs to the backfill that cleared it");
    assert.equal(day2.run_type, "scheduled", "and keeps what made it");

    await scheduler.tick();
    await endScheduledTasks(t.db, "bf_reprocess", "success");
    await scheduler.tick();
    await endScheduledTasks(t.db, "bf_reprocess", "success");
    await scheduler.tick();
    runs = await runsOf(t.db, "bf_reprocess");
    const all = await created("bf_reprocess", { ...range, reprocess: "all" });
    const finishedBefore = runs.filter((r) => ["success", "failed"].includes(r.state)).map((r) => r.run_id);
    assert.deepEqual(all.runs.map((r) => r.runId), finishedBefore, "every finished run of the range is cleared");
    for (const c of all.cleared) assert.deepEqual(c.taskIds, ["a", "b", "c"]);
    assert.deepEqual(await taskStates(t.db, "bf_reprocess", day(1)), { a: "pending", b: "pending", c: "pending" });
  });

  it("a tick a backfill ran is not made again by the schedule", async () => {
    const def = definition("bf_then_schedule", { schedule: "@hourly", catchup: true, start: "2026-01-31T20:00:00.000Z" });
    await saveDefinition(t.db, def, "2026-01-31T19:00:00Z");
    await created("bf_then_schedule", { from: "2026-01-31T21:00:00Z", to: "2026-01-31T22:00:00Z" });
    await scheduler.tick(at("2026-01-31T23:30:00Z"));
    const runs = await runsOf(t.db, "bf_then_schedule");
    assert.deepEqual(
      runs.map((r) => [r.run_id.slice("scheduled__2026-01-31T".length), r.run_type]),
      [
        ["20:00:00.000Z", "scheduled"],
        ["21:00:00.000Z", "backfill"],
        ["22:00:00.000Z", "backfill"],
        ["23:00:00.000Z", "scheduled"],
      ],
    );
  });

  it("cancelling stops its runs: queued ones never start, running ones are cancelled; a finished backfill cannot be cancelled", async () => {
    const def = definition("bf_cancel", { schedule: "@daily", ...ENDED });
    await saveDefinition(t.db, def, "2026-01-20T00:00:00Z");
    const out = await created("bf_cancel", { from: "2026-01-01T00:00:00Z", to: "2026-01-04T00:00:00Z", maxActiveRuns: 1 });
    await scheduler.tick();
    const cancel = () => t.db.transaction((tx) => cancelBackfill(tx, "bf_cancel", out.backfill.id));
    const cancelled = await cancel();
    assert.equal(cancelled.kind, "cancelled");
    assert.deepEqual(
      (cancelled as Extract<typeof cancelled, { kind: "cancelled" }>).cancelledRuns.map((r) => r.state),
      ["running", "queued", "queued", "queued"],
    );
    await scheduler.tick();
    const runs = await runsOf(t.db, "bf_cancel");
    assert.deepEqual(runs.map((r) => r.state), ["cancelled", "cancelled", "cancelled", "cancelled"]);
    const [started] = await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dag_runs WHERE dag_id = 'bf_cancel' AND started_at IS NOT NULL`);
    assert.equal(started!.n, 1, "only the run that was running had started");
    assert.deepEqual(await taskStates(t.db, "bf_cancel", runs[0]!.run_id), { a: "cancelled", b: "cancelled" });
    const again = await cancel();
    assert.equal(again.kind, "finished");
    assert.equal((await t.db.transaction((tx) => cancelBackfill(tx, "bf_cancel", "999999"))).kind, "not_found");

    const done = await created("bf_cancel", { from: "2026-01-10T00:00:00Z", to: "2026-01-10T00:00:00Z" });
    await t.db.query(`UPDATE dag_runs SET state = 'success', ended_at = now() WHERE backfill_id = $1`, [done.backfill.id]);
    const finished = await t.db.transaction((tx) => cancelBackfill(tx, "bf_cancel", done.backfill.id));
    assert.equal(finished.kind, "finished");
    assert.match((finished as { message: string }).message, /completed/);
  });

  it("refuses a manual-only DAG, a reversed or empty range, ticks yet to come and more than 10,000 ticks", async () => {
    const now = at("2026-02-01T00:00:00Z");
    const refusal = (over: Parameters<typeof definition>[1], from: string, to: string) => {
      const r = backfillTicks(definition("x", over), at(from), at(to), now);
      return r.ok ? "ok" : r.refusal.code;
    };
    assert.equal(refusal({ schedule: null }, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"), "backfill_manual_dag");
    assert.equal(refusal({}, "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"), "backfill_reversed_range");
    assert.equal(refusal({ schedule: "@daily" }, "2026-01-01T01:00:00Z", "2026-01-01T23:00:00Z"), "backfill_empty_range");
    assert.equal(refusal({}, "2026-01-31T00:00:00Z", "2026-02-01T01:00:00Z"), "backfill_in_future");
    assert.equal(refusal({ schedule: "* * * * *" }, "2026-01-01T00:00:00Z", "2026-01-07T22:39:00Z"), "ok", "exactly 10,000 ticks");
    assert.equal(refusal({ schedule: "* * * * *" }, "2026-01-01T00:00:00Z", "2026-01-07T22:40:00Z"), "backfill_too_many_ticks");
    assert.equal(MAX_BACKFILL_TICKS, 10_000);
    const single = backfillTicks(definition("x"), at("2026-01-01T05:00:00Z"), at("2026-01-01T05:00:00Z"), now);
    assert.deepEqual(single.ok && single.ticks, [at("2026-01-01T05:00:00Z")], "a range of one instant that is a tick holds that tick");
    assert.equal((await backfill("no_such_dag", { from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z" })).kind, "dag_not_found");
  });
});
