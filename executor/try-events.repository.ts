// The only module that touches `task_try_events`: Ferry's account of each try (why it died, who
// cancelled it, what the cluster said about its Pod), kept beside the log and never mixed into it.
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
      events.map((e) => (e.message.length > MAX_MESSAGE ? e.message.slice(0, MAX_MESSAGE) : e.message)),
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
  return rows.map((r) => ({
    at: r.at as Date,
    source: r.source as TryEvent["source"],
    type: r.type as TryEvent["type"],
    reason: r.reason as string,
    message: r.message as string,
    count: r.count as number,
    lastAt: (r.last_at as Date | null) ?? null,
  }));
}
