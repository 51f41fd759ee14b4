// Applies the numbered SQL files in migrations/ in order, each in its own transaction, under a
// session advisory lock so that several Ferry processes starting at once apply each file exactly once.
// A database whose schema is newer than this code is refused: running old code on it could corrupt it.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/** Advisory lock key for migrations: the bytes of "ferrymig" read as a bigint, documented in the README. */
export const MIGRATION_LOCK_KEY = "7378429400505477479";

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "migrations");

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export class SchemaTooNewError extends Error {
  override name = "SchemaTooNewError";
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 3));
    if (version !== migrations.length + 1) {
      throw new Error(`migrations/${file}: expected number ${String(migrations.length + 1).padStart(3, "0")}; numbers must be consecutive`);
    }
    migrations.push({ version, name: file.replace(/\.sql$/, ""), sql: await readFile(path.join(dir, file), "utf8") });
  }
  return migrations;
}

/** Returns the versions it applied (empty when the schema was already current). */
export async function migrate(connectionString: string, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  const client = new pg.Client({ connectionString, application_name: "ferry-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS ferry_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>("SELECT version FROM ferry_migrations ORDER BY version");
    const applied = new Set(rows.map((r) => r.version));
    const newest = rows.length > 0 ? rows[rows.length - 1]!.version : 0;
    if (newest > all.length) {
      throw new SchemaTooNewError(
        `The database schema is at version ${newest} but this Ferry knows migrations up to ${all.length}. ` +
          "Upgrade Ferry (or point DATABASE_URL at another database); refusing to run old code on a newer schema.",
      );
    }
    const done: number[] = [];
    for (const m of all) {
      if (applied.has(m.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO ferry_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      done.push(m.version);
    }
    return done;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1::bigint)", [MIGRATION_LOCK_KEY]).catch(() => {});
    await client.end().catch(() => {});
  }
}
