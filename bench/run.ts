// `npm run bench`: prints figures for Ferry's hot paths on this machine. Nothing here asserts a timing.
//  - DAG compile: posting a DAG file (esbuild + QuickJS sandbox + validation), per file.
//  - Task throughput: runs of N independent pod tasks (`true`) on localkube, from trigger to success:
//    with real processes, and in localkube's instant mode (no process spawned), which leaves Ferry's
//    own cost: scheduling, Postgres, Pod create/watch/delete and log shipping. Then (bench/built-tasks.ts)
//    the built `ferry start` as a real process: function tasks (worker Pods) beside pod tasks.
//  - API: GET of a run with its tasks, sequential requests.
//  - Scheduler pass over many running runs whose tasks are all busy (nothing to move): the cost of
//    standing still, which grows with the number of long-running runs.
//  - Large output (bench/large-output.ts): a pod task printing FERRY_BENCH_LOG_MB MiB shipped to the file
//    store and to S3: rate and Ferry's RSS growth.
// `npm run bench -- <section>...` runs only the named sections (compile, tasks, built, scheduler, logs;
// built is the last part of tasks alone).
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileDagFile } from "../dagfile/index.ts";
import { compileConfig } from "../config/config.ts";
import { startFerry } from "../app/ferry.ts";
import { createLogger, silentLogger } from "../lib/logger.ts";
import { startEmbeddedPostgres } from "../db/embedded.ts";
import { migrate } from "../db/migrate.ts";
import { connectDb } from "../db/db.ts";
import { createWakeup } from "../db/wakeup.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { saveDagVersion } from "../scheduler/dags.repository.ts";
import { createRun } from "../scheduler/runs.repository.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import { benchBuiltTasks } from "./built-tasks.ts";
import { benchLargeOutput } from "./large-output.ts";

const TOKEN = "bench-admin-token-0123456789";
const WIDTH = Number(process.env.BENCH_TASKS ?? 40);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function stats(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `mean ${mean.toFixed(1)} ms, p50 ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms (n=${s.length})`;
}

async function benchCompile(): Promise<void> {
  const source = await readFile(new URL("../test/fixtures/dags/nightly_report.ts", import.meta.url), "utf8");
  await compileDagFile(source); // warm up: the SDK bundle and the QuickJS module are built once
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const r = await compileDagFile(source);
    samples.push(performance.now() - t);
    if (!r.ok) throw new Error(r.error.message);
  }
  console.log(`dag compile (nightly_report.ts):   ${stats(samples)}`);
}

function wideDag(width: number): string {
  const tasks = Array.from({ length: width }, (_, i) => `  podTask("t${i}", { image: "busybox", command: ["true"] });`).join("\n");
  return `import { dag, podTask } from "ferry";\nexport default dag("bench_wide", { schedule: null, maxActiveRuns: ${RUNS} }, () => {\n${tasks}\n});\n`;
}

async function benchFerry(instant: boolean): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "ferry-bench-"));
  await chmod(dataDir, 0o755);
  const config = compileConfig({ FERRY_DATA_DIR: dataDir, FERRY_PORT: "0", FERRY_API_TOKEN: TOKEN, FERRY_MAX_RUNNING_TASKS: "64" });
  const ferry = await startFerry(config, { log: createLogger("bench", { level: "silent" }), localkube: { instant } });
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(ferry.url + route, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": typeof body === "string" ? "text/plain" : "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return res.json() as Promise<any>;
  };
  try {
    await api("POST", "/api/v1/dags", wideDag(WIDTH));
    const t0 = performance.now();
    for (let r = 0; r < RUNS; r++) await api("POST", "/api/v1/dags/bench_wide/runs", { runId: `b${r}` });
    for (let r = 0; r < RUNS; r++) {
      for (;;) {
        const run = await api("GET", `/api/v1/dags/bench_wide/runs/b${r}`);
        if (["success", "failed", "cancelled"].includes(run.state)) {
          if (run.state !== "success") throw new Error(`bench run b${r} ended ${run.state}`);
          break;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const label = instant ? "task throughput (instant pods):  " : "task throughput (process pods):  ";
    console.log(`${label}  ${((WIDTH * RUNS) / seconds).toFixed(1)} tasks/s (${WIDTH * RUNS} pod tasks in ${seconds.toFixed(2)} s, ${RUNS} runs of ${WIDTH})`);
    if (instant) return;
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await api("GET", "/api/v1/dags/bench_wide/runs/b0");
      samples.push(performance.now() - t);
    }
    console.log(`api GET run with ${WIDTH} tasks:       ${stats(samples)}`);
  } finally {
    await ferry.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function benchSchedulerIdle(runs: number): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-bench-pg-"));
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres(dir);
  const url = await pg.ensureDatabase("bench");
  await migrate(url);
  const db = connectDb(url);
  const wakeup = await createWakeup(db);
  try {
    const t = { retries: 0, retryDelayMs: 0, retryBackoff: "fixed" as const, timeoutMs: null, triggerRule: "all_success" as const };
    const def: DagDefinition = {
      dagId: "idle", schedule: null, timezone: "UTC", start: null, catchup: false, maxActiveRuns: runs, params: {}, description: null, tags: [],
      tasks: [
        { ...t, taskId: "a", kind: "pod", pod: { image: "x" }, dependsOn: [] },
        { ...t, taskId: "b", kind: "pod", pod: { image: "x" }, dependsOn: ["a"] },
      ],
    };
    await saveDagVersion(db, { definition: def, source: "idle", bundle: "" });
    await db.transaction(async (tx) => {
      for (let i = 0; i < runs; i++) {
        await createRun(tx, { dagId: "idle", runId: `r${i}`, runType: "manual", logicalDate: new Date(), params: {}, dagVersion: 1, definition: def });
      }
    });
    const scheduler = new Scheduler(db, wakeup, silentLogger, { planBatchSize: 200 });
    await scheduler.tick(); // starts the runs and schedules every root task
    await db.query(`UPDATE task_instances SET state = 'running' WHERE state = 'scheduled'`);
    for (let i = 0; i < 3; i++) await scheduler.tick(); // warm up
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await scheduler.tick();
      samples.push(performance.now() - t0);
    }
    console.log(`scheduler pass, ${runs} busy runs:  ${stats(samples)}`);
  } finally {
    await wakeup.close();
    await db.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const SECTIONS: Record<string, () => Promise<void>> = {
  compile: benchCompile,
  tasks: async () => {
    await benchFerry(false);
    await benchFerry(true);
    await benchBuiltTasks(WIDTH, RUNS, ROUNDS);
  },
  built: () => benchBuiltTasks(WIDTH, RUNS, ROUNDS),
  scheduler: () => benchSchedulerIdle(2000),
  logs: benchLargeOutput,
};
const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !Object.hasOwn(SECTIONS, name));
if (unknown.length > 0) {
  console.error(`unknown bench section ${unknown.join(", ")}; the sections are: ${Object.keys(SECTIONS).join(", ")}`);
  process.exit(2);
}

console.log(`Ferry benchmarks — node ${process.version}, ${os.cpus().length} cores\n`);
for (const [name, section] of Object.entries(SECTIONS)) {
  if (chosen.length === 0 || chosen.includes(name)) await section();
}
