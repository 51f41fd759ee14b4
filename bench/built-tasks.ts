// `npm run bench -- tasks`, the built part: function-task throughput beside pod-task throughput, on the
// path users run. The BUILT `ferry start` (bin/ferry.js, dist/; built first when stale) is a real process
// on embedded defaults (embedded Postgres, localkube running Pods as processes, the file log store), and
// every function task's Pod is a real `node dist/worker.mjs`. Each kind gets RUNS runs of WIDTH
// independent tasks, timed from the first trigger to the last run's success.
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../bin/build.js";
import { freePort } from "../db/embedded.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TOKEN = "bench-admin-token-0123456789";

function wideDag(dagId: string, kind: "pod" | "function", width: number, runs: number): string {
  const tasks = Array.from({ length: width }, (_, i) =>
    kind === "pod" ? `  podTask("t${i}", { image: "busybox", command: ["true"] });` : `  task("t${i}", () => ({ i: ${i} }));`,
  ).join("\n");
  return `import { dag, task, podTask } from "ferry";\nexport default dag("${dagId}", { schedule: null, maxActiveRuns: ${runs} }, () => {\n${tasks}\n});\n`;
}

export async function benchBuiltTasks(width: number, runs: number): Promise<void> {
  await ensureBuilt();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "ferry-bench-built-"));
  await chmod(dataDir, 0o755); // embedded Postgres, run as the postgres user under root, must reach it
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_DATA_DIR: dataDir, FERRY_PORT: String(port), FERRY_API_TOKEN: TOKEN, FERRY_MAX_RUNNING_TASKS: "64" };
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
    return JSON.parse(text) as { state?: string };
  };
  try {
    for (let t0 = Date.now(); !output.includes("Ferry is running"); ) {
      if (child.exitCode !== null || Date.now() - t0 > 120_000) throw new Error(`the built Ferry did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rates: Record<string, number> = {};
    for (const kind of ["pod", "function"] as const) {
      const dagId = `bench_built_${kind}`;
      await api("POST", "/api/v1/dags", wideDag(dagId, kind, width, runs));
      const t0 = performance.now();
      for (let r = 0; r < runs; r++) await api("POST", `/api/v1/dags/${dagId}/runs`, JSON.stringify({ runId: `b${r}` }));
      for (let r = 0; r < runs; r++) {
        for (;;) {
          const run = await api("GET", `/api/v1/dags/${dagId}/runs/b${r}`);
          if (["success", "failed", "cancelled"].includes(run.state ?? "")) {
            if (run.state !== "success") throw new Error(`bench run ${dagId}/b${r} ended ${run.state}`);
            break;
          }
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      rates[kind] = (width * runs) / seconds;
      const label = `task throughput (built, ${kind === "pod" ? "pod tasks" : "function tasks"}):`.padEnd(42);
      console.log(`${label}${rates[kind]!.toFixed(1)} tasks/s (${width * runs} in ${seconds.toFixed(2)} s, ${runs} runs of ${width})`);
    }
    console.log(`${"function tasks / pod tasks (built):".padEnd(42)}${((rates.function! / rates.pod!) * 100).toFixed(0)}%`);
  } finally {
    child.kill("SIGTERM");
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}
