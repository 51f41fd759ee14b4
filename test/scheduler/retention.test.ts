// Retention against a real Postgres and real log stores (a folder, and s3rver through the AWS SDK),
// with the clock passed in: which runs go and which stay, logs before rows, a store that is down,
// and two sweepers on one database at once.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger, type Logger } from "../../lib/logger.ts";
import { connectDb } from "../../db/db.ts";
import { FileLogStore, openLogStore, readTryLog, S3LogStore, type LogStore, type TryLogKey } from "../../logstore/index.ts";
import { deleteDag, saveDagVersion } from "../../scheduler/dags.repository.ts";
import { DAY_MS, RetentionSweeper, type RetentionOptions } from "../../scheduler/retention.ts";
import { createRun } from "../../scheduler/runs.repository.ts";
import type { RunState } from "../../scheduler/states.ts";
import type { DagDefinition } from "../../sdk/definition.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { applyEnv, startS3, type TestS3 } from "../support/s3.ts";

const NOW = new Date("2026-06-01T12:00:00Z");
const daysAgo = (days: number, plusMs = 0) => new Date(NOW.getTime() - days * DAY_MS + plusMs);

function definition(dagId: string): DagDefinition {
  const t = { retries: 2, retryDelayMs: 0, retryBackoff: "fixed" as const, timeoutMs: null, triggerRule: "all_success" as const };
  return {
    dagId,
    schedule: null,
    timezone: "UTC",
    start: "2026-01-01T00:00:00.000Z",
    catchup: false,
    maxActiveRuns: 16,
    params: {},
    description: null,
    tags: [],
    tasks: [
      { ...t, taskId: "extract", kind: "pod", pod: { image: "x" }, dependsOn: [] },
      { ...t, taskId: "load", kind: "pod", pod: { image: "x" }, dependsOn: ["extract"] },
    ],
  };
}

interface RunSpec {
  state: RunState;
  /** When it ended; null for runs that never did. */
  endedAt: Date | null;
  /** Tries per task; each try gets a row in task_tries and a log of two chunks. */
  tries?: Record<string, number>;
  /** Leave the last try's Pod unreclaimed (the executor is still storing its log). */
  podUnreclaimed?: boolean;
}

/** Captures Ferry's log lines so a test can see what the sweeper reported. */
function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger("retention", { sink: (l) => lines.push(l), format: "pretty" }), lines };
}

describe("retention", { timeout: 120_000 }, () => {
  let t: TestDb;
  let tmp: string;
  let s3: TestS3;
  let restoreEnv: () => void;
  const stores: LogStore[] = [];
  let n = 0;

  before(async () => {
    t = await createTestDb();
    tmp = await mkdtemp(path.join(os.tmpdir(), "ferry-retention-"));
    s3 = await startS3();
    restoreEnv = applyEnv(s3.env);
    for (const dagId of ["nightly_report", "gone_dag", "busy_dag"]) {
      await saveDagVersion(t.db, { definition: definition(dagId), source: dagId, bundle: "" }, daysAgo(100));
    }
  });
  after(async () => {
    await Promise.all(stores.map(async (s) => s.close?.()));
    restoreEnv?.();
    await s3?.close();
    await t?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const backends: Array<[string, () => Promise<LogStore>]> = [
    ["a folder", async () => new FileLogStore(path.join(tmp, `store-${++n}`))],
    ["S3 (s3rver)", async () => openLogStore(`s3://ferry-retention-${++n}/logs`)],
  ];
  async function newStore(kind: number): Promise<LogStore> {
    const store = await backends[kind]![1]();
    stores.push(store);
    await store.init();
    return store;
  }

  /** A run as the scheduler and executor leave it, with its tries' rows and logs. Returns its log keys. */
  async function makeRun(store: LogStore, dagId: string, runId: string, spec: RunSpec): Promise<TryLogKey[]> {
    const keys: TryLogKey[] = [];
    await t.db.transaction(async (tx) => {
      const run = await createRun(tx, {
        dagId,
        runId,
        runType: "manual",
        logicalDate: daysAgo(200),
        params: {},
        dagVersion: 1,
        definition: definition(dagId),
      });
      assert.ok(run, `run ${runId} is new`);
      await tx.query(`UPDATE dag_runs SET state = $2, started_at = $3, ended_at = $4 WHERE id = $1`, [
        run.pk,
        spec.state,
        daysAgo(200),
        spec.endedAt,
      ]);
      const tries = Object.entries(spec.tries ?? { extract: 2, load: 1 });
      for (const [taskId, count] of tries) {
        const [ti] = await tx.query<{ id: string }>(
          `UPDATE task_instances SET state = 'success', try_number = $3 WHERE run_pk = $1 AND task_id = $2 RETURNING id`,
          [run.pk, taskId, count],
        );
        for (let tryNumber = 1; tryNumber <= count; tryNumber++) {
          const reclaimed = !(spec.podUnreclaimed && tryNumber === count);
          await tx.query(
            `INSERT INTO task_tries (task_instance_id, try_number, namespace, pod_name, state, log_complete, pod_reclaimed)
             VALUES ($1, $2, 'default', $3, 'success', $4, $4)`,
            [ti!.id, tryNumber, `pod-${dagId}-${runId}-${taskId}-${tryNumber}`.toLowerCase().replace(/[^a-z0-9-]/g, "-"), reclaimed],
          );
          keys.push({ dagId, runId, taskId, tryNumber });
        }
      }
    });
    for (const key of keys) {
      await store.putChunk(key, 0, Buffer.from(`${key.runId} ${key.taskId} try ${key.tryNumber}\n`));
      await store.putChunk(key, 1, Buffer.from("done\n"));
    }
    return keys;
  }

  /** The rows of one run: itself, its task instances and its tries. */
  async function rowsOf(dagId: string, runId: string): Promise<{ runs: number; tasks: number; tries: number }> {
    const [row] = await t.db.query<{ runs: number; tasks: number; tries: number }>(
      `SELECT (SELECT count(*)::int FROM dag_runs WHERE dag_id = $1 AND run_id = $2) AS runs,
              (SELECT count(*)::int FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
                WHERE r.dag_id = $1 AND r.run_id = $2) AS tasks,
              (SELECT count(*)::int FROM task_tries tr JOIN task_instances ti ON ti.id = tr.task_instance_id
                JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = $1 AND r.run_id = $2) AS tries`,
      [dagId, runId],
    );
    return row!;
  }
  async function assertGone(store: LogStore, keys: TryLogKey[]): Promise<void> {
    const { dagId, runId } = keys[0]!;
    assert.deepEqual(await rowsOf(dagId, runId), { runs: 0, tasks: 0, tries: 0 }, `${dagId}/${runId} has no rows left`);
    for (const key of keys) assert.deepEqual(await store.listChunks(key), [], `${runId} ${key.taskId}/${key.tryNumber} has no log left`);
  }
  async function assertKept(store: LogStore, keys: TryLogKey[]): Promise<void> {
    const { dagId, runId } = keys[0]!;
    const rows = await rowsOf(dagId, runId);
    assert.equal(rows.runs, 1, `${dagId}/${runId} is kept`);
    assert.equal(rows.tries, keys.length, `${dagId}/${runId} keeps its tries`);
    for (const key of keys) {
      assert.equal((await readTryLog(store, key)).toString(), `${key.runId} ${key.taskId} try ${key.tryNumber}\ndone\n`);
    }
  }

  const sweeper = (store: LogStore, log: Logger, opts: Partial<RetentionOptions> & { now?: () => Date } = {}) =>
    new RetentionSweeper(t.db, store, log, { maxAgeMs: 30 * DAY_MS, now: () => NOW, ...opts });

  for (const [kind, [name]] of backends.entries()) {
    it(`deletes old finished runs with every log of theirs, and keeps recent and active ones (${name})`, async () => {
      const store = await newStore(kind);
      const p = `k${kind}-`; // run ids distinct per backend: both share one database
      const old = {
        success: await makeRun(store, "nightly_report", `${p}r1`, { state: "success", endedAt: daysAgo(40), tries: { extract: 3, load: 2 } }),
        failed: await makeRun(store, "nightly_report", `${p}failed`, { state: "failed", endedAt: daysAgo(31) }),
        cancelled: await makeRun(store, "nightly_report", `${p}cancelled`, { state: "cancelled", endedAt: daysAgo(365) }),
        justOver: await makeRun(store, "nightly_report", `${p}just-over`, { state: "success", endedAt: daysAgo(30, -1000) }),
        deletedDag: await makeRun(store, "gone_dag", `${p}r1`, { state: "success", endedAt: daysAgo(45) }),
      };
      const kept = {
        // "r10" shares the "r1" prefix: deleting r1's logs must not touch it.
        recent: await makeRun(store, "nightly_report", `${p}r10`, { state: "success", endedAt: daysAgo(2) }),
        justUnder: await makeRun(store, "nightly_report", `${p}just-under`, { state: "failed", endedAt: daysAgo(30, 1000) }),
        // Active runs stay whatever their timestamps say.
        running: await makeRun(store, "busy_dag", `${p}running`, { state: "running", endedAt: daysAgo(90) }),
        queued: await makeRun(store, "busy_dag", `${p}queued`, { state: "queued", endedAt: null }),
        // The executor is still storing the log of a try of this cancelled run and will delete its Pod.
        podUnreclaimed: await makeRun(store, "busy_dag", `${p}cancelled-pod-alive`, { state: "cancelled", endedAt: daysAgo(60), podUnreclaimed: true }),
      };
      await deleteDag(t.db, "gone_dag");
      const [gone] = await t.db.query<{ deleted: boolean }>(`SELECT deleted_at IS NOT NULL AS deleted FROM dags WHERE dag_id = 'gone_dag'`);
      assert.equal(gone!.deleted, true, "gone_dag is soft-deleted");

      const { log, lines } = capturingLogger();
      const result = await sweeper(store, log, { batchSize: 2 }).sweep();
      assert.deepEqual(result, { deleted: 5, failed: 0 });
      for (const keys of Object.values(old)) await assertGone(store, keys);
      for (const keys of Object.values(kept)) await assertKept(store, keys);
      const info = lines.filter((l) => / info /.test(l));
      assert.equal(info.length, 1, lines.join("\n"));
      assert.match(info[0]!, /retention deleted 5 runs/);
      assert.ok(!lines.some((l) => / (warn|error) /.test(l)), lines.join("\n"));

      // Nothing more to do: a quiet pass logs nothing.
      lines.length = 0;
      assert.deepEqual(await sweeper(store, log).sweep(), { deleted: 0, failed: 0 });
      assert.deepEqual(lines, []);

      // A month later the recent runs are old too; the active ones still stay.
      const later = await sweeper(store, log, { now: () => new Date(NOW.getTime() + 30 * DAY_MS) }).sweep();
      assert.deepEqual(later, { deleted: 2, failed: 0 });
      await assertGone(store, kept.recent);
      await assertGone(store, kept.justUnder);
      for (const keys of [kept.running, kept.queued, kept.podUnreclaimed]) await assertKept(store, keys);
    });
  }

  it("a log store that is down keeps every row (and log), and the runs go on a later pass", async () => {
    const store = await newStore(1);
    const bucket = (store as S3LogStore).bucket;
    // The same bucket through a real SDK client whose endpoint refuses connections.
    const down = new S3LogStore(`s3://${bucket}/logs`, { clientConfig: { endpoint: "http://127.0.0.1:9", maxAttempts: 1 } });
    stores.push(down);
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await makeRun(store, "nightly_report", `down-${i}`, { state: "success", endedAt: daysAgo(40) }));

    const { log, lines } = capturingLogger();
    const result = await sweeper(down, log, { maxConsecutiveFailures: 3 }).sweep();
    assert.deepEqual(result, { deleted: 0, failed: 3 }, "the pass gives up after 3 failures in a row");
    for (const keys of runs) await assertKept(store, keys);
    assert.equal(lines.filter((l) => / warn .*could not delete run nightly_report\/down-\d/.test(l)).length, 3, lines.join("\n"));
    assert.ok(lines.some((l) => / error .*retention pass stopped/.test(l)), lines.join("\n"));

    const retried = await sweeper(store, log).sweep();
    assert.deepEqual(retried, { deleted: 5, failed: 0 });
    for (const keys of runs) await assertGone(store, keys);
  });

  it("one run whose logs cannot be deleted does not hold back the others", async () => {
    const real = await newStore(0);
    const bad = await makeRun(real, "nightly_report", "stuck", { state: "failed", endedAt: daysAgo(50) });
    const good = [
      await makeRun(real, "nightly_report", "fine-1", { state: "success", endedAt: daysAgo(49) }),
      await makeRun(real, "nightly_report", "fine-2", { state: "success", endedAt: daysAgo(48) }),
    ];
    // A real store that refuses one run's deletion, as a store would on a permission error.
    const picky: LogStore = {
      url: real.url,
      init: () => real.init(),
      putChunk: (k, s, d) => real.putChunk(k, s, d),
      listChunks: (k) => real.listChunks(k),
      getChunk: (k, s) => real.getChunk(k, s),
      deleteRunLogs: async (dagId, runId) => {
        if (runId === "stuck") throw new Error("AccessDenied");
        await real.deleteRunLogs(dagId, runId);
      },
    };
    const { log, lines } = capturingLogger();
    assert.deepEqual(await sweeper(picky, log).sweep(), { deleted: 2, failed: 1 });
    await assertKept(real, bad);
    for (const keys of good) await assertGone(real, keys);
    assert.ok(lines.some((l) => / warn .*nightly_report\/stuck.*AccessDenied/.test(l)), lines.join("\n"));
    // Once the store lets it, the next pass takes it.
    assert.deepEqual(await sweeper(real, log).sweep(), { deleted: 1, failed: 0 });
    await assertGone(real, bad);
  });

  it("two sweepers at once delete each run exactly once, without errors", async () => {
    const real = await newStore(1);
    const runs: TryLogKey[][] = [];
    for (let i = 0; i < 16; i++) runs.push(await makeRun(real, "nightly_report", `pair-${i}`, { state: "success", endedAt: daysAgo(40, i) }));
    const calls = new Map<string, number>();
    // Two processes: each its own pool and its own S3 client.
    const replica = (): { store: LogStore; close: () => void } => {
      const inner = openLogStore(real.url) as S3LogStore;
      return {
        close: () => inner.client.destroy(),
        store: {
          url: inner.url,
          init: () => inner.init(),
          putChunk: (k, s, d) => inner.putChunk(k, s, d),
          listChunks: (k) => inner.listChunks(k),
          getChunk: (k, s) => inner.getChunk(k, s),
          deleteRunLogs: async (dagId, runId) => {
            calls.set(runId, (calls.get(runId) ?? 0) + 1);
            await inner.deleteRunLogs(dagId, runId);
          },
        },
      };
    };
    const dbs = [connectDb(t.url), connectDb(t.url)];
    const replicas = [replica(), replica()];
    const { log, lines } = capturingLogger();
    try {
      const results = await Promise.all(
        dbs.map((db, i) => new RetentionSweeper(db, replicas[i]!.store, log, { maxAgeMs: 30 * DAY_MS, now: () => NOW, batchSize: 5 }).sweep()),
      );
      assert.equal(results[0]!.deleted + results[1]!.deleted, runs.length, JSON.stringify(results));
      assert.equal(results[0]!.failed + results[1]!.failed, 0);
    } finally {
      for (const r of replicas) r.close();
      await Promise.all(dbs.map((db) => db.close()));
    }
    for (const keys of runs) {
      await assertGone(real, keys);
      assert.equal(calls.get(keys[0]!.runId), 1, `${keys[0]!.runId}'s logs were deleted once`);
    }
    assert.ok(!lines.some((l) => / (warn|error) /.test(l)), lines.join("\n"));
  });

  it("started, runs a pass soon after start, and stops cleanly", async () => {
    const store = await newStore(0);
    const keys = await makeRun(store, "nightly_report", "loop-1", { state: "success", endedAt: daysAgo(40) });
    const { log } = capturingLogger();
    const s = sweeper(store, log, { firstPassDelayMs: 0, intervalMs: 3_600_000 });
    s.start();
    try {
      const deadline = Date.now() + 15_000;
      while ((await rowsOf("nightly_report", "loop-1")).runs > 0) {
        assert.ok(Date.now() < deadline, "the first pass ran");
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await s.stop();
    }
    await assertGone(store, keys);
  });

  it("every foreign key into a run's tables cascades, so deleting the run leaves no row behind", async () => {
    const rows = await t.db.query<{ name: string; child: string; parent: string; on_delete: string }>(
      `SELECT c.conname AS name, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent, c.confdeltype AS on_delete
         FROM pg_constraint c
        WHERE c.contype = 'f' AND c.confrelid IN ('dag_runs'::regclass, 'task_instances'::regclass, 'task_tries'::regclass)`,
    );
    assert.ok(rows.length >= 2, JSON.stringify(rows));
    for (const fk of rows) assert.equal(fk.on_delete, "c", `${fk.child} -> ${fk.parent} (${fk.name}) is ON DELETE CASCADE`);
  });
});
