// Shared by the scheduler tests that drive a Scheduler against a real Postgres with a clock of their own:
// a DAG definition to store, a settable clock, and the few steps of the executor those tests stand in for.
import type { Db } from "../../db/db.ts";
import type { DagDefinition } from "../../sdk/definition.ts";

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
