import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { compileDagFile } from "../../dagfile/index.ts";
import { runWorker } from "../../worker/run.ts";

const WORKER_BIN = fileURLToPath(new URL("../../bin/ferry-worker.js", import.meta.url));
const FIXTURE = new URL("../fixtures/dags/nightly_report.ts", import.meta.url);

const CASES = `import { dag, task, podTask } from "ferry";
export default dag("worker_cases", {}, () => {
  const up = task("up", () => ({ n: 1 }));
  task("echo", async (ctx) => {
    console.log("console %s", "line", { a: 1 });
    ctx.log("ctx", 2);
    return {
      fromHandle: ctx.result(up).n,
      viaTasks: ctx.tasks.up.result.n,
      params: ctx.params,
      tryNumber: ctx.tryNumber,
      logicalDate: ctx.logicalDate,
      ids: [ctx.dagId, ctx.runId, ctx.taskId],
    };
  }, { dependsOn: [up] });
  task("boom", () => {
    throw new Error("task exploded");
  });
  task("big", () => "x".repeat(5000));
  task("bigint", () => ({ n: BigInt(10) }));
  task("nothing", () => undefined);
  task("notUpstream", (ctx) => ctx.result("up"));
  podTask("pod", { image: "alpine" });
});
`;

let dir: string;
let nightlyBundle: string;
let casesBundle: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-worker-test-"));
  const nightly = await compileDagFile(await readFile(FIXTURE, "utf8"));
  const cases = await compileDagFile(CASES);
  assert.ok(nightly.ok && cases.ok, JSON.stringify([!nightly.ok && nightly.error, !cases.ok && cases.error]));
  nightlyBundle = join(dir, "nightly.js");
  casesBundle = join(dir, "cases.js");
  await writeFile(nightlyBundle, nightly.bundle);
  await writeFile(casesBundle, cases.bundle);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function taskEnv(dagId: string, taskId: string, termination: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FERRY_DAG_ID: dagId,
    FERRY_DAG_VERSION: "1",
    FERRY_TASK_ID: taskId,
    FERRY_TERMINATION_MESSAGE_PATH: termination,
    FERRY_TASK_CONTEXT: JSON.stringify({
      dagId,
      runId: "run-1",
      taskId,
      tryNumber: 1,
      logicalDate: "2026-01-01T00:00:00.000Z",
      params: { region: "kr" },
      tasks: { extract: { result: null }, up: { result: { n: 1 } } },
    }),
    ...extra,
  };
}

function runProcess(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER_BIN], { env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function runInProcess(taskId: string, extra: Record<string, string> = {}, fetchImpl?: typeof fetch) {
  const termination = join(dir, `${taskId}-${Math.random().toString(36).slice(2)}.term`);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (chunk: Buffer) => (out += chunk));
  stderr.on("data", (chunk: Buffer) => (err += chunk));
  const env = { FERRY_BUNDLE_FILE: casesBundle, ...taskEnv("worker_cases", taskId, termination), ...extra };
  const code = await runWorker({ env, stdout, stderr, fetch: fetchImpl, sleep: async () => {} });
  const message = await readFile(termination, "utf8").catch(() => undefined);
  return { code, stdout: out, stderr: err, message };
}

test("the worker process runs the example's count task", async () => {
  const termination = join(dir, "count.term");
  const result = await runProcess({ FERRY_BUNDLE_FILE: nightlyBundle, ...taskEnv("nightly_report", "count", termination) });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "counting for kr\n");
  assert.equal(result.stderr, "");
  assert.equal(await readFile(termination, "utf8"), '{"rows":42}');
});

test("a throwing task exits 1 with its stack on stderr and a short error message", async () => {
  const termination = join(dir, "boom.term");
  const result = await runProcess({ FERRY_BUNDLE_FILE: casesBundle, ...taskEnv("worker_cases", "boom", termination) });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /Error: task exploded\n\s+at .*dag\.ts:17:/);
  assert.deepEqual(JSON.parse(await readFile(termination, "utf8")), { error: "task exploded" });
});

test("console.log and ctx.log reach stdout unchanged; ctx carries the run", async () => {
  const result = await runInProcess("echo");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "console line { a: 1 }\nctx 2\n");
  assert.deepEqual(JSON.parse(result.message!), {
    fromHandle: 1,
    viaTasks: 1,
    params: { region: "kr" },
    tryNumber: 1,
    logicalDate: "2026-01-01T00:00:00.000Z",
    ids: ["worker_cases", "run-1", "echo"],
  });
});

test("an undefined result is null", async () => {
  const result = await runInProcess("nothing");
  assert.equal(result.code, 0);
  assert.equal(result.message, "null");
});

test("results over 4096 bytes or not JSON fail clearly", async () => {
  const big = await runInProcess("big");
  assert.equal(big.code, 1);
  assert.match(JSON.parse(big.message!).error, /5002 bytes.*limit is 4096/);
  assert.match(big.stderr, /^ferry-worker: the task's result is 5002 bytes[^\n]*\n$/);
  const bigint = await runInProcess("bigint");
  assert.equal(bigint.code, 1);
  assert.match(JSON.parse(bigint.message!).error, /not JSON-serialisable/);
});

test("ctx.result of a task that is not passed in names it", async () => {
  const result = await runInProcess("notUpstream", {
    FERRY_TASK_CONTEXT: JSON.stringify({ runId: "r", logicalDate: "2026-01-01T00:00:00Z", tasks: {} }),
  });
  assert.equal(result.code, 1);
  assert.match(JSON.parse(result.message!).error, /ctx\.result\("up"\)/);
});

test("pod tasks and unknown tasks are refused", async () => {
  const pod = await runInProcess("pod");
  assert.equal(pod.code, 1);
  assert.match(JSON.parse(pod.message!).error, /pod task/);
  const unknown = await runInProcess("ghost");
  assert.equal(unknown.code, 1);
  assert.match(JSON.parse(unknown.message!).error, /no task "ghost"/);
});

test("missing configuration fails with the variable's name", async () => {
  const result = await runInProcess("echo", { FERRY_TASK_CONTEXT: "" });
  assert.equal(result.code, 1);
  assert.match(JSON.parse(result.message!).error, /FERRY_TASK_CONTEXT/);
});

test("the bundle is fetched with the worker token, retrying server errors", async () => {
  const bundle = await readFile(casesBundle, "utf8");
  const calls: { url: string; auth: string | null }[] = [];
  const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), auth: new Headers(init?.headers).get("authorization") });
    if (calls.length === 1) throw new TypeError("fetch failed");
    if (calls.length === 2) return new Response("busy", { status: 503 });
    return new Response(bundle, { status: 200 });
  }) as typeof fetch;
  const env = { FERRY_BUNDLE_FILE: "", FERRY_API_URL: "http://api:8080/", FERRY_WORKER_TOKEN: "tok", FERRY_DAG_VERSION: "7" };
  const result = await runInProcess("nothing", env, fakeFetch);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(calls.length, 3);
  assert.deepEqual(calls[2], { url: "http://api:8080/api/v1/dags/worker_cases/versions/7/bundle", auth: "Bearer tok" });
});

test("a 4xx answer for the bundle is not retried", async () => {
  let calls = 0;
  const fakeFetch = (async () => {
    calls++;
    return new Response("no such version", { status: 404 });
  }) as unknown as typeof fetch;
  const env = { FERRY_BUNDLE_FILE: "", FERRY_API_URL: "http://api", FERRY_WORKER_TOKEN: "tok" };
  const result = await runInProcess("nothing", env, fakeFetch);
  assert.equal(result.code, 1);
  assert.equal(calls, 1);
  assert.match(JSON.parse(result.message!).error, /404/);
});

test("the worker process runs a bundle handed to it inline, with no API address, token or socket", async () => {
  const termination = join(dir, "count-inline.term");
  // Were the worker to fetch anyway, this address would refuse it: port 9 on loopback has no server.
  const result = await runProcess({
    ...taskEnv("nightly_report", "count", termination),
    FERRY_BUNDLE: await readFile(nightlyBundle, "utf8"),
    FERRY_API_URL: "http://127.0.0.1:9",
    FERRY_WORKER_TOKEN: "fw_unused",
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "counting for kr\n");
  assert.equal(await readFile(termination, "utf8"), '{"rows":42}');
});

test("without an inline bundle or a bundle file, the worker needs the API's address and its token", async () => {
  const result = await runInProcess("nothing", { FERRY_BUNDLE_FILE: "", FERRY_BUNDLE: "" });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /FERRY_API_URL is not set/);
});

test("the worker process fetches its bundle from the API over HTTP with its token", async () => {
  const bundle = await readFile(nightlyBundle);
  const seen: { url?: string; auth?: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, auth: req.headers.authorization });
    res.writeHead(200, { "content-type": "application/javascript; charset=utf-8", "content-length": bundle.length });
    res.end(bundle);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const termination = join(dir, "count-http.term");
    const result = await runProcess({
      ...taskEnv("nightly_report", "count", termination),
      FERRY_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      FERRY_WORKER_TOKEN: "fw_token",
      FERRY_DAG_VERSION: "4",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "counting for kr\n");
    assert.equal(await readFile(termination, "utf8"), '{"rows":42}');
    assert.deepEqual(seen, [{ url: "/api/v1/dags/nightly_report/versions/4/bundle", auth: "Bearer fw_token" }]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
