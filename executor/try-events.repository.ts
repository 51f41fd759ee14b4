// The only module that touches `task_try_events` (it joins task_tries and task_instances to find a
// try): Ferry's account of each try (why it died, who cancelled it, what the cluster said about its
// Pod), kept beside the log and never mixed into it.
import type { Queryable } from "../db/db.ts";

export interface TryEventInput {
  at?: Date;
  source: "ferry" | "kubernetes";
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  count?: number;
  lastAt?: Date | null;
  /** A Kubernetes Event's uid: the same Event captured again updates its row. */
  ref?: string | null;
}

export interface TryEvent {
  at: Date;
  source: "ferry" | "kubernetes";
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  count: number;
  lastAt: Date | null;
}

const MAX_MESSAGE = 4096;
const clip = (message: string) => (message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message);

export async function addTryEvents(db: Queryable, taskInstanceId: string, tryNumber: number, events: TryEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `INSERT INTO task_try_events (task_instance_id, try_number, at, source, type, reason, message, count, last_at, ref)
     SELECT $1, $2, e.at, e.source, e.type, e.reason, e.message, e.count, e.last_at, e.ref
       FROM unnest($3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::timestamptz[], $10::text[])
         AS e(at, source, type, reason, message, count, last_at, ref)
     ON CONFLICT (task_instance_id, try_number, ref) WHERE ref IS NOT NULL
       DO UPDATE SET count = EXCLUDED.count, last_at = EXCLUDED.last_at, message = EXCLUDED.message`,
    [
      taskInstanceId,
      tryNumber,
      events.map((e) => e.at ?? new Date()),
      events.map((e) => e.source),
      events.map((e) => e.type),
      events.map((e) => e.reason),
      events.map((e) => clip(e.message)),
      events.map((e) => e.count ?? 1),
      events.map((e) => e.lastAt ?? null),
      events.map((e) => e.ref ?? null),
    ],
  );
}

/** A try's events, oldest first. */
export async function listTryEvents(db: Queryable, taskInstanceId: string, tryNumber: number): Promise<TryEvent[]> {
  const rows = await db.query(
    `SELECT at, source, type, reason, message, count, last_at FROM task_try_events
      WHERE task_instance_id = $1 AND try_number = $2 ORDER BY at, id`,
    [taskInstanceId, tryNumber],
  );
  return rows.map(toEvent);
}

function toEvent(r: Record<string, unknown>): TryEvent {
  return {
    at: r.at as Date,
    source: r.source as TryEvent["source"],
    type: r.type as TryEvent["type"],
    reason: r.reason as string,
    message: r.message as string,
    count: r.count as number,
    lastAt: (r.last_at as Date | null) ?? null,
  };
}

/** The events of every try of a task, by try number, oldest first: one query however many tries. */
export async function listTaskTryEvents(db: Queryable, taskInstanceId: string): Promise<Map<number, TryEvent[]>> {
  const rows = await db.query(
    `SELECT try_number, at, source, type, reason, message, count, last_at FROM task_try_events
      WHERE task_instance_id = $1 ORDER BY try_number, at, id`,
    [taskInstanceId],
  );
  const byTry = new Map<number, TryEvent[]>();
  for (const r of rows) {
    const n = r.try_number as number;
    const list = byTry.get(n) ?? [];
    list.push(toEvent(r));
    byTry.set(n, list);
  }
  return byTry;
}

/** One record of Ferry's own, written for many tries at once. */
export interface FerryRecord {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/**
 * Records `e` on every try of the run that has not ended yet (queued or running), in one INSERT so it
 * can join the transaction that changed the run. Returns how many tries got it.
 */
export async function recordOnOpenTries(tx: Queryable, runPk: string, e: FerryRecord): Promise<number> {
  const rows = await tx.query(
    `INSERT INTO task_try_events (task_instance_id, try_number, at, source, type, reason, message)
     SELECT t.task_instance_id, t.try_number, now(), 'ferry', $2, $3, $4
       FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
      WHERE ti.run_pk = $1 AND t.ended_at IS NULL
     RETURNING 1`,
    [runPk, e.type, e.reason, clip(e.message)],
  );
  return rows.length;
}

/**
 * Records one event on the latest try of each named task of the run (tasks with no try yet get none),
 * each with its own message, in one INSERT. Returns how many tries got one.
 */
export async function recordOnLatestTries(
  tx: Queryable,
  runPk: string,
  records: { taskId: string; type: "Normal" | "Warning"; reason: string; message: string }[],
): Promise<number> {
  if (records.length === 0) return 0;
  const rows = await tx.query(
    `INSERT INTO task_try_events (task_instance_id, try_number, at, source, type, reason, message)
     SELECT ti.id, ti.try_number, now(), 'ferry', r.type, r.reason, r.message
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS r(task_id, type, reason, message)
       JOIN task_instances ti ON ti.run_pk = $1 AND ti.task_id = r.task_id
       JOIN task_tries t ON t.task_instance_id = ti.id AND t.try_number = ti.try_number
     RETURNING 1`,
    [runPk, records.map((r) => r.taskId), records.map((r) => r.type), records.map((r) => r.reason), records.map((r) => clip(r.message))],
  );
  return rows.length;
}

/** What a try's events add up to, for the try's JSON (see summarizeTryEvents). */
export interface TryEventsSummary {
  /** How many events (an aggregated Kubernetes Event, however often seen, is one). */
  count: number;
  warnings: number;
  /** The Warning seen most recently (by lastAt, else at): usually why the try ended badly. */
  lastWarning: { at: Date; source: TryEvent["source"]; reason: string; message: string } | null;
}

/** Sums up a try's events (oldest first, as listed); pure, so the API can do it for every try at once. */
export function summarizeTryEvents(events: readonly TryEvent[]): TryEventsSummary {
  let warnings = 0;
  let last: TryEvent | null = null;
  const seen = (e: TryEvent) => (e.lastAt ?? e.at).getTime();
  for (const e of events) {
    if (e.type !== "Warning") continue;
    warnings++;
    // `>=`: of two Warnings seen at the same moment, the one listed later happened later.
    if (last === null || seen(e) >= seen(last)) last = e;
  }
  return {
    count: events.length,
    warnings,
    lastWarning: last && { at: last.lastAt ?? last.at, source: last.source, reason: last.reason, message: last.message },
  };
}
