// The one narrow seam to Postgres. Every module talks to the database through `Db` (a pool) or a
// `Tx` inside `db.transaction()`, so SQL is easy to find and the connection handling lives here.
import pg from "pg";

// Bigint ids stay strings in JS; timestamps are parsed to Date by pg already. int8 counts we cast in SQL.
export type Row = Record<string, unknown>;

export interface Queryable {
  query<R extends Row = Row>(text: string, values?: unknown[]): Promise<R[]>;
}

export interface Db extends Queryable {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** A dedicated connection for LISTEN; released by the returned function. `onLost` runs if it drops. */
  listen(channel: string, onNotify: (payload: string) => void, onLost?: () => void): Promise<() => Promise<void>>;
  notify(channel: string, payload?: string): Promise<void>;
  close(): Promise<void>;
  readonly pool: pg.Pool;
}

export function connectDb(connectionString: string, opts: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? "ferry",
    // A pool that stays exhausted fails the waiting step (which is retried) instead of hanging forever.
    connectionTimeoutMillis: 30_000,
  });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});

  const query = async <R extends Row>(text: string, values?: unknown[]): Promise<R[]> => {
    const res = await pool.query(text, values as unknown[]);
    return res.rows as R[];
  };

  return {
    pool,
    query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const tx: Queryable = {
          query: async <R extends Row>(text: string, values?: unknown[]) =>
            (await client.query(text, values as unknown[])).rows as R[],
        };
        const result = await fn(tx);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, onNotify, onLost) {
      // The listener only ever waits, so a connection that died silently (a NAT or proxy dropped it)
      // is found by TCP keep-alive, and a connect that hangs gives up and is retried.
      const client = new pg.Client({
        connectionString,
        application_name: `${opts.applicationName ?? "ferry"}-listen`,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        connectionTimeoutMillis: 10_000,
      });
      let released = false;
      client.on("error", () => {});
      client.on("end", () => {
        if (!released) onLost?.();
      });
      await client.connect();
      client.on("notification", (msg) => {
        if (msg.channel === channel) onNotify(msg.payload ?? "");
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        released = true;
        await client.end().catch(() => {});
      };
    },
    async notify(channel, payload = "") {
      await pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
    },
    async close() {
      await pool.end();
    },
  };
}

/** Whether Postgres answers (readiness): rejects when it does not. */
export async function ping(db: Queryable): Promise<void> {
  await db.query("SELECT 1");
}
