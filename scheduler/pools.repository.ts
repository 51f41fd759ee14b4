// The only module that writes `pools`: named sets of slots that bound how many tries of the tasks in
// them may be queued or running at once (executor/tries.repository.ts reads them when it claims).
import type { Queryable } from "../db/db.ts";
import { ACTIVE_TASK_STATES, sqlStates } from "./states.ts";

/** The pool a task without one uses; it can be resized, never deleted. */
export const DEFAULT_POOL = "default";

export interface PoolRow {
  name: string;
  slots: number;
  description: string | null;
  /** Tries of its tasks queued or running now (each holds a slot). */
  occupied: number;
  /** Its tasks waiting `scheduled` (for a slot, or for an executor). */
  waiting: number;
  createdAt: Date;
  updatedAt: Date;
}

const POOL_SELECT = `
  SELECT p.name, p.slots, p.description, p.created_at, p.updated_at,
         (SELECT count(*) FROM task_instances ti WHERE ti.pool = p.name AND ti.state IN (${sqlStates(ACTIVE_TASK_STATES)}))::int AS occupied,
         (SELECT count(*) FROM task_instances ti WHERE ti.pool = p.name AND ti.state = 'scheduled')::int AS waiting
    FROM pools p`;

function toPool(r: Record<string, unknown>): PoolRow {
  return {
    name: r.name as string,
    slots: r.slots as number,
    description: (r.description as string | null) ?? null,
    occupied: r.occupied as number,
    waiting: r.waiting as number,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

/** Pools in name order, after `after` (a name, for paging). */
export async function listPools(db: Queryable, opts: { limit: number; after?: string | null }): Promise<PoolRow[]> {
  const rows = await db.query(`${POOL_SELECT} WHERE ($1::text IS NULL OR p.name > $1) ORDER BY p.name LIMIT $2`, [opts.after ?? null, opts.limit]);
  return rows.map(toPool);
}

export async function getPool(db: Queryable, name: string): Promise<PoolRow | null> {
  const [row] = await db.query(`${POOL_SELECT} WHERE p.name = $1`, [name]);
  return row ? toPool(row) : null;
}

/** Creates the pool or changes its slots (and description, when given); returns it and whether it is new. */
export async function putPool(db: Queryable, name: string, slots: number, description: string | null | undefined): Promise<{ pool: PoolRow; created: boolean }> {
  const [row] = await db.query<{ created: boolean }>(
    `INSERT INTO pools (name, slots, description) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET slots = EXCLUDED.slots, updated_at = now(),
        description = CASE WHEN $4 THEN EXCLUDED.description ELSE pools.description END
     RETURNING (xmax = 0) AS created`,
    [name, slots, description ?? null, description !== undefined],
  );
  return { pool: (await getPool(db, name))!, created: row!.created };
}

/** Deletes a pool; its tasks wait `scheduled` until it exists again. False when there was none. */
export async function deletePool(db: Queryable, name: string): Promise<boolean> {
  const rows = await db.query(`DELETE FROM pools WHERE name = $1 RETURNING 1`, [name]);
  return rows.length > 0;
}
