// Each test file gets its own fresh, migrated database in the suite's embedded Postgres (started by
// test/run.ts). Run alone (node --import tsx --test FILE), a file starts an embedded Postgres itself.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { connectDb, type Db } from "../../db/db.ts";
import { startEmbeddedPostgres } from "../../db/embedded.ts";
import { migrate } from "../../db/migrate.ts";

export interface TestDb {
  url: string;
  db: Db;
  close(): Promise<void>;
}

async function adminUrl(): Promise<{ url: string; stop: () => Promise<void> }> {
  const given = process.env.FERRY_TEST_PG_ADMIN_URL;
  if (given) return { url: given, stop: async () => {} };
  const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-test-pg-"));
  const embedded = await startEmbeddedPostgres(dir);
  return {
    url: embedded.adminUrl,
    stop: async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function createTestDb(opts: { migrate?: boolean } = {}): Promise<TestDb> {
  const admin = await adminUrl();
  const name = `ferry_test_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin.url);
  url.pathname = `/${name}`;
  if (opts.migrate !== false) await migrate(url.toString());
  const db = connectDb(url.toString());
  return {
    url: url.toString(),
    db,
    async close() {
      await db.close();
      const c = new pg.Client({ connectionString: admin.url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      await admin.stop();
    },
  };
}
