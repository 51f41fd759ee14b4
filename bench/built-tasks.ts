// `npm run bench -- built` (also the last part of `tasks`): function-task throughput beside pod-task
// throughput, on the path users run. The BUILT `ferry start` (bin/ferry.js, dist/; built first when
// stale) is a real process on embedded defaults (embedded Postgres, localkube running Pods as processes,
// the file log store; BENCH_LOG_STORE=s3 ships the logs to s3rver instead), and every function task's Pod
// is a real `node dist/worker.cjs`. Each task prints one line: a pod task is `sh -c 'echo t'` (the
// workload issue 7 measured), a function task `ctx.log("t")`. A measurement is RUNS runs of WIDTH
// independent tasks of one kind, timed from the first trigger to the last run's success, with the CPU
// the Ferry process, the Pods' processes and Postgres spent meanwhile (from /proc, on Linux). After a
// warm-up, the kinds are measured in turns for ROUNDS rounds (BENCH_ROUNDS, default 3): the figures
// are medians, and the ratio is the median of each round's function/pod ratio, which keeps a shared,
// noisy machine's swings out of the comparison better than one measurement of each.
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../bin/build.js";
import { freePort } from "../db/embedded.ts";
import { startS3 } from "../test/support/s3.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TOKEN = "bench-admin-token-0123456789";

/** CPU ms (user + system) spent by the built Ferry's process tree, read from /proc (Linux; zeros elsewhere). */
interface TreeCpu {
  /** The Ferry process itself: API, scheduler, executor, localkube. */
  ferry: number;
  /** Its children that ended and were reaped: the task Pods' processes (with the wrapper they run in). */
  pods: number;
  /** Its live descendants: embedded Postgres (the postmaster and its backends), esbuild's service. */
  others: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface ProcStat {
  ppid: number;
  own: number;
  reaped: number;
}

async function procStat(pid: number): Promise<ProcStat | null> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (text === null) return null;
  const f = text.slice(text.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  const n = (field: number) => Number(f[field - 3]);
  return { ppid: n(4), own: (n(14) + n(15)) * TICK_MS, reaped: (n(16) + n(17)) * TICK_MS };
}

async function treeCpu(root: number): Promise<TreeCpu> {
  const top = await procStat(root);
  if (top === null) return { ferry: 0, pods: 0, others: 0 };
  const all = new Map<number, ProcStat>();
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    const st = /^\d+$/.test(name) ? await procStat(Number(name)) : null;
    if (st) all.set(Number(name), st);
  }
  let others = 0;
  for (const [pid, st] of all) {
    let p = st.ppid;
    while (p > 1 && p !== root) p = all.get(p)?.ppid ?? 0;
    if (pid !== root && p === root) others += st.own + st.reaped; // a live descendant: what it reaped is its own
  }
  return { ferry: top.own, pods: top.reaped, others };
}

function wideDag(dagId: string, kind: Kind, width: number, runs: number): string {
  const tasks = Array.from({ length: width }, (_, i) =>
    kind === "pod"
      ? `  podTask("t${i}", { image: "busybox", command: ["sh", "-c", "echo t"] });`
      : `  task("t${i}", (ctx) => { ctx.log("t"); return { i: ${i} }; });`,
  ).join("\n");
  return `import { dag, task, podTask } from "ferry";\nexport default dag("${dagId}", { schedule: null, maxActiveRuns: ${runs} }, () => {\n${tasks}\n});\n`;
}

type Kind = "pod" | "function";

interface Sample {
  /** Tasks per second, from the first trigger to the last run's success. */
  rate: number;
  /** CPU ms per task. */
  cpu: TreeCpu;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function range(xs: number[], digits: number): string {
  return `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
}

export async function benchBuiltTasks(width: number, runs: number, rounds: number): Promise<void> {
  await ensureBuilt();
  const s3 = process.env.BENCH_LOG_STORE === "s3" ? await startS3() : null;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "ferry-bench-built-"));
  await chmod(dataDir, 0o755); // embedded Postgres, run as the postgres user under root, must reach it
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(s3 ? { ...s3.env, FERRY_LOG_STORE: "s3://ferry-logs/logs" } : {}),
    FERRY_DATA_DIR: dataDir,
    FERRY_PORT: String(port),
    FERRY_API_TOKEN: TOKEN,
    FERRY_MAX_RUNNING_TASKS: "64",
  };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  delete env.FERRY_KUBE;
  let output = "";
  const child = spawn(process.execPath, [path.join(ROOT, "bin", "ferry.js"), "start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (c: Buffer) => (output += c));
  child.stderr.on("data", (c: Buffer) => (output += c));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const api = async (method: string, route: string, body?: string) => {
    const res = await fetch(url + route, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { "content-type": body.startsWith("{") ? "application/json" : "application/typescript" } : {}) },
      body,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${text}`);
    return JSON.parse(text) as unknown;
  };
  try {
    for (let t0 = Date.now(); !output.includes("Ferry is running"); ) {
      if (child.exitCode !== null || Date.now() - t0 > 120_000) throw new Error(`the built Ferry did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const kinds = ["pod", "function"] as const;
    for (const kind of kinds) await api("POST", "/api/v1/dags", wideDag(`bench_built_${kind}`, kind, width, runs));
    /** Triggers RUNS runs of the kind's DAG and waits for all of them: the rate and the CPU it took. */
    const measure = async (kind: Kind, tag: string): Promise<Sample> => {
      const dagId = `bench_built_${kind}`;
      const runIds = Array.from({ length: runs }, (_, r) => `${tag}_${r}`);
      const cpu0 = await treeCpu(child.pid!);
      const t0 = performance.now();
      for (const runId of runIds) await api("POST", `/api/v1/dags/${dagId}/runs`, JSON.stringify({ runId }));
      // One cheap list per poll (not each run with its tasks), so polling costs both kinds alike.
      for (;;) {
        const { runs: listed } = (await api("GET", `/api/v1/dags/${dagId}/runs?limit=${runs}`)) as { runs: { runId: string; state: string }[] };
        const ours = listed.filter((r) => runIds.includes(r.runId));
        const failed = ours.find((r) => ["failed", "cancelled"].includes(r.state));
        if (failed) throw new Error(`bench run ${dagId}/${failed.runId} ended ${failed.state}`);
        if (ours.length === runs && ours.every((r) => r.state === "success")) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu1 = await treeCpu(child.pid!);
      const per = (k: keyof TreeCpu) => (cpu1[k] - cpu0[k]) / (width * runs);
      return { rate: (width * runs) / seconds, cpu: { ferry: per("ferry"), pods: per("pods"), others: per("others") } };
    };
    // A round of each kind first warms Ferry up (JIT, Postgres caches, the bundle cache) so that neither
    // kind pays for it; then ROUNDS rounds, the kinds alternating which goes first, so that neither is
    // favoured by the order or by load from outside that rises or falls during the bench.
    for (const kind of kinds) await measure(kind, "warmup");
    const samples: Record<Kind, Sample[]> = { pod: [], function: [] };
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) samples[kind].push(await measure(kind, `round${round}`));
      ratios.push(samples.function[round]!.rate / samples.pod[round]!.rate);
    }
    console.log(`built Ferry, logs to ${s3 ? "S3 (s3rver)" : "the file store"}; every task prints one line`);
    for (const kind of kinds) {
      const rates = samples[kind].map((x) => x.rate);
      const cpu = (k: keyof TreeCpu) => median(samples[kind].map((x) => x.cpu[k])).toFixed(1);
      const label = `task throughput (built, ${kind === "pod" ? "pod tasks" : "function tasks"}):`.padEnd(42);
      console.log(`${label}${median(rates).toFixed(1)} tasks/s (median of ${rounds} rounds, ${range(rates, 1)}; ${runs} runs of ${width} each)`);
      console.log(`${"  CPU per task (median):".padEnd(42)}Ferry ${cpu("ferry")} ms, the Pod's processes ${cpu("pods")} ms, Postgres ${cpu("others")} ms`);
    }
    const pct = ratios.map((r) => r * 100);
    console.log(`${"function tasks / pod tasks (built):".padEnd(42)}${median(pct).toFixed(0)}% (median of the rounds' ratios, ${range(pct, 0)}%; the target: at least 75%)`);
  } finally {
    child.kill("SIGTERM");
    await exited;
    await rm(dataDir, { recursive: true, force: true });
    await s3?.close();
  }
}
