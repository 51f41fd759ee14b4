// /metrics after real work: every metric the README lists is there, counting what happened (runs made
// and finished, Pods, try durations and failures, queue waits, dependency hops, Kubernetes requests, log
// bytes), beside the process's own; and FERRY_METRICS_TOKEN closes it to anyone without the token.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { dagFile } from "../support/api.ts";
import { startTestFerry, type TestFerry } from "../support/ferry.ts";
import { sample } from "../support/metrics.ts";

describe("metrics", { timeout: 90_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, env: { FERRY_METRICS_TOKEN: "metrics-token-0123456789" } });
  });
  after(async () => {
    await f?.close();
  });

  it("counts runs, Pods, tries, waits, hops, Kubernetes requests and log bytes", async () => {
    const body = [
      `  const a = podTask("a", { image: "busybox", command: ["sh", "-c", "echo 0123456789"] });`,
      `  podTask("b", { image: "busybox", command: ["sh", "-c", "echo done"], dependsOn: [a] });`,
    ].join("\n");
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("measured", body))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("failing", `  podTask("t", { image: "busybox", command: ["sh", "-c", "exit 3"] });`))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/measured/runs", { runId: "r1" })).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/failing/runs", { runId: "r1" })).status, 201);
    assert.equal((await f.waitForRun("measured", "r1")).state, "success");
    assert.equal((await f.waitForRun("failing", "r1")).state, "failed");

    const res = await fetch(`${f.url}/metrics`, { headers: { authorization: "Bearer metrics-token-0123456789" } });
    assert.equal(res.status, 200);
    const text = await res.text();
    const atLeast = (n: number, name: string, labels?: Record<string, string>) => {
      const v = sample(text, name, labels);
      assert.ok(v !== undefined && v >= n, `${name}${JSON.stringify(labels ?? {})} = ${v}, expected at least ${n}`);
    };
    atLeast(2, "ferry_runs_created_total", { type: "manual" });
    atLeast(1, "ferry_runs_finished_total", { state: "success" });
    atLeast(1, "ferry_runs_finished_total", { state: "failed" });
    atLeast(3, "ferry_pods_created_total");
    atLeast(2, "ferry_task_duration_seconds_count", { state: "success" });
    atLeast(1, "ferry_tries_failed_total", { reason: "Error", infra: "false" });
    atLeast(3, "ferry_task_queue_wait_seconds_count");
    atLeast(3, "ferry_pod_start_seconds_count");
    atLeast(1, "ferry_dependency_hop_seconds_count");
    atLeast(3, "ferry_kube_requests_total", { verb: "create", code: "201" });
    atLeast(3, "ferry_kube_requests_total", { verb: "delete", code: "200" });
    atLeast("0123456789\ndone\n".length, "ferry_log_bytes_shipped_total");
    atLeast(3, "ferry_log_finish_lag_seconds_count");
    atLeast(1, "ferry_dag_runs", { state: "success" });
    atLeast(1, "ferry_dag_runs", { state: "failed" });
    atLeast(2, "ferry_dags", { paused: "false" });
    atLeast(1, "ferry_http_requests_total", { method: "POST", status: "201" });
    atLeast(0, "process_cpu_user_seconds_total");
    atLeast(0, "nodejs_eventloop_lag_seconds");
    for (const name of ["ferry_kube_watch_restarts_total", "ferry_log_store_errors_total", "ferry_tries_adopted_total", "ferry_orphan_pods_removed_total"]) {
      assert.match(text, new RegExp(`# TYPE ${name} counter`), `${name} is exported`);
    }
  });

  it("asks for FERRY_METRICS_TOKEN when it is set", async () => {
    assert.equal((await fetch(`${f.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${f.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 401);
    assert.equal((await fetch(`${f.url}/healthz`)).status, 200, "health stays open");
  });
});
