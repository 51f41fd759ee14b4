// The only module that touches `ferry_settings`: small named values Ferry keeps across restarts (the
// admin token's hash, the worker-token secret).
import type { Queryable } from "./db.ts";

/** Reads a setting, creating it with `make()` if absent; safe when several processes start at once. */
export async function ensureSetting(db: Queryable, key: string, make: () => string): Promise<{ value: string; created: boolean }> {
  const candidate = make();
  const inserted = await db.query<{ value: string }>(
    `INSERT INTO ferry_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value`,
    [key, candidate],
  );
  if (inserted[0]) return { value: inserted[0].value, created: true };
  const [row] = await db.query<{ value: string }>(`SELECT value FROM ferry_settings WHERE key = $1`, [key]);
  return { value: row!.value, created: false };
}

export async function setSetting(db: Queryable, key: string, value: string): Promise<void> {
  await db.query(
    `INSERT INTO ferry_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [key, value],
  );
}
