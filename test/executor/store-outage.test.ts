// The log store stops for 20 s while tasks print and end. Their outcomes are recorded at once (the run
// moves on), their Pods are kept while their logs cannot be stored, and once the store is back every
// log is stored whole and exact, and only then are the Pods deleted. The store here is S3 (s3rver)
// behind a TCP proxy that stops listening, as a stopped server would.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { OutageProxy } from "../support/outage-proxy.ts";
import { startS3, type TestS3 } from "../support/s3.ts";

const TASKS = 6;
const expected = (i: number) => Array.from({ length: 20 }, (_, j) => `task ${i} line ${j + 1}\n`).join("");

describe("a log store outage while tasks end", { timeout: 180_000 }, () => {
  let s3: TestS3;
  let proxy: OutageProxy;
  let f: TestFerry;
  before(async () => {
    s3 = await startS3();
    proxy = new OutageProxy({ host: "127.0.0.1", port: Number(new URL(s3.endpoint).port) });
    await proxy.up();
    Object.assign(process.env, s3.env, { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${proxy.port}` });
    f = await startTestFerry({ s3: false, env: { FERRY_LOG_STORE: "s3://ferry-logs/outage" } });
  });
  after(async () => {
    await f?.close();
    await proxy?.down();
    await s3?.close();
  });

  const pods = async () => (await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR })).items;

  it("records outcomes at once, keeps the Pods, and stores every log whole once the store is back", async () => {
    const body = [
      ...Array.from(
        { length: TASKS },
        (_, i) => `  const t${i} = podTask("t${i}", { image: "alpine:3.20", command: ["sh", "-c", "for j in $(seq 1 20); do echo task ${i} line $j; sleep 0.15; done"] });`,
      ),
      `  podTask("after", { image: "alpine:3.20", command: ["sh", "-c", "echo downstream ran"], dependsOn: [t0] });`,
    ].join("\n");
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("outage", body))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/outage/runs", { runId: "r1" })).status, 201);
    await waitFor("every task's first lines to be stored", async () => {
      for (let i = 0; i < TASKS; i++) {
        if ((await f.ferry.logStore.listChunks({ dagId: "outage", runId: "r1", taskId: `t${i}`, tryNumber: 1 })).length === 0) return false;
      }
      return true;
    });

    await proxy.down();
    const downAt = Date.now();
    // The tasks end while the store is down: their outcomes are recorded, the downstream task runs.
    const run = await waitFor("the tasks to be recorded as ended", async () => {
      const r = (await f.api("GET", "/api/v1/dags/outage/runs/r1")).body;
      return r.tasks.filter((t: any) => t.taskId.startsWith("t") && t.state === "success").length === TASKS ? r : null;
    });
    assert.ok(Date.now() - downAt < 20_000, "recorded while the store is still down");
    for (const t of run.tasks.filter((t: any) => t.taskId.startsWith("t"))) {
      const view = (await f.api("GET", `/api/v1/dags/outage/runs/r1/tasks/${t.taskId}`)).body;
      assert.equal(view.tries[0].logComplete, false, `${t.taskId}: its log cannot be complete while the store is down`);
    }
    const kept = (await pods()).map((p) => p.metadata!.annotations!["ferry.dev/task"]);
    for (let i = 0; i < TASKS; i++) assert.ok(kept.includes(`t${i}`), `t${i}'s Pod is kept while its log is not stored`);

    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - downAt))));
    await proxy.up();

    const done = await f.waitForRun("outage", "r1", 90_000);
    assert.equal(done.state, "success");
    await waitFor("every Pod to be deleted", async () => (await pods()).length === 0, 60_000);
    for (let i = 0; i < TASKS; i++) {
      const key = { dagId: "outage", runId: "r1", taskId: `t${i}`, tryNumber: 1 };
      assert.equal((await readTryLog(f.ferry.logStore, key)).toString(), expected(i), `t${i}'s stored log`);
      assert.equal((await f.api("GET", `/api/v1/dags/outage/runs/r1/tasks/t${i}/logs`)).text, expected(i));
      const view = (await f.api("GET", `/api/v1/dags/outage/runs/r1/tasks/t${i}`)).body;
      assert.equal(view.tries[0].logComplete, true);
      const events = (await f.api("GET", `/api/v1/dags/outage/runs/r1/tasks/t${i}/events`)).body.events.map((e: any) => e.reason);
      assert.ok(events.includes("LogStoreUnavailable") && events.includes("LogStoreRecovered"), `t${i} events: ${events.join(", ")}`);
    }
    assert.equal((await f.api("GET", "/api/v1/dags/outage/runs/r1/tasks/after/logs")).text, "downstream ran\n");
  });
});
