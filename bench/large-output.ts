// `npm run bench -- logs`: a pod task printing a large output (FERRY_BENCH_LOG_MB MiB, default 1024), once
// as 1 MiB lines and once with no newline at all, shipped to the file store and to S3 (s3rver through the
// real AWS SDK). It prints the rate from the first byte printed to the log being complete in the store
// (the try's logFinishedAt, when the executor's copy ended), and the growth of this
// process's RSS while that happens, since logs must ship with flat memory however large they are. The
// stored log is then checked by size and by a streaming SHA-256 against the generator's known bytes, one
// chunk at a time, so the check itself never holds the log in memory.
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { compileConfig } from "../config/config.ts";
import { startFerry, type Ferry } from "../app/ferry.ts";
import { createLogger } from "../lib/logger.ts";
import { startEmbeddedPostgres } from "../db/embedded.ts";
import type { LogStore, TryLogKey } from "../logstore/logstore.ts";
import { applyEnv, startS3 } from "../test/support/s3.ts";

const TOKEN = "bench-admin-token-0123456789";
const MiB = 1024 * 1024;
/** How often RSS is sampled while a log ships. */
const SAMPLE_MS = 100;
/** The bound the RSS growth is printed against: the executor holds at most 8 MiB of unstored log per try. */
const FLAT_MEMORY_MB = 100;

interface OutputCase {
  name: string;
  label: string;
  /** The shell pipeline printing exactly `{{ params.bytes }}` bytes (whole MiB) on the host, where localkube runs it. */
  generator: string;
  /** One period of the generator's output, to hash the expected bytes without holding them. */
  period: Buffer;
}

const CASES: OutputCase[] = [
  {
    name: "lines",
    label: "1 MiB lines",
    // One line in a file of the Pod's working folder, catted over and over: `yes "<1 MiB>"` would pass
    // the kernel's 128 KiB limit on one argument, and `fold` is slower than the shipping it feeds.
    generator: `printf '%${MiB - 1}s\\n' '' | tr ' ' b > line; yes line | head -n $(({{ params.bytes }} / ${MiB})) | xargs cat`,
    period: Buffer.concat([Buffer.alloc(MiB - 1, "b"), Buffer.from("\n")]),
  },
  {
    name: "unbroken",
    label: "no newline",
    generator: `head -c {{ params.bytes }} /dev/zero | tr '\\0' a`,
    period: Buffer.alloc(MiB, "a"),
  },
];

function logSizeMiB(): number {
  const raw = process.env.FERRY_BENCH_LOG_MB ?? "1024";
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FERRY_BENCH_LOG_MB must be a whole number of MiB (>= 1), got ${JSON.stringify(raw)}`);
  return n;
}

// The markers around the generator are files beside the Pod, not output, so the log is exactly the
// generator's bytes; their times bracket the printing for the rate.
function dagSource(c: OutputCase): string {
  const script = `date +%s%N > {{ params.marker }}.start; ${c.generator}; date +%s%N > {{ params.marker }}.end`;
  return `import { dag, podTask } from "ferry";
export default dag("bench_log_${c.name}", { schedule: null, maxActiveRuns: 1, params: { bytes: "0", marker: "" } }, () => {
  podTask("print", { image: "busybox", command: ${JSON.stringify(["sh", "-c", script])} });
});
`;
}

function sha256OfGenerator(period: Buffer, bytes: number): string {
  const hash = createHash("sha256");
  for (let left = bytes; left > 0; left -= period.length) hash.update(left >= period.length ? period : period.subarray(0, left));
  return hash.digest("hex");
}

async function sha256OfStored(store: LogStore, key: TryLogKey): Promise<{ hash: string; bytes: number; chunks: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const chunks = await store.listChunks(key);
  for (const c of chunks) {
    const data = await store.getChunk(key, c.seq);
    hash.update(data);
    bytes += data.length;
  }
  return { hash: hash.digest("hex"), bytes, chunks: chunks.length };
}

interface MemoryGrowth {
  baseline: number;
  /** Peaks over the samples, each minus its baseline (they need not peak at the same moment). */
  rss: number;
  heap: number;
  buffers: number;
  /** RSS growth at the end, once the log is stored. */
  rssAfter: number;
}

/** Samples this process's memory; growth is reported against the baseline taken at start. */
function sampleMemory(): { stop(): MemoryGrowth } {
  const base = process.memoryUsage();
  const peak = { rss: base.rss, heap: base.heapUsed, buffers: base.arrayBuffers };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heapUsed);
    peak.buffers = Math.max(peak.buffers, m.arrayBuffers);
    return m;
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const last = sample();
      return {
        baseline: base.rss,
        rss: peak.rss - base.rss,
        heap: peak.heap - base.heapUsed,
        buffers: peak.buffers - base.arrayBuffers,
        rssAfter: last.rss - base.rss,
      };
    },
  };
}

/** The store's own rate for 1 MiB chunks put one at a time, as the log writer puts them. */
async function storePutRate(store: LogStore, totalMiB: number): Promise<number> {
  const key: TryLogKey = { dagId: "bench_reference", runId: "put_rate", taskId: "t", tryNumber: 1 };
  const chunk = Buffer.alloc(MiB, "r");
  await store.putChunk(key, 0, chunk); // warm up: folders, sockets, SDK modules
  const t0 = performance.now();
  for (let seq = 1; seq <= totalMiB; seq++) await store.putChunk(key, seq, chunk);
  return totalMiB / ((performance.now() - t0) / 1000);
}

const fmt = (bytes: number) => `${(bytes / MiB).toFixed(1)} MB`;

type Api = (method: string, route: string, body?: unknown) => Promise<any>;

function apiOf(ferry: Ferry): Api {
  return async (method, route, body) => {
    const res = await fetch(ferry.url + route, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": typeof body === "string" ? "text/plain" : "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (res.status >= 400) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

async function runToEnd(api: Api, dagId: string, runId: string, bytes: number, marker: string): Promise<any> {
  await api("POST", `/api/v1/dags/${dagId}/runs`, { runId, params: { bytes: String(bytes), marker } });
  for (;;) {
    const run = await api("GET", `/api/v1/dags/${dagId}/runs/${runId}`);
    if (["success", "failed", "cancelled"].includes(run.state)) {
      if (run.state !== "success") throw new Error(`bench run ${dagId}/${runId} ended ${run.state}: ${JSON.stringify(run.tasks)}`);
      // The outcome is recorded when the container ends; the log copy may still be finishing.
      const task = await api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/print`);
      const last = task.tries[task.tries.length - 1];
      if (last.logFinishedAt) return last;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readNs(file: string): Promise<number> {
  return Number(BigInt((await readFile(file, "utf8")).trim()) / 1_000_000n);
}

async function benchStore(storeName: "file" | "s3", dbUrl: string, bytes: number): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `ferry-bench-logs-${storeName}-`));
  await chmod(dataDir, 0o755);
  const s3 = storeName === "s3" ? await startS3() : null;
  const undoEnv = s3 ? applyEnv(s3.env) : () => {};
  let ferry: Ferry | null = null;
  try {
    const config = compileConfig({
      DATABASE_URL: dbUrl,
      FERRY_DATA_DIR: dataDir,
      FERRY_PORT: "0",
      FERRY_API_TOKEN: TOKEN,
      FERRY_LOG_STORE: s3 ? "s3://ferry-logs/logs" : `file://${path.join(dataDir, "logs")}`,
    });
    ferry = await startFerry(config, { log: createLogger("bench", { level: "silent" }) });
    const api = apiOf(ferry);
    const markers = path.join(dataDir, "markers");
    await mkdir(markers, { recursive: true });
    const where = s3 ? "S3 (s3rver)" : "file store";

    const refMiB = Math.min(128, Math.max(8, Math.floor(bytes / MiB / 4)));
    const putRate = await storePutRate(ferry.logStore, refMiB);

    for (const c of CASES) {
      const dagId = `bench_log_${c.name}`;
      await api("POST", "/api/v1/dags", dagSource(c));
      // A small run first, so module loading, JIT and connection pools are in the baseline, not the growth.
      await runToEnd(api, dagId, "warmup", 4 * MiB, path.join(markers, "warmup"));
      await new Promise((r) => setTimeout(r, 1000));

      const marker = path.join(markers, c.name);
      const memory = sampleMemory();
      const t = await runToEnd(api, dagId, "big", bytes, marker);
      const mem = memory.stop();

      const started = await readNs(`${marker}.start`);
      const printed = await readNs(`${marker}.end`);
      const seconds = (Date.parse(t.logFinishedAt as string) - started) / 1000;
      const printSeconds = (printed - started) / 1000;

      const stored = await sha256OfStored(ferry.logStore, { dagId, runId: "big", taskId: "print", tryNumber: t.tryNumber as number });
      const sizeOk = stored.bytes === bytes && t.logBytes === bytes && t.logComplete === true;
      // On a short log, whether what is there is the output's start tells a cut-off tail from scrambled bytes.
      const contentOk = stored.hash === sha256OfGenerator(c.period, Math.min(bytes, stored.bytes));

      const pad = "".padEnd(44);
      const head = `large output, ${where}, ${c.label}:`.padEnd(44);
      if (sizeOk) {
        console.log(`${head} ${(bytes / MiB / seconds).toFixed(1)} MB/s (${fmt(bytes)} stored ${seconds.toFixed(1)} s after the first byte; printing took ${printSeconds.toFixed(1)} s)`);
      } else {
        console.log(
          `${head} INCOMPLETE: ${fmt(stored.bytes)} of ${fmt(bytes)} stored (${(stored.bytes / MiB / seconds).toFixed(1)} MB/s), yet the try ended ` +
            `${seconds.toFixed(1)} s after the first byte with logComplete ${t.logComplete} and logBytes ${t.logBytes}; printing took ${printSeconds.toFixed(1)} s`,
        );
      }
      console.log(`${pad}   reference: the ${where} alone, putting 1 MiB chunks one at a time as the executor does: ${putRate.toFixed(1)} MB/s`);
      console.log(
        `${pad} RSS growth: peak ${fmt(mem.rss)}, after ${fmt(mem.rssAfter)} (baseline ${fmt(mem.baseline)}, sampled every ${SAMPLE_MS} ms; ` +
          `peak growth of the JS heap ${fmt(mem.heap)}, of Buffers ${fmt(mem.buffers)})`,
      );
      console.log(`${pad}   reference: flat memory, peak RSS growth well under ${FLAT_MEMORY_MB} MB at any size`);
      const content = !contentOk
        ? "CONTENT MISMATCH: the stored bytes are not the generator's"
        : sizeOk
          ? "sha-256 matches the generator"
          : `sha-256 matches the generator's first ${stored.bytes} bytes: the last ${fmt(bytes - stored.bytes)} are missing`;
      console.log(`${pad} stored: ${stored.bytes} bytes in ${stored.chunks} chunks; ${content}`);
      if (!sizeOk || !contentOk) process.exitCode = 1;
    }
  } finally {
    await ferry?.close();
    undoEnv();
    await s3?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Sequential write speed of the bench's temp disk (fsync'd), as a reference for the file store. */
async function diskWriteRate(totalMiB: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-bench-disk-"));
  try {
    const fh = await open(path.join(dir, "probe"), "w");
    const block = Buffer.alloc(MiB, "d");
    const t0 = performance.now();
    for (let i = 0; i < totalMiB; i++) await fh.write(block);
    await fh.sync();
    const rate = totalMiB / ((performance.now() - t0) / 1000);
    await fh.close();
    return rate;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchLargeOutput(): Promise<void> {
  const sizeMiB = logSizeMiB();
  const bytes = sizeMiB * MiB;
  console.log(
    `large output: a pod task prints ${fmt(bytes)} (FERRY_BENCH_LOG_MB=${sizeMiB}); MB = MiB. RSS is this whole process: ` +
      `API, scheduler, executor and the embedded localkube, which runs here too (s3rver and Postgres are other processes).`,
  );
  console.log(`large output, disk:                          ${(await diskWriteRate(Math.min(256, sizeMiB))).toFixed(1)} MB/s sequential write (fsync'd), measured by the bench`);
  const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-bench-logs-pg-"));
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres(dir);
  try {
    await benchStore("file", await pg.ensureDatabase("bench_logs_file"), bytes);
    await benchStore("s3", await pg.ensureDatabase("bench_logs_s3"), bytes);
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
