// Starts a whole Ferry for a test: its own database, localkube, an S3 log store (s3rver) and the API on
// a free port, with a known admin token. `api()` calls the REST API like any client would.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileConfig } from "../../config/config.ts";
import { startFerry, type Ferry } from "../../app/ferry.ts";
import { createLogger, silentLogger } from "../../lib/logger.ts";
import { Executor, type ExecutorOptions } from "../../executor/executor.ts";
import type { Db } from "../../db/db.ts";
import { createWakeup } from "../../db/wakeup.ts";
import type { LocalKubeOptions } from "../../localkube/index.ts";
import type { SchedulerOptions } from "../../scheduler/scheduler.ts";
import { createTestDb, type TestDb } from "./db.ts";
import { startS3, type TestS3 } from "./s3.ts";

export const TEST_TOKEN = "test-admin-token-0123456789";

export interface TestFerry {
  ferry: Ferry;
  url: string;
  s3: TestS3 | null;
  testDb: TestDb;
  dataDir: string;
  api(method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
  waitForRun(dagId: string, runId: string, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

export interface TestFerryOptions {
  s3?: boolean;
  env?: Record<string, string>;
  executor?: Partial<ExecutorOptions>;
  /** The scheduler's options (its poll interval is 200 ms unless given). */
  scheduler?: SchedulerOptions;
  localkube?: Partial<LocalKubeOptions>;
}

export async function startTestFerry(opts: TestFerryOptions = {}): Promise<TestFerry> {
  const testDb = await createTestDb();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "ferry-test-"));
  const s3 = opts.s3 === false ? null : await startS3();
  if (s3) Object.assign(process.env, s3.env); // the AWS SDK reads its endpoint and credentials from the environment
  const config = compileConfig({
    DATABASE_URL: testDb.url,
    FERRY_DATA_DIR: dataDir,
    FERRY_PORT: "0",
    FERRY_KUBE: "local",
    FERRY_API_TOKEN: TEST_TOKEN,
    FERRY_LOG_STORE: s3 ? "s3://ferry-logs/logs" : `file://${path.join(dataDir, "logs")}`,
    ...opts.env,
  });
  // Silent unless FERRY_TEST_VERBOSE is set; then readable lines on stderr.
  const quiet = process.env.FERRY_TEST_VERBOSE ? { format: "pretty" as const } : { level: "silent" as const };
  const ferry = await startFerry(config, {
    log: createLogger("ferry", quiet),
    scheduler: { pollIntervalMs: 200, ...opts.scheduler },
    executor: { pollIntervalMs: 200, logFlushIntervalMs: 200, ...opts.executor },
    // Small log files, so every test's Pod logs go through localkube's rotation (a kubelet rotates at 10 MiB).
    localkube: { logMaxBytes: 64 * 1024, ...opts.localkube },
  });
  const url = ferry.url!;
  const api = apiClient(url);
  return {
    ferry,
    url,
    s3,
    testDb,
    dataDir,
    api,
    async waitForRun(dagId, runId, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        last = (await api("GET", `/api/v1/dags/${dagId}/runs/${encodeURIComponent(runId)}`)).body;
        // A try's outcome is recorded when its container ends and its log finishes copying just after:
        // the run is done for a test once every log copy has ended too.
        if (["success", "failed", "cancelled"].includes(last?.state) && (await logsStillCopying(ferry.db, dagId, runId)) === 0) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`run ${dagId}/${runId} did not finish in time; last seen: ${JSON.stringify(last)}`);
    },
    async close() {
      await ferry.close();
      await s3?.close();
      await testDb.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function logsStillCopying(db: Db, dagId: string, runId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk
      WHERE r.dag_id = $1 AND r.run_id = $2 AND t.log_finished_at IS NULL`,
    [dagId, runId],
  );
  return row!.n;
}

/** Calls a Ferry API at `url` as the test admin, as any client would; bodies are parsed when JSON. */
export function apiClient(url: string): TestFerry["api"] {
  return async (method, route, body, headers = {}) => {
    const h: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}`, ...headers };
    let payload: string | undefined;
    if (typeof body === "string") {
      payload = body;
      h["content-type"] ??= "application/typescript";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["content-type"] ??= "application/json";
    }
    const res = await fetch(url + route, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed, text };
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ExtraExecutor {
  executor: Executor;
  /** Stops it (see Executor.stop) and closes its wakeup. */
  stop(opts?: { releaseLeases?: boolean }): Promise<void>;
}

/**
 * Another executor on the test Ferry's database, cluster and log store, as a second replica would be
 * (not started). `db` lets a test put a failing seam between it and Postgres.
 */
export async function extraExecutor(f: TestFerry, opts: { db?: Db; leaseMs?: number } = {}): Promise<ExtraExecutor> {
  const wakeup = await createWakeup(f.ferry.db);
  const executor = new Executor(opts.db ?? f.ferry.db, f.ferry.kube, f.ferry.logStore, wakeup, silentLogger, {
    maxRunningTasks: 4,
    workerImage: "unused", // these tests run pod tasks only
    workerApiUrl: () => f.url,
    workerSecret: "unused",
    pollIntervalMs: 200,
    leaseMs: opts.leaseMs ?? 30_000,
    logFlushIntervalMs: 200,
  });
  return {
    executor,
    async stop(stopOpts) {
      await executor.stop(stopOpts);
      await wakeup.close();
    },
  };
}
