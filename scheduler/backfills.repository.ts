// The only module that writes `backfills`. A backfill's runs are dag_runs rows pointing at it
// (backfill_id), written by runs.repository.ts.
import type { Queryable } from "../db/db.ts";

export const REPROCESS_MODES = ["none", "failed", "all"] as const;
/** What a backfill does with a tick that already has a run (README.md, "Scheduling rules"). */
export type Reprocess = (typeof REPROCESS_MODES)[number];

export interface BackfillRow {
  id: string;
  dagId: string;
  from: Date;
  to: Date;
  maxActiveRuns: number;
  reprocess: Reprocess;
  /** The DAG version the backfill's new runs were created with. */
  dagVersion: number;
  createdAt: Date;
  cancelledAt: Date | null;
}

const COLUMNS = `id, dag_id, from_date, to_date, max_active_runs, reprocess, dag_version, created_at, cancelled_at`;

function toBackfill(r: Record<string, unknown>): BackfillRow {
  return {
    id: String(r.id),
    dagId: r.dag_id as string,
    from: r.from_date as Date,
    to: r.to_date as Date,
    maxActiveRuns: r.max_active_runs as number,
    reprocess: r.reprocess as Reprocess,
    dagVersion: r.dag_version as number,
    createdAt: r.created_at as Date,
    cancelledAt: (r.cancelled_at as Date | null) ?? null,
  };
}

export async function insertBackfill(
  tx: Queryable,
  b: { dagId: string; from: Date; to: Date; maxActiveRuns: number; reprocess: Reprocess; dagVersion: number },
): Promise<BackfillRow> {
  const [row] = await tx.query(
    `INSERT INTO backfills (dag_id, from_date, to_date, max_active_runs, reprocess, dag_version) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [b.dagId, b.from, b.to, b.maxActiveRuns, b.reprocess, b.dagVersion],
  );
  return toBackfill(row!);
}

// Ids come from URLs: anything but a plain positive integer names no backfill (rather than a SQL error).
const isId = (id: string) => /^[1-9]\d{0,17}$/.test(id);

export async function getBackfill(db: Queryable, dagId: string, id: string): Promise<BackfillRow | null> {
  if (!isId(id)) return null;
  const [row] = await db.query(`SELECT ${COLUMNS} FROM backfills WHERE id = $1 AND dag_id = $2`, [id, dagId]);
  return row ? toBackfill(row) : null;
}

export async function lockBackfill(tx: Queryable, dagId: string, id: string): Promise<BackfillRow | null> {
  if (!isId(id)) return null;
  const [row] = await tx.query(`SELECT ${COLUMNS} FROM backfills WHERE id = $1 AND dag_id = $2 FOR UPDATE`, [id, dagId]);
  return row ? toBackfill(row) : null;
}

export async function markBackfillCancelled(tx: Queryable, id: string): Promise<void> {
  await tx.query(`UPDATE backfills SET cancelled_at = now() WHERE id = $1 AND cancelled_at IS NULL`, [id]);
}
