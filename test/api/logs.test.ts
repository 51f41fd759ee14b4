// The log route as a client sees it: following a running task's log, the same bytes later from the log
// store, the 404s for logs that do not exist, and the health, readiness and metrics routes (no token).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";



// Ten lines, one every 200 ms: the task runs for about two seconds.
const TICKER = `podTask("ticker", { image: "alpine:3.20", command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done"] });`;
const TICKER_OUTPUT = Array.from({ length: 10 }, (_, i) => `line ${i + 1}\n`).join("");

describe("log routes", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry();
  });
  after(async () => {
    await f?.close();
  });

  const logUrl = (dagId: string, runId: string, taskId: string, query = "") => `${f.url}/api/v1/dags/${dagId}/runs/${runId}/tasks/${taskId}/logs${query}`;
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const task = async (dagId: string, runId: string, taskId: string) =>
    (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}`)).body.tasks.find((t: any) => t.taskId === taskId);
  async function startRun(dagId: string, runId: string): Promise<void> {
    const res = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId });
    assert.equal(res.status, 201, res.text);
  }

  it("follows a running task's log as it is printed, ending when the task ends, with the same bytes as a later read", async () => {
    const dagId = "api_follow";
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, TICKER))).status, 201);
    await startRun(dagId, "follow-1");
    await waitFor("the ticker to run", async () => (await task(dagId, "follow-1", "ticker"))?.state === "running");

    const res = await fetch(logUrl(dagId, "follow-1", "ticker", "?follow=true"), { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    const chunks: Buffer[] = [];
    let stateAtFirstChunk: string | undefined;
    for await (const chunk of res.body!) {
      if (chunks.length === 0) stateAtFirstChunk = (await task(dagId, "follow-1", "ticker")).state;
      chunks.push(Buffer.from(chunk));
    }
    const followed = Buffer.concat(chunks);
    assert.equal(stateAtFirstChunk, "running", "lines arrive while the task is still running");
    assert.equal(followed.toString(), TICKER_OUTPUT, "the followed log is the whole output");

    const run = await f.waitForRun(dagId, "follow-1");
    assert.equal(run.state, "success");
    const later = await fetch(logUrl(dagId, "follow-1", "ticker"), { headers: auth });
    assert.equal(later.status, 200);
    assert.ok(Buffer.from(await later.arrayBuffer()).equals(followed), "the same bytes from the log store as from the live Pod");
  });

  it("follows a finished task's log: the whole log, then the body ends", async () => {
    const dagId = "api_follow";
    const res = await fetch(logUrl(dagId, "follow-1", "ticker", "?follow=true&try=1"), { headers: auth });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), TICKER_OUTPUT);
  });

  it("keeps serving when a follower goes away mid-stream", async () => {
    const dagId = "api_follow_abort";
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, TICKER))).status, 201);
    await startRun(dagId, "abort-1");
    await waitFor("the ticker to run", async () => (await task(dagId, "abort-1", "ticker"))?.state === "running");

    const controller = new AbortController();
    const res = await fetch(logUrl(dagId, "abort-1", "ticker", "?follow=true"), { headers: auth, signal: controller.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.match(Buffer.from(first.value!).toString(), /^line 1\n/);
    controller.abort();
    await reader.cancel().catch(() => {});

    // Ferry goes on: it answers, and the task finishes with its whole log.
    assert.equal((await f.api("GET", "/healthz")).status, 200);
    const run = await f.waitForRun(dagId, "abort-1");
    assert.equal(run.state, "success");
    assert.equal((await f.api("GET", `/api/v1/dags/${dagId}/runs/abort-1/tasks/ticker/logs`)).text, TICKER_OUTPUT);
    assert.equal((await f.api("GET", "/healthz")).status, 200);
  });

  it("answers 404 no_log_yet for a task that has not started, and 404 try_not_found for a try that does not exist", async () => {
    const dagId = "api_no_log";
    const body = `  const first = podTask("first", { image: "alpine:3.20", command: ["sh", "-c", "echo waiting; sleep 30"] });
  podTask("second", { image: "alpine:3.20", command: ["sh", "-c", "echo second"], dependsOn: [first] });`;
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, body))).status, 201);
    await startRun(dagId, "nolog-1");
    await waitFor("the first task to run", async () => (await task(dagId, "nolog-1", "first"))?.state === "running");

    const err = apiError(await f.api("GET", `/api/v1/dags/${dagId}/runs/nolog-1/tasks/second/logs`), 404, "no_log_yet");
    assert.ok(err.message.length > 0);
    apiError(await f.api("GET", `/api/v1/dags/${dagId}/runs/nolog-1/tasks/second/logs?follow=true`), 404, "no_log_yet");
    apiError(await f.api("GET", `/api/v1/dags/${dagId}/runs/nolog-1/tasks/first/logs?try=9`), 404, "try_not_found");
    apiError(await f.api("GET", `/api/v1/dags/${dagId}/runs/nolog-1/tasks/first/logs?try=0`), 400, "bad_request");

    // What the running task printed so far is there, from its live Pod.
    await waitFor("the first line", async () => (await f.api("GET", `/api/v1/dags/${dagId}/runs/nolog-1/tasks/first/logs?try=1`)).text === "waiting\n");

    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs/nolog-1/cancel`)).status, 200);
    assert.equal((await f.waitForRun(dagId, "nolog-1")).state, "cancelled");
    apiError(await f.api("GET", `/api/v1/dags/${dagId}/runs/nolog-1/tasks/second/logs`), 404, "no_log_yet");
  });

  it("needs a token for logs", async () => {
    const res = await fetch(logUrl("api_follow", "follow-1", "ticker"));
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "unauthorized");
  });

  it("serves /healthz, /readyz and /metrics without a token", async () => {
    const health = await fetch(`${f.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");

    const ready = await fetch(`${f.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.ok((await ready.json()).status);

    const metrics = await fetch(`${f.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await metrics.text();
    assert.match(text, /^# TYPE ferry_dag_runs gauge$/m);
    assert.match(text, /^ferry_dag_runs\{state="success"\} [1-9]\d*$/m, "the runs of this file are counted");
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$/, `a Prometheus sample line: ${line}`);
    }
  });
});
