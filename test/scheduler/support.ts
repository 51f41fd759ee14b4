// Shared by the scheduler tests that drive a Scheduler with a clock of their own: against a real
// Postgres, a DAG definition to store, a settable clock, a scheduler on it and the few steps of the
// executor those tests stand in for; with a whole Ferry (clocked-ferry.ts), a gate for a task's Pod to
// wait at and the API reads those tests repeat.
import { after, before } from "node:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Db } from "../../db/db.ts";
import { createWakeup, type Wakeup } from "../../db/wakeup.ts";
import { silentLogger } from "../../lib/logger.ts";
import { saveDagVersion } from "../../scheduler/dags.repository.ts";
import { createRun } from "../../scheduler/runs.repository.ts";
import { Scheduler } from "../../scheduler/scheduler.ts";
import type { DagDefinition } from "../../sdk/definition.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import type { TestFerry } from "../support/ferry.ts";

export function definition(dagId: string, over: Partial<DagDefinition> = {}): DagDefinition {
  const t = { retries: 0, retryDelayMs: 0, retryBackoff: "fixed" as const, timeoutMs: null, triggerRule: "all_success" as const };
  return {
    dagId,
    schedule: "@hourly",
    timezone: "UTC",
    start: "2026-01-01T00:00:00.000Z",
    catchup: false,
    maxActiveRuns: 16,
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

export const at = (s: string) => new Date(s);

/** A clock the test moves by hand: `clock.now` is what the scheduler sees. */
export function manualClock(start: string): { now: Date; set(iso: string): void; read: () => Date } {
  const clock = {
    now: at(start),
    set(iso: string) {
      clock.now = at(iso);
    },
    read: () => clock.now,
  };
  return clock;
}

/**
 * Registers, in the enclosing describe(), the hooks that start a test database with a Scheduler over it
 * on `clock`, hand both to `started`, and close them after. The scheduler is never started: a test calls
 * tick() once it has set the clock, so each pass sees exactly the time the test means.
 */
export function useClockedScheduler(clock: () => Date, started: (s: { t: TestDb; scheduler: Scheduler }) => void): void {
  let t: TestDb | undefined;
  let wakeup: Wakeup | undefined;
  before(async () => {
    t = await createTestDb();
    wakeup = await createWakeup(t.db);
    started({ t, scheduler: new Scheduler(t.db, wakeup, silentLogger, { clock }) });
  });
  after(async () => {
    await wakeup?.close();
    await t?.close();
  });
}

/** Stores `def` as its DAG's next version, posted at `postedAt` (the scheduler reads neither source nor bundle). */
export function saveDefinition(db: Db, def: DagDefinition, postedAt: string): ReturnType<typeof saveDagVersion> {
  return saveDagVersion(db, { definition: def, source: "v1", bundle: "" }, at(postedAt));
}

/** A manual run of version 1 of `def` for `logicalDate`, as triggering it through the API makes. */
export function createManualRun(db: Db, def: DagDefinition, runId: string, logicalDate: string): ReturnType<typeof createRun> {
  return db.transaction((tx) => createRun(tx, { dagId: def.dagId, runId, runType: "manual", logicalDate: at(logicalDate), params: {}, dagVersion: 1, definition: def }));
}

export type RunFacts = {
  run_id: string;
  run_type: string;
  state: string;
  logical_date: Date;
  data_interval_start: Date;
  data_interval_end: Date;
  dag_version: number;
  backfill_id: string | null;
  replaced_by: string | null;
};

/** A DAG's runs, oldest logical date first. */
export async function runsOf(db: Db, dagId: string): Promise<RunFacts[]> {
  return db.query<RunFacts>(
    `SELECT run_id, run_type, state, logical_date, data_interval_start, data_interval_end, dag_version, backfill_id::text, replaced_by
       FROM dag_runs WHERE dag_id = $1 ORDER BY logical_date, id`,
    [dagId],
  );
}

/** A run's task states by task id. */
export async function taskStates(db: Db, dagId: string, runId: string): Promise<Record<string, string>> {
  const rows = await db.query<{ task_id: string; state: string }>(
    `SELECT ti.task_id, ti.state FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = $1 AND r.run_id = $2 ORDER BY ti.task_id`,
    [dagId, runId],
  );
  return Object.fromEntries(rows.map((r) => [r.task_id, r.state]));
}

/**
 * What the executor does when the scheduled tasks of a DAG's running runs end: each moves to `state`
 * and its run asks to be planned again.
 */
export async function endScheduledTasks(db: Db, dagId: string, state: "success" | "failed" = "success", runId?: string): Promise<void> {
  await db.query(
    `UPDATE task_instances ti SET state = $3, try_number = try_number + 1, ended_at = now() FROM dag_runs r
      WHERE r.id = ti.run_pk AND r.dag_id = $1 AND r.state = 'running' AND ti.state = 'scheduled' AND ($2::text IS NULL OR r.run_id = $2)`,
    [dagId, runId ?? null, state],
  );
  await db.query(
    `UPDATE dag_runs SET plan_requested_at = clock_timestamp() WHERE dag_id = $1 AND state = 'running' AND ($2::text IS NULL OR run_id = $2)`,
    [dagId, runId ?? null],
  );
}

// For the tests with real Pods.

/**
 * Registers, in the enclosing describe(), the hooks that start a whole Ferry whose scheduler runs on
 * `clock` (clocked-ferry.ts) and a gate for its tasks, hand both to `started`, and close them after.
 */
export function useClockedFerry(clock: () => Date, gateFolderPrefix: string, started: (s: { f: TestFerry; gate: FileGate }) => void): void {
  let close: (() => Promise<void>) | undefined;
  let gate: FileGate | undefined;
  before(async () => {
    // Imported here, when used: it loads a whole Ferry, which the tests on a database alone do without.
    const { startClockedFerry } = await import("./clocked-ferry.ts");
    let f: TestFerry;
    ({ f, close } = await startClockedFerry(clock));
    gate = await fileGate(gateFolderPrefix);
    started({ f, gate });
  });
  after(async () => {
    await close?.();
    await gate?.remove();
  });
}

/**
 * A gate a pod task's shell waits at until the test opens it: a file yet to be written, in a folder of
 * its own. localkube runs Pods as processes on this machine, so they see the file appear.
 */
export interface FileGate {
  /** Shell that returns once the gate is open (it looks every 0.1 s). */
  readonly shellWait: string;
  open(): Promise<void>;
  /** Removes the gate's folder. */
  remove(): Promise<void>;
}

async function fileGate(folderPrefix: string): Promise<FileGate> {
  const dir = await mkdtemp(path.join(os.tmpdir(), folderPrefix));
  const file = path.join(dir, "open");
  return {
    shellWait: `while [ ! -f ${file} ]; do sleep 0.1; done`,
    open: () => writeFile(file, ""),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The next scheduled tick of a DAG, as the API tells it. */
export async function nextRunAt(f: TestFerry, dagId: string): Promise<string> {
  return (await f.api("GET", `/api/v1/dags/${dagId}`)).body.nextRunAt as string;
}

/** A task's log in a run, as the API serves it. */
export async function taskLog(f: TestFerry, dagId: string, runId: string, taskId: string): Promise<string> {
  return (await f.api("GET", `/api/v1/dags/${dagId}/runs/${encodeURIComponent(runId)}/tasks/${taskId}/logs`)).text;
}
