import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadMigrations, migrate, SchemaTooNewError } from "../../db/migrate.ts";
import { createTestDb, type TestDb } from "../support/db.ts";

describe("migrations", () => {
  let t: TestDb;
  before(async () => {
    t = await createTestDb({ migrate: false });
  });
  after(async () => {
    await t?.close();
  });

  it("apply each file exactly once when several processes start at once", async () => {
    const all = await loadMigrations();
    const results = await Promise.all([migrate(t.url), migrate(t.url), migrate(t.url)]);
    const applied = results.flat().sort((a, b) => a - b);
    assert.deepEqual(applied, all.map((m) => m.version), "every migration applied once in total");
    const rows = await t.db.query<{ version: number }>("SELECT version FROM ferry_migrations ORDER BY version");
    assert.deepEqual(rows.map((r) => r.version), all.map((m) => m.version));
    assert.deepEqual(await migrate(t.url), [], "a second start applies nothing");
  });

  it("refuse a database whose schema is newer than the code", async () => {
    await t.db.query("INSERT INTO ferry_migrations (version, name) VALUES (999, '999_from_the_future')");
    await assert.rejects(migrate(t.url), (err: Error) => err instanceof SchemaTooNewError && /Upgrade Ferry/.test(err.message));
    await t.db.query("DELETE FROM ferry_migrations WHERE version = 999");
  });

  it("roll back a failing migration whole", async () => {
    const all = await loadMigrations();
    const broken = [...all, { version: all.length + 1, name: "broken", sql: "CREATE TABLE half_done (id int); SELECT 1/0;" }];
    await assert.rejects(migrate(t.url, broken), /migration broken failed/);
    const [exists] = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'half_done'");
    assert.equal(exists!.n, 0);
  });
});
