// The only module that writes `dag_runs` and, apart from the executor's try-level compare-and-set
// updates in executor/tries.repository.ts, `task_instances`. It reads `dags` (to lock a DAG while its
// queued runs start), `backfills` (which queue a run is started from) and `task_tries` (retention
// waits for Pods not reclaimed yet); deleting a run
// removes its task instances and tries by cascade. State lists come from states.ts (sqlStates).
import type { Db, Queryable } from "../db/db.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import { ACTIVE_RUN_STATES, ACTIVE_TASK_STATES, FINISHED_RUN_STATES, FINISHED_TASK_STATES, sqlStates, type RunState, type TaskState } from "./states.ts";
import type { TaskMove } from "./run-planner.ts";

export interface RunRow {
  pk: string;
  dagId: string;
  runId: string;
  dagVersion: number;
  runType: "scheduled" | "manual" | "backfill";
  state: RunState;
  logicalDate: Date;
  /** The span of data the run stands for (README.md, "Scheduling rules"). */
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  params: Record<string, unknown>;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  /** The backfill that created or last reprocessed the run. */
  backfillId: string | null;
  /** The scheduled run that replaced this one (overlap "replace"). */
  replacedBy: string | null;
}

export interface TaskInstanceRow {
  id: string;
  runPk: string;
  taskId: string;
  state: TaskState;
  tryNumber: number;
  maxTries: number;
  retryAt: Date | null;
  result: unknown;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface TaskInstanceView extends TaskInstanceRow {
  podName: string | null;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
}

const RUN_COLUMN_NAMES = [
  "id",
  "dag_id",
  "run_id",
  "dag_version",
  "run_type",
  "state",
  "logical_date",
  "data_interval_start",
  "data_interval_end",
  "params",
  "created_at",
  "started_at",
  "ended_at",
  "backfill_id",
  "replaced_by",
];
const RUN_COLUMNS = RUN_COLUMN_NAMES.join(", ");
/** The same columns of `dag_runs r`, for statements that join or lock by alias. */
const RUN_COLUMNS_OF_R = RUN_COLUMN_NAMES.map((c) => `r.${c}`).join(", ");

export function toRun(r: Record<string, unknown>): RunRow {
  return {
    pk: String(r.id),
    dagId: r.dag_id as string,
    runId: r.run_id as string,
    dagVersion: r.dag_version as number,
    runType: r.run_type as RunRow["runType"],
    state: r.state as RunState,
    logicalDate: r.logical_date as Date,
    dataIntervalStart: r.data_interval_start as Date,
    dataIntervalEnd: r.data_interval_end as Date,
    params: (r.params as Record<string, unknown>) ?? {},
    createdAt: r.created_at as Date,
    startedAt: (r.started_at as Date | null) ?? null,
    endedAt: (r.ended_at as Date | null) ?? null,
    backfillId: r.backfill_id === null || r.backfill_id === undefined ? null : String(r.backfill_id),
    replacedBy: (r.replaced_by as string | null) ?? null,
  };
}

function toTaskInstance(r: Record<string, unknown>): TaskInstanceRow {
  return {
    id: String(r.id),
    runPk: String(r.run_pk),
    taskId: r.task_id as string,
    state: r.state as TaskState,
    tryNumber: r.try_number as number,
    maxTries: r.max_tries as number,
    retryAt: (r.retry_at as Date | null) ?? null,
    result: r.result ?? null,
    startedAt: (r.started_at as Date | null) ?? null,
    endedAt: (r.ended_at as Date | null) ?? null,
  };
}

export interface NewRun {
  dagId: string;
  runId: string;
  runType: RunRow["runType"];
  logicalDate: Date;
  params: Record<string, unknown>;
  dagVersion: number;
  definition: DagDefinition;
  /** Default: the logical date alone (a manual run). */
  dataInterval?: { start: Date; end: Date };
  backfillId?: string;
}

/** Creates a queued run with all its tasks pending. Returns null if the run id is taken. */
export async function createRun(tx: Queryable, run: NewRun): Promise<RunRow | null> {
  const [created] = await createRuns(tx, [run]);
  return created ?? null;
}

/**
 * Creates queued runs with all their tasks pending, in two statements however many there are (a
 * backfill makes up to 10,000). Runs whose id is taken are left out of the answer.
 */
export async function createRuns(tx: Queryable, runs: NewRun[]): Promise<RunRow[]> {
  if (runs.length === 0) return [];
  const rows = await tx.query(
    `INSERT INTO dag_runs (dag_id, run_id, dag_version, run_type, state, logical_date, data_interval_start, data_interval_end, params, backfill_id)
     SELECT u.dag_id, u.run_id, u.dag_version, u.run_type, 'queued', u.logical_date, u.dis, u.die, u.params, u.backfill_id
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::jsonb[], $9::bigint[])
         AS u(dag_id, run_id, dag_version, run_type, logical_date, dis, die, params, backfill_id)
     ON CONFLICT (dag_id, run_id) DO NOTHING
     RETURNING ${RUN_COLUMNS}`,
    [
      runs.map((r) => r.dagId),
      runs.map((r) => r.runId),
      runs.map((r) => r.dagVersion),
      runs.map((r) => r.runType),
      runs.map((r) => r.logicalDate),
      runs.map((r) => r.dataInterval?.start ?? r.logicalDate),
      runs.map((r) => r.dataInterval?.end ?? r.logicalDate),
      runs.map((r) => JSON.stringify(r.params)),
      runs.map((r) => r.backfillId ?? null),
    ],
  );
  if (rows.length === 0) return [];
  const created = rows.map(toRun);
  const byKey = new Map(runs.map((r) => [`${r.dagId}\n${r.runId}`, r]));
  const pks: string[] = [];
  const taskIds: string[] = [];
  const maxTries: number[] = [];
  const pools: string[] = [];
  const priorities: number[] = [];
  const namespaces: (string | null)[] = [];
  for (const run of created) {
    for (const t of byKey.get(`${run.dagId}\n${run.runId}`)!.definition.tasks) {
      pks.push(run.pk);
      taskIds.push(t.taskId);
      maxTries.push(t.retries + 1);
      pools.push(t.pool ?? "default");
      priorities.push(t.priority ?? 0);
      namespaces.push(t.namespace ?? null);
    }
  }
  await tx.query(
    `INSERT INTO task_instances (run_pk, task_id, state, max_tries, pool, priority, namespace)
     SELECT t.run_pk, t.task_id, 'pending', t.max_tries, t.pool, t.priority, t.namespace
       FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[]) AS t(run_pk, task_id, max_tries, pool, priority, namespace)`,
    [pks, taskIds, maxTries, pools, priorities, namespaces],
  );
  return created;
}

/** A DAG's runs whose logical date is one of `dates` (any type, any state), oldest created first. */
export async function runsAtLogicalDates(db: Queryable, dagId: string, dates: Date[]): Promise<RunRow[]> {
  const rows = await db.query(
    `SELECT ${RUN_COLUMNS} FROM dag_runs WHERE dag_id = $1 AND logical_date = ANY($2::timestamptz[]) ORDER BY logical_date, id`,
    [dagId, dates],
  );
  return rows.map(toRun);
}

export async function getRun(db: Queryable, dagId: string, runId: string): Promise<RunRow | null> {
  const [row] = await db.query(`SELECT ${RUN_COLUMNS} FROM dag_runs WHERE dag_id = $1 AND run_id = $2`, [dagId, runId]);
  return row ? toRun(row) : null;
}

export async function lockRun(tx: Queryable, dagId: string, runId: string): Promise<RunRow | null> {
  const [row] = await tx.query(`SELECT ${RUN_COLUMNS} FROM dag_runs WHERE dag_id = $1 AND run_id = $2 FOR UPDATE`, [dagId, runId]);
  return row ? toRun(row) : null;
}

/** Newest first; `before` is the cursor returned as the last row's (logicalDate, pk). */
export async function listRuns(
  db: Queryable,
  dagId: string,
  opts: { limit: number; state?: RunState; before?: { logicalDate: Date; pk: string } },
): Promise<RunRow[]> {
  const rows = await db.query(
    `SELECT ${RUN_COLUMNS} FROM dag_runs
      WHERE dag_id = $1 AND ($2::text IS NULL OR state = $2)
        AND ($3::timestamptz IS NULL OR (logical_date, id) < ($3, $4::bigint))
      ORDER BY logical_date DESC, id DESC LIMIT $5`,
    [dagId, opts.state ?? null, opts.before?.logicalDate ?? null, opts.before?.pk ?? null, opts.limit],
  );
  return rows.map(toRun);
}

/** A run's task instances with the facts of each one's latest try. */
export async function listTaskViews(db: Queryable, runPk: string): Promise<TaskInstanceView[]> {
  const rows = await db.query(
    `SELECT ti.*, tr.pod_name, tr.exit_code, tr.reason, tr.message
       FROM task_instances ti
       LEFT JOIN task_tries tr ON tr.task_instance_id = ti.id AND tr.try_number = ti.try_number
      WHERE ti.run_pk = $1 ORDER BY ti.id`,
    [runPk],
  );
  return rows.map((r) => ({
    ...toTaskInstance(r),
    podName: (r.pod_name as string | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    message: (r.message as string | null) ?? null,
  }));
}

export async function listTaskInstances(db: Queryable, runPks: string[]): Promise<TaskInstanceRow[]> {
  const rows = await db.query(`SELECT * FROM task_instances WHERE run_pk = ANY($1::bigint[])`, [runPks]);
  return rows.map(toTaskInstance);
}

/** The run's task instances named, locked for the caller's transaction. */
export async function lockTaskInstances(tx: Queryable, runPk: string, taskIds: string[]): Promise<TaskInstanceRow[]> {
  const rows = await tx.query(`SELECT * FROM task_instances WHERE run_pk = $1 AND task_id = ANY($2::text[]) ORDER BY id FOR UPDATE`, [runPk, taskIds]);
  return rows.map(toTaskInstance);
}

export async function getTaskInstance(db: Queryable, runPk: string, taskId: string): Promise<TaskInstanceRow | null> {
  const [row] = await db.query(`SELECT * FROM task_instances WHERE run_pk = $1 AND task_id = $2`, [runPk, taskId]);
  return row ? toTaskInstance(row) : null;
}

/** Applies planned moves, each only if the task is still in the state it was planned from. */
export async function applyTaskMoves(tx: Queryable, runPk: string, moves: TaskMove[]): Promise<number> {
  if (moves.length === 0) return 0;
  const rows = await tx.query(
    `UPDATE task_instances t
        SET state = m.to_state, updated_at = now(),
            retry_at = CASE WHEN m.to_state = 'scheduled' THEN NULL ELSE t.retry_at END,
            ended_at = CASE WHEN m.to_state IN (${sqlStates(FINISHED_TASK_STATES)}) THEN now() ELSE t.ended_at END
       FROM unnest($2::text[], $3::text[], $4::text[]) AS m(task_id, from_state, to_state)
      WHERE t.run_pk = $1 AND t.task_id = m.task_id AND t.state = m.from_state
      RETURNING t.id`,
    [runPk, moves.map((m) => m.taskId), moves.map((m) => m.from), moves.map((m) => m.to)],
  );
  return rows.length;
}

/** Ends a running run; a no-op if it already left `running`. */
export async function finishRun(tx: Queryable, runPk: string, state: "success" | "failed"): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE dag_runs SET state = $2, ended_at = now(), updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id`,
    [runPk, state],
  );
  return rows.length > 0;
}

/**
 * Running runs with a plan request newer than their last plan, oldest request first, locked so two
 * schedulers plan different runs.
 */
export async function lockRunsToPlan(tx: Queryable, limit: number): Promise<RunRow[]> {
  const rows = await tx.query(
    `SELECT ${RUN_COLUMNS} FROM dag_runs WHERE state = 'running' AND plan_requested_at > planned_at
      ORDER BY plan_requested_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map(toRun);
}

/**
 * Marks runs planned as of this transaction's start: a request stamped while we planned (it waits for
 * our row lock, then stamps clock time) stays newer, so the run is planned again.
 */
export async function markPlanned(tx: Queryable, runPks: string[]): Promise<void> {
  await tx.query(`UPDATE dag_runs SET planned_at = now() WHERE id = ANY($1::bigint[])`, [runPks]);
}

/** Asks for a run to be planned again (its tasks changed, or its plan went stale). */
export async function requestPlan(tx: Queryable, runPk: string): Promise<void> {
  await tx.query(`UPDATE dag_runs SET plan_requested_at = clock_timestamp() WHERE id = $1`, [runPk]);
}

/** Requests plans for the runs whose retries have come due. Returns how many runs were stamped. */
export async function requestRetryPlans(db: Queryable): Promise<number> {
  const rows = await db.query(
    `UPDATE dag_runs SET plan_requested_at = clock_timestamp()
      WHERE state = 'running' AND plan_requested_at <= planned_at
        AND id IN (SELECT run_pk FROM task_instances WHERE state = 'up_for_retry' AND retry_at <= now())
      RETURNING id`,
  );
  return rows.length;
}

/** A backstop against a request that was never made: plans running runs not planned for `staleAfterMs`. */
export async function requestStalePlans(db: Queryable, staleAfterMs: number): Promise<number> {
  const rows = await db.query(
    `UPDATE dag_runs SET plan_requested_at = clock_timestamp()
      WHERE state = 'running' AND plan_requested_at <= planned_at AND planned_at < now() - make_interval(secs => $1)
      RETURNING id`,
    [staleAfterMs / 1000],
  );
  return rows.length;
}

// Runs are started from one of two kinds of queue: a DAG's own (its scheduled and manual runs, bounded
// by the DAG's maxActiveRuns) and each live backfill's (bounded by the backfill's maxActiveRuns). A run
// of a cancelled backfill that is cleared again goes back to its DAG's queue.
const IN_DAG_QUEUE = `(r.backfill_id IS NULL OR r.backfill_id IN (SELECT b.id FROM backfills b WHERE b.cancelled_at IS NOT NULL))`;
const IN_BACKFILL_QUEUE = (param: string) => `r.backfill_id = ${param} AND r.backfill_id IN (SELECT b.id FROM backfills b WHERE b.cancelled_at IS NULL)`;

/** Starts queued runs from one queue while fewer than `maxActiveRuns` of it are running, oldest logical date first. */
async function startFromQueue(db: Db, dagId: string, queue: string, queueParams: unknown[], maxActiveRuns: number): Promise<number> {
  return db.transaction(async (tx) => {
    // The DAG row lock makes the count-then-start atomic across schedulers.
    const [dag] = await tx.query(`SELECT paused FROM dags WHERE dag_id = $1 FOR UPDATE`, [dagId]);
    if (!dag || dag.paused) return 0;
    const [{ running }] = await tx.query<{ running: number }>(
      `SELECT count(*)::int AS running FROM dag_runs r WHERE r.dag_id = $1 AND r.state = 'running' AND ${queue}`,
      [dagId, ...queueParams],
    );
    const room = maxActiveRuns - running;
    if (room <= 0) return 0;
    const limit = `$${queueParams.length + 2}`;
    const started = await tx.query(
      `UPDATE dag_runs SET state = 'running', started_at = COALESCE(started_at, now()), updated_at = now(),
              plan_requested_at = clock_timestamp()
        WHERE id IN (SELECT r.id FROM dag_runs r WHERE r.dag_id = $1 AND r.state = 'queued' AND ${queue} ORDER BY r.logical_date, r.id LIMIT ${limit})
      RETURNING id`,
      [dagId, ...queueParams, room],
    );
    return started.length;
  });
}

/**
 * Starts queued runs of one DAG while fewer than `maxActiveRuns` are running (oldest logical date
 * first). Runs of a live backfill are neither counted nor started here: see startQueuedBackfillRuns.
 */
export async function startQueuedRuns(db: Db, dagId: string, maxActiveRuns: number): Promise<number> {
  return startFromQueue(db, dagId, IN_DAG_QUEUE, [], maxActiveRuns);
}

/** Starts queued runs of one live backfill while fewer than its `maxActiveRuns` are running, oldest first. */
export async function startQueuedBackfillRuns(db: Db, dagId: string, backfillId: string, maxActiveRuns: number): Promise<number> {
  return startFromQueue(db, dagId, IN_BACKFILL_QUEUE("$2::bigint"), [backfillId], maxActiveRuns);
}

/** DAGs whose own queue holds runs. */
export async function dagsWithQueuedRuns(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ dag_id: string }>(`SELECT DISTINCT r.dag_id FROM dag_runs r WHERE r.state = 'queued' AND ${IN_DAG_QUEUE}`);
  return rows.map((r) => r.dag_id);
}

/** Live backfills whose queue holds runs, with what starting them needs. */
export async function backfillsWithQueuedRuns(db: Queryable): Promise<{ backfillId: string; dagId: string; maxActiveRuns: number }[]> {
  const rows = await db.query<{ id: string; dag_id: string; max_active_runs: number }>(
    // From the queued runs (few, and indexed) to their backfills: completed backfills pile up over time.
    `SELECT b.id, b.dag_id, b.max_active_runs FROM backfills b
      WHERE b.cancelled_at IS NULL AND b.id IN (SELECT r.backfill_id FROM dag_runs r WHERE r.state = 'queued' AND r.backfill_id IS NOT NULL)`,
  );
  return rows.map((r) => ({ backfillId: String(r.id), dagId: r.dag_id, maxActiveRuns: r.max_active_runs }));
}

/**
 * A DAG's queued and running runs that its overlap policy weighs (its own queue's: not a live
 * backfill's), locked so they cannot start or end under the caller's decision.
 */
export async function lockActiveScheduleRuns(tx: Queryable, dagId: string): Promise<RunRow[]> {
  const rows = await tx.query(
    `SELECT ${RUN_COLUMNS_OF_R} FROM dag_runs r
      WHERE r.dag_id = $1 AND r.state IN (${sqlStates(ACTIVE_RUN_STATES)}) AND ${IN_DAG_QUEUE}
      ORDER BY r.logical_date, r.id FOR UPDATE OF r`,
    [dagId],
  );
  return rows.map(toRun);
}

/** Cancels a run the overlap policy "replace" replaced, saying by which run. */
export async function cancelReplacedRun(tx: Queryable, runPk: string, replacedBy: string): Promise<void> {
  await cancelRun(tx, runPk);
  await tx.query(`UPDATE dag_runs SET replaced_by = $2 WHERE id = $1`, [runPk, replacedBy]);
}

/** The runs a backfill created or last reprocessed, oldest logical date first. */
export async function listBackfillRuns(db: Queryable, backfillId: string): Promise<RunRow[]> {
  const rows = await db.query(`SELECT ${RUN_COLUMNS} FROM dag_runs WHERE backfill_id = $1 ORDER BY logical_date, id`, [backfillId]);
  return rows.map(toRun);
}

/** A live backfill's queued and running runs, locked for cancelling them. */
export async function lockActiveBackfillRuns(tx: Queryable, backfillId: string): Promise<RunRow[]> {
  const rows = await tx.query(
    `SELECT ${RUN_COLUMNS} FROM dag_runs WHERE backfill_id = $1 AND state IN (${sqlStates(ACTIVE_RUN_STATES)}) ORDER BY logical_date, id FOR UPDATE`,
    [backfillId],
  );
  return rows.map(toRun);
}

/** Makes a backfill the owner of a run it reprocesses: the backfill's queue starts it. */
export async function assignToBackfill(tx: Queryable, runPk: string, backfillId: string): Promise<void> {
  await tx.query(`UPDATE dag_runs SET backfill_id = $2, updated_at = now() WHERE id = $1`, [runPk, backfillId]);
}

/** Cancels a run and every task of it that has not finished. The executor then deletes their Pods. */
export async function cancelRun(tx: Queryable, runPk: string): Promise<void> {
  await tx.query(`UPDATE dag_runs SET state = 'cancelled', ended_at = now(), updated_at = now() WHERE id = $1`, [runPk]);
  await tx.query(
    `UPDATE task_instances SET state = 'cancelled', ended_at = now(), updated_at = now()
      WHERE run_pk = $1 AND state NOT IN (${sqlStates(FINISHED_TASK_STATES)})`,
    [runPk],
  );
}

/** Puts tasks back to pending for a new try, allowing `retries` more tries from where each stands. */
export async function resetTasks(tx: Queryable, runPk: string, resets: { taskId: string; retries: number }[]): Promise<void> {
  await requestPlan(tx, runPk);
  await tx.query(
    `UPDATE task_instances t
        SET state = 'pending', result = NULL, retry_at = NULL, started_at = NULL, ended_at = NULL,
            max_tries = t.try_number + r.retries + 1, updated_at = now()
       FROM unnest($2::text[], $3::int[]) AS r(task_id, retries)
      WHERE t.run_pk = $1 AND t.task_id = r.task_id AND t.state NOT IN (${sqlStates(ACTIVE_TASK_STATES)})`,
    [runPk, resets.map((r) => r.taskId), resets.map((r) => r.retries)],
  );
}

/** A finished run goes back to queued (so maxActiveRuns still holds) when one of its tasks is cleared. */
export async function reopenRun(tx: Queryable, runPk: string): Promise<void> {
  await tx.query(
    `UPDATE dag_runs SET state = 'queued', ended_at = NULL, updated_at = now()
      WHERE id = $1 AND state IN (${sqlStates(FINISHED_RUN_STATES)})`,
    [runPk],
  );
}

/** A finished run old enough for retention, as the sweeper pages through them. */
export interface ExpiredRun {
  pk: string;
  dagId: string;
  runId: string;
  endedAt: Date;
}

function toExpired(r: Record<string, unknown>): ExpiredRun {
  return { pk: String(r.id), dagId: r.dag_id as string, runId: r.run_id as string, endedAt: r.ended_at as Date };
}

// A finished run may still have a try whose Pod the executor has not reclaimed (a cancelled run's Pod
// is stopped, and its log stored, after the run ends). That try's log is still being written and its
// row is how the executor finds the Pod, so such a run waits for a later pass.
const EXPIRED = `r.state = ANY($1::text[]) AND r.ended_at < $2
  AND NOT EXISTS (SELECT 1 FROM task_instances ti JOIN task_tries tr ON tr.task_instance_id = ti.id
                   WHERE ti.run_pk = r.id AND NOT tr.pod_reclaimed)`;

/**
 * Up to `limit` finished runs that ended before `cutoff` (soft-deleted DAGs' runs included), oldest
 * first, after `after` (the last one of the previous page). Not locked: see lockExpiredRun.
 */
export async function listExpiredRuns(
  db: Queryable,
  opts: { cutoff: Date; limit: number; after?: { endedAt: Date; pk: string } },
): Promise<ExpiredRun[]> {
  const rows = await db.query(
    `SELECT r.id, r.dag_id, r.run_id, r.ended_at FROM dag_runs r
      WHERE ${EXPIRED} AND ($3::timestamptz IS NULL OR (r.ended_at, r.id) > ($3, $4::bigint))
      ORDER BY r.ended_at, r.id LIMIT $5`,
    [FINISHED_RUN_STATES, opts.cutoff, opts.after?.endedAt ?? null, opts.after?.pk ?? null, opts.limit],
  );
  return rows.map(toExpired);
}

/**
 * Locks one run for deletion if it is still expired; null if it no longer is (cleared and running
 * again) or another sweeper holds it. While locked, nobody can clear or reopen it (they lock it first).
 */
export async function lockExpiredRun(tx: Queryable, runPk: string, cutoff: Date): Promise<ExpiredRun | null> {
  const [row] = await tx.query(
    `SELECT r.id, r.dag_id, r.run_id, r.ended_at FROM dag_runs r WHERE r.id = $3 AND ${EXPIRED} FOR UPDATE OF r SKIP LOCKED`,
    [FINISHED_RUN_STATES, cutoff, runPk],
  );
  return row ? toExpired(row) : null;
}

/**
 * Deletes a run's rows. Its task instances and their tries go with it by ON DELETE CASCADE, so
 * task_tries stays written only by its owner module; the retention test checks that every foreign key
 * into these tables cascades, so a table keyed to a run cannot be left behind.
 */
export async function deleteRun(tx: Queryable, runPk: string): Promise<boolean> {
  const rows = await tx.query(`DELETE FROM dag_runs WHERE id = $1 RETURNING id`, [runPk]);
  return rows.length > 0;
}

/** Counts for the metrics: runs by state, and the tasks of active runs (and any still active) by state. */
export async function countByState(db: Queryable): Promise<{ runs: Map<string, number>; tasks: Map<string, number> }> {
  const [runs, tasks] = await Promise.all([
    db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM dag_runs GROUP BY state`),
    db.query<{ state: string; n: number }>(
      `SELECT ti.state, count(*)::int AS n FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
        WHERE r.state IN (${sqlStates(ACTIVE_RUN_STATES)}) OR ti.state IN (${sqlStates(ACTIVE_TASK_STATES)}) GROUP BY ti.state`,
    ),
  ]);
  return { runs: new Map(runs.map((r) => [r.state, r.n])), tasks: new Map(tasks.map((r) => [r.state, r.n])) };
}
