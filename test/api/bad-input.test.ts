// Bad input, from a corpus in the repository: hostile DAG files (test/fixtures/bad/dags/*.dag, each
// with its expected answer on its first line) and bad requests (test/fixtures/bad/requests.ts). Each is
// answered with its 4xx (the 10,000-task DAG with 201) within a hang guard of 30 s, while the server
// keeps serving: /healthz answers throughout, and afterwards the API works as before and nothing of
// the hostile input escaped (no file written, Ferry's own Object.prototype untouched).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import http from "node:http";
import { BAD_REQUESTS, type BadRequest } from "../fixtures/bad/requests.ts";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";
import { dagFile } from "../support/api.ts";

const HANG_GUARD_MS = 30_000;
const HEALTH_GUARD_MS = 5_000;
const DAGS = new URL("../fixtures/bad/dags/", import.meta.url);
const PWNED = "/tmp/ferry-bad-input-pwned";

interface Answer {
  status: number;
  body: any;
  text: string;
  ms: number;
}

/** One raw HTTP request: the path is sent exactly as written. Fails past the hang guard. */
function send(url: string, req: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const payload = req.body === undefined ? undefined : Buffer.from(req.body);
    const r = http.request(
      {
        hostname,
        port,
        method: req.method,
        path: req.path,
        // A connection of its own: one the server closed after a 413 is never reused.
        agent: false,
        headers: {
          authorization: `Bearer ${TEST_TOKEN}`,
          ...(payload ? { "content-length": String(payload.length) } : {}),
          ...req.headers,
        },
        timeout: HANG_GUARD_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = null;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body, text, ms: Date.now() - started });
        });
        res.on("error", reject);
      },
    );
    r.on("timeout", () => r.destroy(new Error(`${req.method} ${req.path.slice(0, 80)}: no answer within ${HANG_GUARD_MS} ms`)));
    // A server that answers 413 before reading the whole body may close while it is still being sent:
    // the answer has arrived by then, and an error after it is not the test's business.
    r.on("error", reject);
    if (payload) r.end(payload);
    else r.end();
  });
}

interface DagCase {
  file: string;
  source: string;
  status: number;
  codes: string[];
}

async function dagCases(): Promise<DagCase[]> {
  const files = (await readdir(DAGS)).filter((f) => f.endsWith(".dag")).sort();
  return Promise.all(
    files.map(async (file) => {
      const source = await readFile(new URL(file, DAGS), "utf8");
      const m = /^\/\/ expect: (\d{3})((?: [a-z_]+)*)\s*$/m.exec(source.split("\n")[0]!);
      assert.ok(m, `${file} starts with "// expect: <status> [codes...]"`);
      return { file, source, status: Number(m[1]), codes: m[2]!.trim().split(/\s+/).filter(Boolean) };
    }),
  );
}

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

/** Polls /healthz until stopped; each answer must come within HEALTH_GUARD_MS. */
function watchHealth(url: string) {
  const answered: number[] = [];
  const failures: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = Date.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTH_GUARD_MS) });
        if (res.status !== 200) failures.push(`/healthz answered ${res.status}`);
        else answered.push(Date.now());
        await res.arrayBuffer();
      } catch (err) {
        failures.push(`/healthz did not answer within ${HEALTH_GUARD_MS} ms (${(err as Error).message}) after ${Date.now() - t} ms`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { answered, failures };
    },
  };
}

function check(what: string, got: Answer, status: number, codes: readonly string[] | undefined): string | null {
  if (got.status !== status) return `${what}: expected ${status}, got ${got.status} ${got.text.slice(0, 300)}`;
  if (got.ms > HANG_GUARD_MS) return `${what}: answered after ${got.ms} ms`;
  if (status >= 400 && codes) {
    const e = got.body?.error;
    if (!e || typeof e.message !== "string" || e.message === "" || Object.keys(got.body).length !== 1) return `${what}: not Ferry's error shape: ${got.text.slice(0, 300)}`;
    if (!codes.includes(e.code)) return `${what}: expected ${codes.join(" or ")}, got ${e.code}: ${e.message.slice(0, 300)}`;
  }
  return null;
}

describe("bad input", { timeout: 600_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false });
    const ok = await f.api("POST", "/api/v1/dags", dagFile("bad_input_ok", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`));
    assert.equal(ok.status, 201, ok.text);
    const daily = await f.api("POST", "/api/v1/dags", dagFile("bad_input_daily", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: "0 6 * * *", start: "2099-01-01T00:00:00Z"`));
    assert.equal(daily.status, 201, daily.text);
    // Paused: runs made by the cases queue and start no Pod.
    for (const dagId of ["bad_input_ok", "bad_input_daily"]) assert.equal((await f.api("PATCH", `/api/v1/dags/${dagId}`, { paused: true })).status, 200);
    assert.equal((await f.api("POST", "/api/v1/dags/bad_input_ok/runs", { runId: "r1" })).status, 201);
  });
  after(async () => {
    await f?.close();
  });

  it("has a corpus of at least 40 DAG files and 40 requests, each its own case", async () => {
    const dags = await dagCases();
    assert.ok(dags.length >= 40, `DAG files: ${dags.length}`);
    assert.ok(BAD_REQUESTS.length >= 40, `requests: ${BAD_REQUESTS.length}`);
    assert.equal(new Set(BAD_REQUESTS.map((r) => r.name)).size, BAD_REQUESTS.length, "each request case has its own name");
    assert.ok(dags.some((d) => d.status === 201 && d.file.startsWith("ok-10000")), "the 10,000-task DAG is in the corpus");
  });

  it("answers every hostile DAG file with its 4xx (the 10,000-task DAG with 201), while /healthz keeps answering", async () => {
    const cases = await dagCases();
    const health = watchHealth(f.url);
    const started = Date.now();
    const failures: string[] = [];
    // Three at a time: bombs side by side (two sandboxes run at once on this machine; the rest queue).
    await inBatches(cases, 3, async (c) => {
      const got = await send(f.url, { method: "POST", path: "/api/v1/dags", headers: { "content-type": "application/typescript" }, body: c.source }).catch(
        (err: Error) => ({ status: 0, body: null, text: err.message, ms: Date.now() - started }),
      );
      const problem = check(c.file, got, c.status, c.codes.length > 0 ? c.codes : undefined);
      if (problem) failures.push(problem);
    });
    const ended = Date.now();
    const { answered, failures: healthFailures } = await health.stop();
    assert.deepEqual(failures, []);
    assert.deepEqual(healthFailures, [], "/healthz answers while the bombs run");
    assert.ok(answered.filter((t) => t > started && t < ended).length >= 3, `/healthz answered ${answered.length} times in ${ended - started} ms`);

    const big = await f.api("GET", "/api/v1/dags/big_10000");
    assert.equal(big.status, 200, big.text);
    assert.equal(big.body.tasks.length, 10_000);
    assert.deepEqual(big.body.tasks[100].dependsOn, ["t99", "t0"]);
    // The "__proto__" keys never left the sandbox: not in the stored DAG, not in Ferry's own objects.
    const proto = await f.api("GET", "/api/v1/dags/proto_in_options");
    assert.equal(proto.status, 200, proto.text);
    assert.equal(proto.body.catchup, false);
    assert.ok(!proto.text.includes("polluted"), proto.text);
    const [row] = await f.ferry.db.query<{ retries: unknown }>(
      `SELECT v.definition->'tasks'->0->'retries' AS retries FROM dag_versions v WHERE v.dag_id = 'proto_in_options'`,
    );
    assert.equal(row!.retries, 0);
    for (const refused of ["bad_nul", "bad_spin", "bad_memory", "bad_cycle", "bad_too_many"]) {
      assert.equal((await f.api("GET", `/api/v1/dags/${refused}`)).status, 404, `${refused} was not stored`);
    }
  });

  it("answers every bad request with its 4xx, while /healthz keeps answering", async () => {
    const health = watchHealth(f.url);
    const started = Date.now();
    const failures: string[] = [];
    await inBatches(BAD_REQUESTS, 4, async (c: BadRequest) => {
      const got = await send(f.url, c).catch((err: Error) => ({ status: 0, body: null, text: err.message, ms: Date.now() - started }));
      const problem = check(c.name, got, c.status, c.codes);
      if (problem) failures.push(problem);
    });
    const { failures: healthFailures } = await health.stop();
    assert.deepEqual(failures, []);
    assert.deepEqual(healthFailures, []);
    // None of them made anything.
    const runs = (await f.api("GET", "/api/v1/dags/bad_input_ok/runs?limit=100")).body.runs;
    assert.deepEqual(runs.map((r: any) => r.runId), ["r1"], "no refused trigger made a run");
    assert.equal((await f.api("GET", "/api/v1/pools/big")).status, 404);
    const tokens = (await f.api("GET", "/api/v1/tokens?limit=1000")).body.tokens;
    assert.deepEqual(tokens, [], "no refused request made a token");
  });

  it("serves normally afterwards, and nothing of the hostile input escaped", async () => {
    assert.equal((await f.api("GET", "/readyz")).status, 200);
    assert.equal((await f.api("GET", "/api/v1/dags?limit=1000")).status, 200);
    const pushed = await f.api("POST", "/api/v1/dags", dagFile("bad_input_after", `  podTask("t", { image: "alpine:3.20", command: ["sh", "-c", "echo fine"] });`));
    assert.equal(pushed.status, 201, pushed.text);
    const run = await f.api("POST", "/api/v1/dags/bad_input_after/runs", { runId: "after-1" });
    assert.equal(run.status, 201, run.text);
    const done = await f.waitForRun("bad_input_after", "after-1");
    assert.equal(done.state, "success");
    const log = await f.api("GET", "/api/v1/dags/bad_input_after/runs/after-1/tasks/t/logs");
    assert.equal(log.text, "fine\n");
    // Nothing reached the host: no file written by an escape attempt, no prototype polluted.
    assert.equal(existsSync(PWNED), false);
    const probe: Record<string, unknown> = {};
    assert.equal(probe.polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "toJSON"), false);
    assert.equal(typeof Array.prototype.push, "function");
    assert.deepEqual([1].concat([2]), [1, 2]);
  });
});
