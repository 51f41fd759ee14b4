// The overlap policy against a real Postgres, with the scheduler on a clock of the test's: what a tick
// that comes due does while a run of its DAG is active, under "allow", "forbid" and "replace".
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Scheduler } from "../../scheduler/scheduler.ts";
import { createBackfill } from "../../scheduler/backfills.ts";
import { getDag } from "../../scheduler/dags.repository.ts";
import { getRun } from "../../scheduler/runs.repository.ts";
import type { TestDb } from "../support/db.ts";
import { at, createManualRun, definition, endScheduledTasks, manualClock, runsOf, saveDefinition, taskStates, useClockedScheduler } from "./support.ts";

const hour = (h: number) => `scheduled__2026-01-01T${String(h).padStart(2, "0")}:00:00.000Z`;

describe("overlap policy", { timeout: 60_000 }, () => {
  const clock = manualClock("2026-01-01T00:00:00Z");
  let t: TestDb;
  let scheduler: Scheduler;
  useClockedScheduler(clock.read, (started) => ({ t, scheduler } = started));

  const states = async (dagId: string) => (await runsOf(t.db, dagId)).map((r) => [r.run_id, r.state]);
  const post = (dagId: string, over: Parameters<typeof definition>[1]) => saveDefinition(t.db, definition(dagId, over), "2026-01-01T00:00:00Z");
  const finishRunning = async (dagId: string) => {
    for (let i = 0; i < 2; i++) {
      await endScheduledTasks(t.db, dagId);
      await scheduler.tick();
    }
  };

  it("allow (the default) creates every tick's run; maxActiveRuns bounds how many run", async () => {
    await post("ov_allow", { maxActiveRuns: 2 });
    for (const h of [0, 1, 2]) {
      clock.set(`2026-01-01T0${h}:00:00Z`);
      await scheduler.tick();
    }
    assert.deepEqual(await states("ov_allow"), [
      [hour(0), "running"],
      [hour(1), "running"],
      [hour(2), "queued"],
    ]);
    assert.equal((await getDag(t.db, "ov_allow"))!.skippedTicks, 0);
  });

  it("forbid skips a tick while a run is active and records the skip on the DAG; the next tick after it ends runs", async () => {
    await post("ov_forbid", { overlap: "forbid" });
    clock.set("2026-01-01T00:00:00Z");
    await scheduler.tick();
    clock.set("2026-01-01T01:00:00Z");
    await scheduler.tick();
    assert.deepEqual(await states("ov_forbid"), [[hour(0), "running"]], "the 01:00 tick made no run");
    const dag = (await getDag(t.db, "ov_forbid"))!;
    assert.equal(dag.skippedTicks, 1);
    assert.deepEqual(dag.lastSkippedTick?.tick, at("2026-01-01T01:00:00Z"));
    assert.equal(dag.lastSkippedTick?.reason, `overlap is "forbid" and a run was active: ${hour(0)} (running)`);
    assert.deepEqual(dag.nextRunAt, at("2026-01-01T02:00:00Z"), "the schedule moved on past the skipped tick");

    await finishRunning("ov_forbid");
    clock.set("2026-01-01T02:00:00Z");
    await scheduler.tick();
    assert.deepEqual(await states("ov_forbid"), [
      [hour(0), "success"],
      [hour(2), "running"],
    ]);
  });

  it("forbid with catchup: the first missed tick runs, the others, due while it is active, are skipped", async () => {
    await post("ov_forbid_catchup", { overlap: "forbid", catchup: true });
    clock.set("2026-01-01T03:30:00Z");
    await scheduler.tick();
    assert.deepEqual(await states("ov_forbid_catchup"), [[hour(0), "running"]]);
    const dag = (await getDag(t.db, "ov_forbid_catchup"))!;
    assert.equal(dag.skippedTicks, 3);
    assert.deepEqual(dag.lastSkippedTick?.tick, at("2026-01-01T03:00:00Z"));
  });

  it("forbid weighs manual runs, a queued one too, but not a backfill's runs", async () => {
    const def = definition("ov_forbid_kinds", { overlap: "forbid", schedule: "0 * * * *" });
    await saveDefinition(t.db, def, "2026-01-01T00:00:00Z");
    await t.db.transaction((tx) =>
      createBackfill(tx, "ov_forbid_kinds", { from: at("2025-12-31T20:00:00Z"), to: at("2025-12-31T22:00:00Z"), reprocess: "none" }, at("2026-01-01T00:00:00Z")),
    );
    clock.set("2026-01-01T00:00:00Z");
    await scheduler.tick();
    let runs = await runsOf(t.db, "ov_forbid_kinds");
    assert.deepEqual(runs.filter((r) => r.run_type === "scheduled").map((r) => r.run_id), [hour(0)], "the backfill's three active runs did not hold the tick back");
    await finishRunning("ov_forbid_kinds");
    await t.db.query(`UPDATE dag_runs SET state = 'success', ended_at = now() WHERE dag_id = 'ov_forbid_kinds' AND state IN ('queued', 'running')`);
    await createManualRun(t.db, def, "manual-1", "2026-01-01T00:30:00Z");
    clock.set("2026-01-01T01:00:00Z");
    await scheduler.tick();
    runs = await runsOf(t.db, "ov_forbid_kinds");
    assert.ok(!runs.some((r) => r.run_id === hour(1)), "the manual run, still queued, held the 01:00 tick back");
    assert.equal((await getDag(t.db, "ov_forbid_kinds"))!.lastSkippedTick!.reason, `overlap is "forbid" and a run was active: manual-1 (queued)`);
  });

  it("replace cancels the active run (its tasks too) and starts the tick's run; the cancelled run names its replacement", async () => {
    await post("ov_replace", { overlap: "replace" });
    clock.set("2026-01-01T00:00:00Z");
    await scheduler.tick();
    assert.deepEqual(await taskStates(t.db, "ov_replace", hour(0)), { a: "scheduled", b: "pending" });
    await t.db.query(
      `UPDATE task_instances ti SET state = 'running' FROM dag_runs r WHERE r.id = ti.run_pk AND r.run_id = $1 AND ti.task_id = 'a'`,
      [hour(0)],
    );
    clock.set("2026-01-01T01:00:00Z");
    await scheduler.tick();
    assert.deepEqual(await states("ov_replace"), [
      [hour(0), "cancelled"],
      [hour(1), "running"],
    ]);
    assert.deepEqual(await taskStates(t.db, "ov_replace", hour(0)), { a: "cancelled", b: "cancelled" }, "the executor stops a cancelled task's Pod");
    const replaced = (await getRun(t.db, "ov_replace", hour(0)))!;
    assert.equal(replaced.replacedBy, hour(1));
    assert.ok(replaced.endedAt, "the cancelled run has ended");
    assert.equal((await getRun(t.db, "ov_replace", hour(1)))!.replacedBy, null);
  });

  it("replace with catchup: each missed tick replaces the one before it, so the latest runs", async () => {
    await post("ov_replace_catchup", { overlap: "replace", catchup: true });
    clock.set("2026-01-01T02:30:00Z");
    await scheduler.tick();
    const runs = await runsOf(t.db, "ov_replace_catchup");
    assert.deepEqual(
      runs.map((r) => [r.run_id, r.state, r.replaced_by]),
      [
        [hour(0), "cancelled", hour(1)],
        [hour(1), "cancelled", hour(2)],
        [hour(2), "running", null],
      ],
    );
  });
});
