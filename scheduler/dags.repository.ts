// The only module that writes `dags` and `dag_versions`, and where every statement about them lives
// (other modules only join them for reading). It reads `dag_runs` to refuse deleting a DAG whose runs
// are active. Also the process's cache of DAG definitions (DagDefinitionCache), since versions never change.
import { createHash } from "node:crypto";
import type { Db, Queryable } from "../db/db.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import { initialNextRunAt } from "./cron.ts";
import { ACTIVE_RUN_STATES, sqlStates } from "./states.ts";

export interface DagRow {
  dagId: string;
  latestVersion: number;
  paused: boolean;
  nextRunAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  definition: DagDefinition;
  /** Ticks the overlap policy "forbid" skipped, and the latest of them with why. */
  skippedTicks: number;
  lastSkippedTick: { tick: Date; reason: string } | null;
}

export interface DagVersionRow {
  dagId: string;
  version: number;
  definition: DagDefinition;
  createdAt: Date;
}

const DAG_COLUMNS = `d.dag_id, d.latest_version, d.paused, d.next_run_at, d.created_at, d.updated_at, v.definition,
  d.skipped_ticks, d.last_skipped_tick, d.last_skip_reason`;

function toDag(r: Record<string, unknown>): DagRow {
  return {
    dagId: r.dag_id as string,
    latestVersion: r.latest_version as number,
    paused: r.paused as boolean,
    nextRunAt: (r.next_run_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    definition: r.definition as DagDefinition,
    skippedTicks: (r.skipped_ticks as number | undefined) ?? 0,
    lastSkippedTick: r.last_skipped_tick ? { tick: r.last_skipped_tick as Date, reason: r.last_skip_reason as string } : null,
  };
}

// What decides where a schedule stands; a new version that changes it starts the schedule afresh.
// (A definition without `end` stringifies it as null, so versions stored before it existed keep their key.)
function scheduleKey(d: DagDefinition): string {
  return JSON.stringify([d.schedule, d.timezone, d.start, d.catchup, d.end]);
}

export interface SavedVersion {
  version: number;
  /** False when the source was identical to the latest version (no new version was made). */
  created: boolean;
}

/**
 * Stores a compiled DAG file as the DAG's next version. Posting the same source again is a no-op that
 * returns the existing version, so re-deploying is idempotent.
 */
export async function saveDagVersion(
  db: Db,
  input: { definition: DagDefinition; source: string; bundle: string },
  now = new Date(),
): Promise<SavedVersion> {
  const { definition, source, bundle } = input;
  const sha = createHash("sha256").update(source).digest("hex");
  return db.transaction(async (tx) => {
    // Lock the DAG row (or, for a new DAG, serialise concurrent first posts on an advisory lock).
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('ferry-dag:' || $1))", [definition.dagId]);
    const [current] = await tx.query<{ latest_version: number; source_sha256: string; definition: DagDefinition; deleted: boolean }>(
      `SELECT d.latest_version, v.source_sha256, v.definition, d.deleted_at IS NOT NULL AS deleted FROM dags d
         JOIN dag_versions v ON v.dag_id = d.dag_id AND v.version = d.latest_version
        WHERE d.dag_id = $1`,
      [definition.dagId],
    );
    if (current && !current.deleted && current.source_sha256 === sha) return { version: current.latest_version, created: false };
    // Versions only grow, also across a delete: a version number always names the same code.
    const version = (current?.latest_version ?? 0) + 1;
    const scheduleChanged = !current || current.deleted || scheduleKey(current.definition) !== scheduleKey(definition);
    const nextRunAt = definition.schedule
      ? initialNextRunAt(
          definition.schedule,
          definition.timezone,
          definition.start ? new Date(definition.start) : null,
          definition.catchup,
          now,
          definition.end ? new Date(definition.end) : null,
        )
      : null;
    if (!current) {
      await tx.query(`INSERT INTO dags (dag_id, latest_version, next_run_at) VALUES ($1, 0, $2)`, [definition.dagId, nextRunAt]);
    }
    await tx.query(
      `INSERT INTO dag_versions (dag_id, version, source, source_sha256, bundle, definition) VALUES ($1, $2, $3, $4, $5, $6)`,
      [definition.dagId, version, source, sha, bundle, JSON.stringify(definition)],
    );
    await tx.query(
      `UPDATE dags SET latest_version = $2, updated_at = now(), max_active_tasks = $5,
              next_run_at = CASE WHEN $3::boolean THEN $4::timestamptz ELSE next_run_at END,
              paused = CASE WHEN deleted_at IS NOT NULL THEN false ELSE paused END,
              deleted_at = NULL
        WHERE dag_id = $1`,
      [definition.dagId, version, scheduleChanged, nextRunAt, definition.maxActiveTasks ?? null],
    );
    return { version, created: true };
  });
}

export async function getDag(db: Queryable, dagId: string): Promise<DagRow | null> {
  const rows = await db.query(
    `SELECT ${DAG_COLUMNS} FROM dags d JOIN dag_versions v ON v.dag_id = d.dag_id AND v.version = d.latest_version
      WHERE d.dag_id = $1 AND d.deleted_at IS NULL`,
    [dagId],
  );
  return rows[0] ? toDag(rows[0]) : null;
}

/** Locks a (not deleted) DAG's row for the caller's transaction: its schedule and queues wait meanwhile. */
export async function lockDag(tx: Queryable, dagId: string): Promise<DagRow | null> {
  const rows = await tx.query(
    `SELECT ${DAG_COLUMNS} FROM dags d JOIN dag_versions v ON v.dag_id = d.dag_id AND v.version = d.latest_version
      WHERE d.dag_id = $1 AND d.deleted_at IS NULL FOR UPDATE OF d`,
    [dagId],
  );
  return rows[0] ? toDag(rows[0]) : null;
}

export async function listDags(db: Queryable, opts: { limit: number; after?: string }): Promise<DagRow[]> {
  const rows = await db.query(
    `SELECT ${DAG_COLUMNS} FROM dags d JOIN dag_versions v ON v.dag_id = d.dag_id AND v.version = d.latest_version
      WHERE d.deleted_at IS NULL AND ($2::text IS NULL OR d.dag_id > $2) ORDER BY d.dag_id LIMIT $1`,
    [opts.limit, opts.after ?? null],
  );
  return rows.map(toDag);
}

export async function getDagVersion(db: Queryable, dagId: string, version: number): Promise<DagVersionRow | null> {
  const [r] = await db.query(`SELECT dag_id, version, definition, created_at FROM dag_versions WHERE dag_id = $1 AND version = $2`, [
    dagId,
    version,
  ]);
  return r
    ? { dagId: r.dag_id as string, version: r.version as number, definition: r.definition as DagDefinition, createdAt: r.created_at as Date }
    : null;
}

export async function getBundle(db: Queryable, dagId: string, version: number): Promise<string | null> {
  const [r] = await db.query<{ bundle: string }>(`SELECT bundle FROM dag_versions WHERE dag_id = $1 AND version = $2`, [dagId, version]);
  return r ? r.bundle : null;
}

/**
 * A DAG version's bundle if it is at most `maxBytes` long in UTF-8, else only its length (`bundle` null):
 * what a worker Pod can be handed inline. null when there is no such version.
 */
export async function getBundleIfAtMost(db: Queryable, dagId: string, version: number, maxBytes: number): Promise<{ bundle: string | null; bytes: number } | null> {
  const [r] = await db.query<{ bundle: string | null; bytes: number }>(
    `SELECT CASE WHEN octet_length(bundle) <= $3 THEN bundle END AS bundle, octet_length(bundle) AS bytes FROM dag_versions WHERE dag_id = $1 AND version = $2`,
    [dagId, version, maxBytes],
  );
  return r ?? null;
}

export async function setPaused(db: Queryable, dagId: string, paused: boolean): Promise<boolean> {
  const rows = await db.query(`UPDATE dags SET paused = $2, updated_at = now() WHERE dag_id = $1 AND deleted_at IS NULL RETURNING dag_id`, [
    dagId,
    paused,
  ]);
  return rows.length > 0;
}

export type DeleteDagOutcome = "deleted" | "not_found" | "has_active_runs";

/**
 * Deletes a DAG: it disappears from the API and its schedule stops; refused while runs are queued or
 * running. Its versions, runs and logs are kept (posting the same id again revives it, as a new version).
 */
export async function deleteDag(db: Db, dagId: string): Promise<DeleteDagOutcome> {
  return db.transaction(async (tx) => {
    const [dag] = await tx.query(`SELECT dag_id FROM dags WHERE dag_id = $1 AND deleted_at IS NULL FOR UPDATE`, [dagId]);
    if (!dag) return "not_found";
    const [active] = await tx.query(`SELECT 1 FROM dag_runs WHERE dag_id = $1 AND state IN (${sqlStates(ACTIVE_RUN_STATES)}) LIMIT 1`, [dagId]);
    if (active) return "has_active_runs";
    await tx.query(`UPDATE dags SET deleted_at = now(), paused = true, next_run_at = NULL, updated_at = now() WHERE dag_id = $1`, [dagId]);
    return "deleted";
  });
}

/** Whether a DAG id was ever posted (deleted DAGs included: their runs stay readable). */
export async function dagIdKnown(db: Queryable, dagId: string): Promise<boolean> {
  const rows = await db.query(`SELECT 1 FROM dags WHERE dag_id = $1`, [dagId]);
  return rows.length > 0;
}

/** The latest version of a DAG, deleted or not; null for an id never posted. */
export async function latestVersionOf(db: Queryable, dagId: string): Promise<number | null> {
  const [row] = await db.query<{ latest_version: number }>(`SELECT latest_version FROM dags WHERE dag_id = $1`, [dagId]);
  return row ? row.latest_version : null;
}

export interface DueDag {
  dagId: string;
  nextRunAt: Date;
  latestVersion: number;
  definition: DagDefinition;
}

/**
 * Locks up to `limit` unpaused DAGs whose next scheduled run is due, soonest first, skipping those
 * another scheduler holds. Call in a transaction; move each one's next_run_at on with setNextRunAt.
 */
export async function lockDueDags(tx: Queryable, now: Date, limit: number): Promise<DueDag[]> {
  const rows = await tx.query<{ dag_id: string; next_run_at: Date; latest_version: number; definition: DagDefinition }>(
    `SELECT d.dag_id, d.next_run_at, d.latest_version, v.definition
       FROM dags d JOIN dag_versions v ON v.dag_id = d.dag_id AND v.version = d.latest_version
      WHERE NOT d.paused AND d.next_run_at <= $1
      ORDER BY d.next_run_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
    [now, limit],
  );
  return rows.map((r) => ({ dagId: r.dag_id, nextRunAt: r.next_run_at, latestVersion: r.latest_version, definition: r.definition }));
}

/** Sets when a DAG's next scheduled run is due (null: it has no schedule). */
export async function setNextRunAt(tx: Queryable, dagId: string, nextRunAt: Date | null): Promise<void> {
  await tx.query(`UPDATE dags SET next_run_at = $2 WHERE dag_id = $1`, [dagId, nextRunAt]);
}

/** Records a tick the overlap policy "forbid" skipped, with why (shown in the DAG's JSON). */
export async function recordSkippedTick(tx: Queryable, dagId: string, tick: Date, reason: string): Promise<void> {
  await tx.query(
    `UPDATE dags SET skipped_ticks = skipped_ticks + 1, last_skipped_tick = $2, last_skip_reason = $3 WHERE dag_id = $1`,
    [dagId, tick, reason],
  );
}

/** DAGs by paused state (deleted DAGs left out), for the metrics. */
export async function countDagsByPaused(db: Queryable): Promise<{ paused: number; active: number }> {
  const rows = await db.query<{ paused: boolean; n: number }>(`SELECT paused, count(*)::int AS n FROM dags WHERE deleted_at IS NULL GROUP BY paused`);
  return { paused: rows.find((r) => r.paused)?.n ?? 0, active: rows.find((r) => !r.paused)?.n ?? 0 };
}

/**
 * DAG versions never change once written, so their definitions are cached for the life of the process.
 * One cache per process, shared by the scheduler and the executor (app/ferry.ts hands both the same one).
 */
export class DagDefinitionCache {
  private readonly definitions = new Map<string, DagDefinition>();

  /** `via` is the caller's transaction when it holds locks: a second pool connection could deadlock the pool. */
  async get(via: Queryable, dagId: string, version: number): Promise<DagDefinition | null> {
    const key = `${dagId}@${version}`;
    let def = this.definitions.get(key);
    if (!def) {
      const row = await getDagVersion(via, dagId, version);
      if (!row) return null;
      def = row.definition;
      this.definitions.set(key, def);
    }
    return def;
  }
}
