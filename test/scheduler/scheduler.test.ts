// The scheduler against a real Postgres, with the clock passed in: cron runs (with and without
// catchup), maxActiveRuns, pausing, and two schedulers working on one database at once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Scheduler } from "../../scheduler/scheduler.ts";
import { saveDagVersion, setPaused } from "../../scheduler/dags.repository.ts";
import { createRun } from "../../scheduler/runs.repository.ts";
import { createWakeup, type Wakeup } from "../../db/wakeup.ts";
import { silentLogger } from "../../lib/logger.ts";
import type { DagDefinition } from "../../sdk/definition.ts";
import { createTestDb, type TestDb } from "../support/db.ts";

function definition(dagId: string, over: Partial<DagDefinition> = {}): DagDefinition {
  const t = { retries: 0, retryDelayMs: 0, retryBackoff: "fixed" as const, timeoutMs: null, triggerRule: "all_success" as const };
  return {
    dagId,
    schedule: "@hourly",
    timezone: "UTC",
    start: "2026-01-01T00:00:00.000Z",
    catchup: true,
    maxActiveRuns: 2,
    params: { p: 1 },
    description: null,
    tags: [],
    tasks: [
      { ...t, taskId: "a", kind: "pod", pod: { image: "x" }, dependsOn: [] },
      { ...t, taskId: "b", kind: "pod", pod: { image: "x" }, dependsOn: ["a"] },
    ],
    ...over,
  };
}

const at = (s: string) => new Date(s);

describe("scheduler", { timeout: 60_000 }, () => {
  let t: TestDb;
  let wakeup: Wakeup;
  let scheduler: Scheduler;
  before(async () => {
    t = await createTestDb();
    wakeup = await createWakeup(t.db);
    scheduler = new Scheduler(t.db, wakeup, silentLogger);
  });
  after(async () => {
    await wakeup?.close();
    await t?.close();
  });

  const runs = (dagId: string) =>
    t.db.query<{ run_id: string; state: string }>(`SELECT run_id, state FROM dag_runs WHERE dag_id = $1 ORDER BY logical_date`, [dagId]);
  const tasks = (dagId: string, runId: string) =>
    t.db.query<{ task_id: string; state: string }>(
      `SELECT ti.task_id, ti.state FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = $1 AND r.run_id = $2 ORDER BY ti.task_id`,
      [dagId, runId],
    );
  // What the executor does when a try ends: the task moves on and its run asks to be planned again.
  const succeed = async (dagId: string, taskId: string) => {
    await t.db.query(`UPDATE dag_runs SET plan_requested_at = clock_timestamp() WHERE dag_id = $1 AND state = 'running'`, [dagId]);
    await t.db.query(
      `UPDATE task_instances ti SET state = 'success' FROM dag_runs r
        WHERE r.id = ti.run_pk AND r.dag_id = $1 AND ti.task_id = $2 AND ti.state = 'scheduled'`,
      [dagId, taskId],
    );
  };

  it("with catchup creates a run per missed tick and runs at most maxActiveRuns at once", async () => {
    await saveDagVersion(t.db, { definition: definition("hourly"), source: "v1", bundle: "" }, at("2026-01-01T00:00:00Z"));
    await scheduler.tick(at("2026-01-01T03:30:00Z"));
    const created = await runs("hourly");
    assert.deepEqual(
      created.map((r) => [r.run_id, r.state]),
      [
        ["scheduled__2026-01-01T00:00:00.000Z", "running"],
        ["scheduled__2026-01-01T01:00:00.000Z", "running"],
        ["scheduled__2026-01-01T02:00:00.000Z", "queued"],
        ["scheduled__2026-01-01T03:00:00.000Z", "queued"],
      ],
    );
    assert.deepEqual(await tasks("hourly", "scheduled__2026-01-01T00:00:00.000Z"), [
      { task_id: "a", state: "scheduled" },
      { task_id: "b", state: "pending" },
    ]);
    const [params] = await t.db.query<{ params: unknown }>(`SELECT params FROM dag_runs WHERE dag_id = 'hourly' LIMIT 1`);
    assert.deepEqual(params!.params, { p: 1 });
  });

  it("moves tasks as upstream tasks succeed and starts queued runs as others finish", async () => {
    await succeed("hourly", "a");
    await scheduler.tick(at("2026-01-01T03:31:00Z"));
    assert.deepEqual(await tasks("hourly", "scheduled__2026-01-01T00:00:00.000Z"), [
      { task_id: "a", state: "success" },
      { task_id: "b", state: "scheduled" },
    ]);
    await succeed("hourly", "b");
    await scheduler.tick(at("2026-01-01T03:32:00Z"));
    await scheduler.tick(at("2026-01-01T03:32:00Z"));
    const states = (await runs("hourly")).map((r) => r.state);
    assert.deepEqual(states, ["success", "success", "running", "running"]);
  });

  it("without catchup creates only the latest tick's run", async () => {
    const def = definition("nocatch", { catchup: false, start: "2025-01-01T00:00:00.000Z" });
    await saveDagVersion(t.db, { definition: def, source: "v1", bundle: "" }, at("2026-01-01T00:10:00Z"));
    await scheduler.tick(at("2026-01-01T05:30:00Z"));
    assert.deepEqual((await runs("nocatch")).map((r) => r.run_id), ["scheduled__2026-01-01T05:00:00.000Z"]);
  });

  it("creates no runs for a paused DAG, and resumes when unpaused", async () => {
    const def = definition("pausable", { catchup: false });
    await saveDagVersion(t.db, { definition: def, source: "v1", bundle: "" }, at("2026-01-01T00:10:00Z"));
    await setPaused(t.db, "pausable", true);
    await scheduler.tick(at("2026-01-01T02:30:00Z"));
    assert.equal((await runs("pausable")).length, 0);
    await setPaused(t.db, "pausable", false);
    await scheduler.tick(at("2026-01-01T02:30:00Z"));
    assert.deepEqual((await runs("pausable")).map((r) => r.run_id), ["scheduled__2026-01-01T02:00:00.000Z"]);
  });

  it("plans only the runs that asked, and every stale run as a backstop", async () => {
    const def = definition("quiet", { schedule: null, maxActiveRuns: 5 });
    await saveDagVersion(t.db, { definition: def, source: "v1", bundle: "" }, at("2026-01-01T00:00:00Z"));
    await t.db.transaction(async (tx) => {
      for (const runId of ["q1", "q2"]) {
        await createRun(tx, { dagId: "quiet", runId, runType: "manual", logicalDate: at("2026-01-01T00:00:00Z"), params: {}, dagVersion: 1, definition: def });
      }
    });
    await scheduler.tick(at("2026-01-01T00:00:01Z"));
    const planned = async () =>
      Object.fromEntries(
        (await t.db.query<{ run_id: string; planned_at: Date }>(`SELECT run_id, planned_at FROM dag_runs WHERE dag_id = 'quiet'`)).map((r) => [
          r.run_id,
          r.planned_at.getTime(),
        ]),
      );
    const before = await planned();
    await t.db.query(`UPDATE dag_runs SET plan_requested_at = clock_timestamp() WHERE dag_id = 'quiet' AND run_id = 'q1'`);
    await scheduler.tick(at("2026-01-01T00:00:02Z"));
    const after1 = await planned();
    assert.ok(after1.q1! > before.q1!, "the run that asked was planned");
    assert.equal(after1.q2, before.q2, "the quiet run was left alone");

    const sweeper = new Scheduler(t.db, wakeup, silentLogger, { staleAfterMs: 0 });
    await sweeper.tick(at("2026-01-01T00:00:03Z"));
    const after2 = await planned();
    assert.ok(after2.q2! > before.q2!, "a run not planned for staleAfterMs is planned anyway");
  });

  it("two schedulers at once create each run once and respect maxActiveRuns", async () => {
    const def = definition("contended", { maxActiveRuns: 3, schedule: "*/5 * * * *" });
    await saveDagVersion(t.db, { definition: def, source: "v1", bundle: "" }, at("2026-01-01T00:00:00Z"));
    const other = new Scheduler(t.db, wakeup, silentLogger);
    const now = at("2026-01-01T01:00:00Z");
    await Promise.all([scheduler.tick(now), other.tick(now), scheduler.tick(now), other.tick(now)]);
    await Promise.all([scheduler.tick(now), other.tick(now)]);
    const all = await runs("contended");
    assert.equal(all.length, 13, "ticks 00:00 to 01:00 every 5 minutes, each once");
    assert.equal(all.filter((r) => r.state === "running").length, 3);
  });
});
