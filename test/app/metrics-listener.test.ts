// A Ferry process without the API serves its own metrics and probes (app/metrics-listener.ts): two real
// Ferrys share one database, one localkube and one log store, as split Deployments would. The first runs
// only the API (and localkube); the second runs the scheduler and the executor, with no API. A task
// pushed and triggered through the first runs in the second, and the second's listener shows what its
// executor and scheduler counted (the first never sees it), asks for FERRY_METRICS_TOKEN, and answers
// /healthz and /readyz. A process with the API opens no second listener, FERRY_METRICS_PORT=0 opens none,
// and a port already taken stops the start with a message naming the setting.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startFerry, type Ferry } from "../../app/ferry.ts";
import { compileConfig } from "../../config/config.ts";
import { freePort } from "../../db/embedded.ts";
import { createLogger } from "../../lib/logger.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";
import { sample } from "../support/metrics.ts";

const METRICS_TOKEN = "metrics-token-0123456789";
const quiet = process.env.FERRY_TEST_VERBOSE ? { format: "pretty" as const } : { level: "silent" as const };

/** Whether a TCP connection to 127.0.0.1:port is refused, i.e. nothing listens there. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNREFUSED" ? resolve(true) : reject(err)));
  });
}

describe("a Ferry process without the API serves its metrics and probes", { timeout: 180_000 }, () => {
  let f: TestFerry;
  let apiSidePort: number;
  let workerDir: string;
  let worker: Ferry | null = null;

  /** A Ferry beside `f` on its database, cluster and log store, running `components` only. */
  async function startBeside(components: string, env: Record<string, string>): Promise<Ferry> {
    const config = compileConfig({
      DATABASE_URL: f.testDb.url,
      FERRY_DATA_DIR: path.join(workerDir, components.replace(/,/g, "-")),
      FERRY_COMPONENTS: components,
      FERRY_KUBE: "kubeconfig",
      KUBECONFIG: path.join(f.dataDir, "kubeconfig"), // written there by f's localkube
      FERRY_HOST: "127.0.0.1", // off localkube Ferry would bind every interface
      FERRY_API_TOKEN: TEST_TOKEN,
      FERRY_LOG_STORE: `file://${path.join(f.dataDir, "logs")}`,
      FERRY_WORKER_API_URL: f.url,
      FERRY_METRICS_TOKEN: METRICS_TOKEN,
      ...env,
    });
    return startFerry(config, {
      log: createLogger("ferry", quiet),
      scheduler: { pollIntervalMs: 200 },
      executor: { pollIntervalMs: 200, logFlushIntervalMs: 200 },
    });
  }

  before(async () => {
    apiSidePort = await freePort();
    f = await startTestFerry({ s3: false, env: { FERRY_COMPONENTS: "api", FERRY_METRICS_TOKEN: METRICS_TOKEN, FERRY_METRICS_PORT: String(apiSidePort) } });
    workerDir = await mkdtemp(path.join(os.tmpdir(), "ferry-metrics-listener-"));
    worker = await startBeside("scheduler,executor", { FERRY_METRICS_PORT: String(await freePort()) });
  });

  after(async () => {
    await worker?.close();
    await f?.close();
    if (workerDir) await rm(workerDir, { recursive: true, force: true });
  });

  it("opens no second listener in a process that runs the API", async () => {
    assert.equal(f.ferry.metricsUrl, null);
    assert.ok(await refused(apiSidePort), `nothing listens on FERRY_METRICS_PORT (${apiSidePort}) beside the API`);
    assert.equal((await fetch(`${f.url}/healthz`)).status, 200, "the API serves the probes itself");
  });

  it("serves what the executor and the scheduler counted, behind FERRY_METRICS_TOKEN", async () => {
    const metricsUrl = worker!.metricsUrl;
    assert.ok(metricsUrl, "the scheduler-and-executor process has a metrics listener");
    assert.equal(worker!.url, null);

    const body = `  podTask("t", { image: "busybox", command: ["sh", "-c", "echo 0123456789"] });`;
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("split", body))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/split/runs", { runId: "r1" })).status, 201);
    assert.equal((await f.waitForRun("split", "r1", 120_000)).state, "success");

    assert.equal((await fetch(`${metricsUrl}/metrics`)).status, 401, "no token");
    assert.equal((await fetch(`${metricsUrl}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 401, "a wrong token");
    const res = await fetch(`${metricsUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await res.text();
    const atLeast = (n: number, name: string, labels?: Record<string, string>) => {
      const v = sample(text, name, labels);
      assert.ok(v !== undefined && v >= n, `${name}${JSON.stringify(labels ?? {})} = ${v}, expected at least ${n}`);
    };
    atLeast(1, "ferry_pods_created_total");
    atLeast(1, "ferry_task_duration_seconds_count", { state: "success" });
    atLeast(1, "ferry_task_queue_wait_seconds_count");
    atLeast(1, "ferry_kube_requests_total", { verb: "create", code: "201" });
    atLeast("0123456789\n".length, "ferry_log_bytes_shipped_total");
    atLeast(1, "ferry_log_finish_lag_seconds_count");
    atLeast(1, "ferry_runs_finished_total", { state: "success" });
    atLeast(0, "process_cpu_user_seconds_total");
    assert.equal(sample(text, "ferry_http_requests_total"), undefined, "scrapes and probes are not API requests");

    // The gap this listener closes: the API's process creates no Pods, so its /metrics never shows them.
    const apiSide = await (await fetch(`${f.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    assert.equal(sample(apiSide, "ferry_pods_created_total"), 0);
  });

  it("answers /healthz and /readyz without a token, and serves nothing of the API", async () => {
    const metricsUrl = worker!.metricsUrl!;
    const health = await fetch(`${metricsUrl}/healthz`);
    assert.equal(health.status, 200);
    const liveness = await health.json();
    assert.equal(liveness.status, "ok");
    assert.deepEqual(Object.keys(liveness.components).sort(), ["executor", "scheduler"], "the loops this process runs");
    const ready = await fetch(`${metricsUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });
    assert.equal((await fetch(`${metricsUrl}/api/v1/dags`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).status, 404);
  });

  it("opens none when FERRY_METRICS_PORT is 0", async () => {
    const scheduler = await startBeside("scheduler", { FERRY_METRICS_PORT: "0" });
    try {
      assert.equal(scheduler.metricsUrl, null);
    } finally {
      await scheduler.close();
    }
  });

  it("refuses to start when its port is taken, naming the setting", async () => {
    const taken = new URL(worker!.metricsUrl!).port;
    await assert.rejects(startBeside("executor", { FERRY_METRICS_PORT: taken }), /cannot listen on 127\.0\.0\.1:\d+ \(FERRY_METRICS_PORT; 0 turns it off\)/);
  });

  it("closes its listener when the process stops", async () => {
    const port = Number(new URL(worker!.metricsUrl!).port);
    await worker!.close();
    worker = null;
    assert.ok(await refused(port), "the port is free once Ferry has closed");
  });
});
