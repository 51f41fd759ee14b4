// The only module that writes `task_tries` (runs.repository.ts deletes them only by cascade with their
// run; try-events.repository.ts joins them for reading). A try is claimed by one executor, which holds
// a lease on it until its Pod is reclaimed; an executor that dies lets its leases run out and another
// adopts its tries.
// Task instance states change here only by compare-and-set on (state, try_number).
import type { Db, Queryable } from "../db/db.ts";
import { ACTIVE_TASK_STATES, sqlStates } from "../scheduler/states.ts";
import { podNameFor } from "./pod-names.ts";
import type { TryVerdict } from "./pod-outcome.ts";
import { afterFailure } from "./retry-policy.ts";
import { addTryEvents, type TryEventInput } from "./try-events.repository.ts";
import type { LogCheckpoint } from "./pod-log-resume.ts";

export interface ActiveTry {
  taskInstanceId: string;
  tryNumber: number;
  namespace: string;
  podName: string;
  runPk: string;
  dagId: string;
  runId: string;
  taskId: string;
  dagVersion: number;
  logicalDate: Date;
  /**
   * The run's data interval (README.md, "Scheduling rules"), for the try's template context. Always
   * read from the run; optional in the type only so hand-made tries in tests need not name them.
   */
  dataIntervalStart?: Date;
  dataIntervalEnd?: Date;
  params: Record<string, unknown>;
  state: "queued" | "running" | "success" | "failed" | "cancelled";
  startedAt: Date | null;
  /** Set once the outcome is recorded; the log may still be uploading and the Pod need deleting. */
  endedAt: Date | null;
  /** The whole log is stored (or what could be: see the try's events); only the Pod is left to delete. */
  logComplete: boolean;
  /** Where a log copy resumes (see pod-log-resume.ts). */
  logCheckpoint: LogCheckpoint | null;
  /** When the try was claimed. */
  claimedAt?: Date;
  /** When its task became scheduled (set by claimTasks only, for the queue-wait metric). */
  scheduledAt?: Date;
}

const TRY_SELECT = `
  SELECT t.task_instance_id, t.try_number, t.namespace, t.pod_name, t.state, t.started_at, t.ended_at, t.created_at AS claimed_at,
         t.log_complete, t.log_resume_since, t.log_resume_offset, ti.run_pk, ti.task_id, r.dag_id, r.run_id, r.dag_version, r.logical_date, r.params,
         r.data_interval_start, r.data_interval_end
    FROM task_tries t
    JOIN task_instances ti ON ti.id = t.task_instance_id
    JOIN dag_runs r ON r.id = ti.run_pk`;

function toTry(r: Record<string, unknown>): ActiveTry {
  return {
    taskInstanceId: String(r.task_instance_id),
    tryNumber: r.try_number as number,
    namespace: r.namespace as string,
    podName: r.pod_name as string,
    runPk: String(r.run_pk),
    dagId: r.dag_id as string,
    runId: r.run_id as string,
    taskId: r.task_id as string,
    dagVersion: r.dag_version as number,
    logicalDate: r.logical_date as Date,
    dataIntervalStart: r.data_interval_start as Date,
    dataIntervalEnd: r.data_interval_end as Date,
    params: (r.params as Record<string, unknown>) ?? {},
    state: r.state as ActiveTry["state"],
    startedAt: (r.started_at as Date | null) ?? null,
    endedAt: (r.ended_at as Date | null) ?? null,
    logComplete: r.log_complete === true,
    logCheckpoint: checkpointOf(r),
    claimedAt: (r.claimed_at as Date | undefined) ?? undefined,
  };
}

function checkpointOf(r: Record<string, unknown>): LogCheckpoint | null {
  return r.log_resume_since ? { since: r.log_resume_since as string, offset: Number(r.log_resume_offset) } : null;
}

/**
 * Takes up to `limit` scheduled tasks that have room to run: a free slot in their pool, room under their
 * DAG's maxActiveTasks and under `parallelism` (tries queued or running across every executor; null for
 * no bound). Higher priority first, then the task scheduled first. Each gets its next try number, a try
 * row and a Pod name. Claims are serialised (one transaction-scoped advisory lock), so executors
 * claiming at once never overfill a pool between them.
 */
export async function claimTasks(
  db: Db,
  executorId: string,
  namespace: string,
  limit: number,
  leaseMs: number,
  parallelism: number | null = null,
): Promise<ActiveTry[]> {
  if (limit <= 0) return [];
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('ferry-claim-tasks'))`);
    if (parallelism !== null) {
      const [active] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_instances WHERE state IN (${sqlStates(ACTIVE_TASK_STATES)})`);
      limit = Math.min(limit, parallelism - active!.n);
      if (limit <= 0) return [];
    }
    // A window rank per pool and per DAG says how far down its queue a task is; it may start when that
    // is within the free slots. (A task held back by its DAG still takes a place in its pool's queue
    // this pass: claims are never too many, at worst a pass fills a little less.)
    const picked = await tx.query(
      `WITH active AS (
         SELECT ti.pool, r.dag_id FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
          WHERE ti.state IN (${sqlStates(ACTIVE_TASK_STATES)})
       ), ranked AS (
         SELECT ti.id, ti.task_id, ti.try_number + 1 AS next_try, r.dag_id, r.run_id, ti.priority, ti.updated_at, ti.namespace,
                row_number() OVER (PARTITION BY ti.pool ORDER BY ti.priority DESC, ti.updated_at, ti.id) AS pool_place,
                row_number() OVER (PARTITION BY r.dag_id ORDER BY ti.priority DESC, ti.updated_at, ti.id) AS dag_place,
                p.slots - (SELECT count(*) FROM active a WHERE a.pool = ti.pool) AS pool_free,
                d.max_active_tasks - (SELECT count(*) FROM active a WHERE a.dag_id = r.dag_id) AS dag_free
           FROM task_instances ti
           JOIN dag_runs r ON r.id = ti.run_pk
           JOIN dags d ON d.dag_id = r.dag_id
           LEFT JOIN pools p ON p.name = ti.pool
          WHERE ti.state = 'scheduled' AND r.state = 'running'
            -- Not while the task's previous try may still be running: a cancelled or timed-out Pod
            -- reports Failed at once and then stops within its grace period; its log copy ends only
            -- when its container has. So a retry or a clear never runs beside the try before it.
            AND NOT EXISTS (SELECT 1 FROM task_tries pt WHERE pt.task_instance_id = ti.id AND pt.try_number = ti.try_number
                             AND (pt.ended_at IS NULL OR (pt.log_finished_at IS NULL AND NOT pt.pod_reclaimed)))
       )
       SELECT id, task_id, next_try, dag_id, run_id, namespace, updated_at AS scheduled_at FROM ranked
        WHERE pool_place <= COALESCE(pool_free, 0) AND (dag_free IS NULL OR dag_place <= dag_free)
        ORDER BY priority DESC, updated_at, id
        LIMIT $1`,
      [limit],
    );
    if (picked.length === 0) return [];
    // Under the claim lock no other executor takes them. A task the scheduler is moving right now
    // (a cancel or clear holds its row) is skipped rather than waited for, so the two never deadlock,
    // and the state check leaves one it has just moved where it is.
    const locked = await tx.query(`SELECT id FROM task_instances WHERE id = ANY($1::bigint[]) AND state = 'scheduled' FOR UPDATE SKIP LOCKED`, [
      picked.map((p) => String(p.id)),
    ]);
    const claimed = new Set(
      (
        await tx.query(`UPDATE task_instances SET state = 'queued', try_number = try_number + 1, result = NULL, updated_at = now() WHERE id = ANY($1::bigint[]) RETURNING id`, [
          locked.map((l) => String(l.id)),
        ])
      ).map((c) => String(c.id)),
    );
    const taken = picked.filter((p) => claimed.has(String(p.id)));
    if (taken.length === 0) return [];
    const ids = taken.map((p) => String(p.id));
    const tries = taken.map((p) => p.next_try as number);
    const podNames = taken.map((p) =>
      podNameFor({ dagId: p.dag_id as string, runId: p.run_id as string, taskId: p.task_id as string, tryNumber: p.next_try as number }),
    );
    // A task that names no namespace runs in the executor's (the task namespace).
    const namespaces = taken.map((p) => (p.namespace as string | null) ?? namespace);
    await tx.query(
      // clock_timestamp(), not now(): the claim may have waited for the claim lock since its transaction began.
      `INSERT INTO task_tries (task_instance_id, try_number, namespace, pod_name, state, executor_id, lease_until, created_at)
       SELECT u.id, u.try_number, u.namespace, u.pod_name, 'queued', $4, now() + make_interval(secs => $5), clock_timestamp()
         FROM unnest($1::bigint[], $2::int[], $3::text[], $6::text[]) AS u(id, try_number, pod_name, namespace)`,
      [ids, tries, podNames, executorId, leaseMs / 1000, namespaces],
    );
    const rows = await tx.query(`${TRY_SELECT} WHERE (t.task_instance_id, t.try_number) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))`, [
      ids,
      tries,
    ]);
    const scheduledAt = new Map(taken.map((p) => [String(p.id), p.scheduled_at as Date]));
    return rows.map((r) => ({ ...toTry(r), scheduledAt: scheduledAt.get(String(r.task_instance_id)) }));
  });
}

/** Takes over tries whose executor's lease ran out (it died or lost its database connection). */
export async function adoptTries(db: Queryable, executorId: string, limit: number, leaseMs: number): Promise<ActiveTry[]> {
  if (limit <= 0) return [];
  const adopted = await db.query(
    `UPDATE task_tries SET executor_id = $1, lease_until = now() + make_interval(secs => $3)
      WHERE (task_instance_id, try_number) IN (
        SELECT task_instance_id, try_number FROM task_tries
         WHERE NOT pod_reclaimed AND (lease_until IS NULL OR lease_until < now() - interval '5 seconds')
         LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING task_instance_id, try_number`,
    [executorId, limit, leaseMs / 1000],
  );
  if (adopted.length === 0) return [];
  const rows = await db.query(`${TRY_SELECT} WHERE (t.task_instance_id, t.try_number) IN (SELECT * FROM unnest($1::bigint[], $2::int[]))`, [
    adopted.map((a) => String(a.task_instance_id)),
    adopted.map((a) => a.try_number as number),
  ]);
  return rows.map(toTry);
}

/** Extends this executor's leases; returns the keys of the tries it still holds. */
export async function renewLeases(db: Queryable, executorId: string, leaseMs: number): Promise<Set<string>> {
  const rows = await db.query(
    `UPDATE task_tries SET lease_until = now() + make_interval(secs => $2)
      WHERE executor_id = $1 AND NOT pod_reclaimed RETURNING task_instance_id, try_number`,
    [executorId, leaseMs / 1000],
  );
  return new Set(rows.map((r) => tryKey(String(r.task_instance_id), r.try_number as number)));
}

export function tryKey(taskInstanceId: string, tryNumber: number): string {
  return `${taskInstanceId}#${tryNumber}`;
}

/** Another executor holds the try now (ours ran out): this one must let go of it. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
  constructor(readonly podName: string) {
    super(`try ${podName} belongs to another executor now`);
  }
}

export async function markTryRunning(db: Db, executorId: string, t: ActiveTry, startedAt: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    const held = await tx.query(
      `UPDATE task_tries SET state = CASE WHEN state = 'queued' THEN 'running' ELSE state END, started_at = COALESCE(started_at, $3)
        WHERE task_instance_id = $1 AND try_number = $2 AND executor_id = $4 RETURNING 1`,
      [t.taskInstanceId, t.tryNumber, startedAt, executorId],
    );
    if (held.length === 0) throw new LeaseLostError(t.podName);
    const rows = await tx.query(
      `UPDATE task_instances SET state = 'running', started_at = $3, updated_at = now()
        WHERE id = $1 AND try_number = $2 AND state = 'queued' RETURNING id`,
      [t.taskInstanceId, t.tryNumber, startedAt],
    );
    return rows.length > 0;
  });
}

/** What recordOutcome needs of the task beyond the verdict: how its retries are spaced and bounded. */
export interface RetryRules {
  /** The delay before a counted retry after this try (retryDelay with its backoff). */
  retryDelayMs: number;
  infraRetries: number;
  /** The first infrastructure retry's delay (each further one doubles). */
  infraRetryDelayMs: number;
}

/**
 * Records how a try ended and moves its task on: success, up_for_retry (tries remain, or the failure was
 * not the task's and infrastructure retries remain) or failed. If the task moved on meanwhile
 * (cancelled, cleared), only the try is recorded. Returns the task's new state.
 */
export async function recordOutcome(
  db: Db,
  executorId: string,
  t: ActiveTry,
  o: TryVerdict,
  rules: RetryRules,
  /** Written with the outcome, or not at all: a reader who sees the try ended sees this too. */
  endNote?: TryEventInput,
): Promise<string | null> {
  return db.transaction(async (tx) => {
    // The run first: cancel and clear lock the run and then its tasks, so this order cannot deadlock.
    await tx.query(`UPDATE dag_runs SET plan_requested_at = clock_timestamp() WHERE id = $1`, [t.runPk]);
    // Only the lease holder records (a fence against an executor that lost its lease while alive).
    const recorded = await tx.query(
      `UPDATE task_tries SET state = $3, ended_at = now(), exit_code = $4, reason = $5, message = $6,
              started_at = COALESCE(started_at, $7), log_complete = $8, log_bytes = GREATEST(log_bytes, $9),
              log_finished_at = CASE WHEN $8 THEN now() END
        WHERE task_instance_id = $1 AND try_number = $2 AND ended_at IS NULL AND executor_id = $10
        RETURNING 1`,
      [t.taskInstanceId, t.tryNumber, o.tryState, o.exitCode, o.reason, truncate(o.message), o.startedAt, o.logComplete, o.logBytes, executorId],
    );
    if (recorded.length === 0) {
      const [mine] = await tx.query(`SELECT 1 FROM task_tries WHERE task_instance_id = $1 AND try_number = $2 AND executor_id = $3`, [
        t.taskInstanceId,
        t.tryNumber,
        executorId,
      ]);
      if (!mine) throw new LeaseLostError(t.podName);
      return null; // recorded before (a retry of this step after a failure further on)
    }
    if (endNote) await addTryEvents(tx, t.taskInstanceId, t.tryNumber, [endNote]);
    if (o.tryState === "cancelled") return null;
    const [task] = await tx.query<{ max_tries: number; infra_tries: number }>(
      `SELECT max_tries, infra_tries FROM task_instances
        WHERE id = $1 AND try_number = $2 AND state IN (${sqlStates(ACTIVE_TASK_STATES)}) FOR UPDATE`,
      [t.taskInstanceId, t.tryNumber],
    );
    if (!task) return null; // it moved on (cancelled or cleared): only the try is recorded
    if (o.tryState === "success") {
      await tx.query(
        `UPDATE task_instances SET state = 'success', retry_at = NULL, result = $2::jsonb, started_at = COALESCE(started_at, $3),
                ended_at = now(), updated_at = now()
          WHERE id = $1`,
        [t.taskInstanceId, JSON.stringify(o.result ?? null), o.startedAt],
      );
      return "success";
    }
    const next = afterFailure({
      now: new Date(),
      tryNumber: t.tryNumber,
      maxTries: task.max_tries,
      retryable: o.retryable,
      infra: o.infra,
      infraUsed: task.infra_tries,
      infraRetries: rules.infraRetries,
      retryDelayMs: rules.retryDelayMs,
      infraRetryDelayMs: rules.infraRetryDelayMs,
    });
    const extra = next.counted ? 0 : 1;
    await tx.query(
      `UPDATE task_instances SET state = $2, retry_at = $3, result = NULL, started_at = COALESCE(started_at, $4),
              ended_at = CASE WHEN $2 = 'failed' THEN now() END, max_tries = max_tries + $5, infra_tries = infra_tries + $5,
              updated_at = now()
        WHERE id = $1`,
      [t.taskInstanceId, next.state, next.retryAt, o.startedAt, extra],
    );
    if (!next.counted) {
      await tx.query(`UPDATE task_tries SET counted = false WHERE task_instance_id = $1 AND try_number = $2`, [t.taskInstanceId, t.tryNumber]);
    }
    return next.state;
  });
}

function truncate(s: string | null, max = 4096): string | null {
  return s && s.length > max ? s.slice(0, max) : s;
}

/** How far the store has the try's log, as its copy goes (fenced: only the lease holder writes). */
export async function saveLogProgress(db: Queryable, executorId: string, t: ActiveTry, bytes: number, checkpoint: LogCheckpoint | null): Promise<void> {
  await db.query(
    `UPDATE task_tries SET log_bytes = GREATEST(log_bytes, $3),
            log_resume_since = COALESCE($4, log_resume_since), log_resume_offset = COALESCE($5, log_resume_offset)
      WHERE task_instance_id = $1 AND try_number = $2 AND executor_id = $6 AND NOT log_complete`,
    [t.taskInstanceId, t.tryNumber, bytes, checkpoint?.since ?? null, checkpoint?.offset ?? null, executorId],
  );
}

/** The log copy is over: all of it is stored, or all that could be (the try's events say why not). */
export async function markLogDone(db: Queryable, executorId: string, t: ActiveTry, complete: boolean, bytes: number): Promise<void> {
  const rows = await db.query(
    `UPDATE task_tries SET log_complete = $3, log_bytes = GREATEST(log_bytes, $4), log_finished_at = COALESCE(log_finished_at, now())
      WHERE task_instance_id = $1 AND try_number = $2 AND executor_id = $5 RETURNING 1`,
    [t.taskInstanceId, t.tryNumber, complete, bytes, executorId],
  );
  if (rows.length === 0) throw new LeaseLostError(t.podName);
}

export async function markReclaimed(db: Queryable, executorId: string, t: ActiveTry, podKeptUntil: Date | null = null): Promise<void> {
  const rows = await db.query(
    `UPDATE task_tries SET pod_reclaimed = true, lease_until = NULL, pod_kept_until = $4
      WHERE task_instance_id = $1 AND try_number = $2 AND executor_id = $3 RETURNING 1`,
    [t.taskInstanceId, t.tryNumber, executorId, podKeptUntil],
  );
  if (rows.length === 0) throw new LeaseLostError(t.podName);
}

export interface PodClaim {
  namespace: string;
  podName: string;
}

/**
 * Of these Ferry-labelled Pods, the ones nothing needs any more: no try that is not reclaimed owns them,
 * and none is kept for debugging past now. Read after the Pods were listed: a try's row is written
 * before its Pod is created, so a Pod in the list whose try is live always finds its row here.
 */
export async function unownedPods(db: Queryable, pods: PodClaim[]): Promise<PodClaim[]> {
  if (pods.length === 0) return [];
  const rows = await db.query<{ namespace: string; pod_name: string }>(
    `SELECT u.namespace, u.pod_name FROM unnest($1::text[], $2::text[]) AS u(namespace, pod_name)
      WHERE NOT EXISTS (
        SELECT 1 FROM task_tries t
         WHERE t.namespace = u.namespace AND t.pod_name = u.pod_name
           AND (NOT t.pod_reclaimed OR t.pod_kept_until > now()))`,
    [pods.map((p) => p.namespace), pods.map((p) => p.podName)],
  );
  return rows.map((r) => ({ namespace: r.namespace, podName: r.pod_name }));
}

/** Of the given tries, those whose task no longer wants them (cancelled, or cleared for a new try). */
export async function unwantedTries(db: Queryable, tries: ActiveTry[]): Promise<Set<string>> {
  if (tries.length === 0) return new Set();
  const rows = await db.query(
    `SELECT u.id, u.try_number FROM unnest($1::bigint[], $2::int[]) AS u(id, try_number)
       LEFT JOIN task_instances ti ON ti.id = u.id
      WHERE ti.id IS NULL OR ti.try_number <> u.try_number OR ti.state NOT IN (${sqlStates(ACTIVE_TASK_STATES)})`,
    [tries.map((t) => t.taskInstanceId), tries.map((t) => t.tryNumber)],
  );
  return new Set(rows.map((r) => tryKey(String(r.id), r.try_number as number)));
}

/** What a try's Pod is built from, besides the try itself. */
export interface CreateInputs {
  /** Results of the run's tasks that succeeded, for templates and function task contexts. */
  results: Record<string, { result: unknown }>;
  /** When the last of the task's upstream tasks ended (null when none has, or it has none). */
  upstreamEnd: Date | null;
}

/** One read, as each Pod create needs it: the run's results and when the task's upstream ended. */
export async function createInputs(db: Queryable, runPk: string, upstream: string[]): Promise<CreateInputs> {
  const rows = await db.query<{ task_id: string; succeeded: boolean; result: unknown; ended_at: Date | null }>(
    `SELECT task_id, state = 'success' AS succeeded, result, ended_at FROM task_instances
      WHERE run_pk = $1 AND (state = 'success' OR task_id = ANY($2))`,
    [runPk, upstream],
  );
  let upstreamEnd: Date | null = null;
  for (const r of rows) {
    if (r.ended_at && upstream.includes(r.task_id) && (upstreamEnd === null || r.ended_at > upstreamEnd)) upstreamEnd = r.ended_at;
  }
  return { results: Object.fromEntries(rows.filter((r) => r.succeeded).map((r) => [r.task_id, { result: r.result ?? null }])), upstreamEnd };
}

export interface TryLogInfo {
  podName: string;
  namespace: string;
  tryNumber: number;
  state: string;
  logComplete: boolean;
  podReclaimed: boolean;
  endedAt: Date | null;
  /** Where a read of the live Pod's log resumes after the stored bytes (see pod-log-resume.ts). */
  logCheckpoint: LogCheckpoint | null;
}

/** The try a log request is about: `tryNumber`, or the latest. */
export async function findTry(db: Queryable, taskInstanceId: string, tryNumber: number | null): Promise<TryLogInfo | null> {
  const [r] = await db.query(
    `SELECT pod_name, namespace, try_number, state, log_complete, pod_reclaimed, ended_at, log_resume_since, log_resume_offset FROM task_tries
      WHERE task_instance_id = $1 AND ($2::int IS NULL OR try_number = $2)
      ORDER BY try_number DESC LIMIT 1`,
    [taskInstanceId, tryNumber],
  );
  return r
    ? {
        podName: r.pod_name as string,
        namespace: r.namespace as string,
        tryNumber: r.try_number as number,
        state: r.state as string,
        logComplete: r.log_complete as boolean,
        podReclaimed: r.pod_reclaimed as boolean,
        endedAt: (r.ended_at as Date | null) ?? null,
        logCheckpoint: checkpointOf(r),
      }
    : null;
}

export interface TryView {
  tryNumber: number;
  state: string;
  podName: string;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  logComplete: boolean;
  logBytes: number;
  /** When the log copy ended (complete or not); null while it goes on. */
  logFinishedAt: Date | null;
  /** False for a try that failed for a reason outside the task: it did not use up one of the task's retries. */
  counted: boolean;
}

/** Every try of a task, oldest first. */
export async function listTries(db: Queryable, taskInstanceId: string): Promise<TryView[]> {
  const rows = await db.query(
    `SELECT try_number, state, pod_name, created_at, started_at, ended_at, exit_code, reason, message, log_complete, log_bytes,
            log_finished_at, counted
       FROM task_tries WHERE task_instance_id = $1 ORDER BY try_number`,
    [taskInstanceId],
  );
  return rows.map((r) => ({
    tryNumber: r.try_number as number,
    state: r.state as string,
    podName: r.pod_name as string,
    createdAt: r.created_at as Date,
    startedAt: (r.started_at as Date | null) ?? null,
    endedAt: (r.ended_at as Date | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    message: (r.message as string | null) ?? null,
    logComplete: r.log_complete as boolean,
    logBytes: Number(r.log_bytes),
    logFinishedAt: (r.log_finished_at as Date | null) ?? null,
    counted: r.counted as boolean,
  }));
}

/**
 * Hands back every try this executor holds whose Pod is not reclaimed yet, so the next executor adopts
 * them at once instead of waiting for the leases to run out (a graceful stop).
 */
export async function releaseLeases(db: Queryable, executorId: string): Promise<void> {
  await db.query(`UPDATE task_tries SET lease_until = NULL WHERE executor_id = $1 AND NOT pod_reclaimed`, [executorId]);
}
