// An executor that dies mid-task loses nothing: its leases run out, another executor adopts the try,
// resumes the log copy where the store left off (no byte lost, none twice), records the outcome and
// deletes the Pod.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { extraExecutor, startTestFerry, waitFor, type ExtraExecutor, type TestFerry } from "../support/ferry.ts";

const SLOW_DAG = `
import { dag, podTask } from "ferry";
export default dag("slow_printer", { schedule: null }, () => {
  podTask("print", { image: "busybox", command: ["sh", "-c", "for i in $(seq 1 40); do echo line $i; sleep 0.1; done"] });
});
`;

const expectedLog = Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`).join("");

describe("executor crash and adoption", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ executor: { leaseMs: 1500 } });
  });
  after(async () => {
    await f?.close();
  });

  it("a second executor adopts a running try after the first dies, and the log is exact", async () => {
    assert.equal((await f.api("POST", "/api/v1/dags", SLOW_DAG)).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/slow_printer/runs", { runId: "crash-1" })).status, 201);
    const key = { dagId: "slow_printer", runId: "crash-1", taskId: "print", tryNumber: 1 };
    await waitFor("some of the log to be stored", async () => (await f.ferry.logStore.listChunks(key)).length >= 2);

    // "Crash": stop the executor without handing its tries back, so they wait for the lease to expire.
    await f.ferry.executor!.stop({ releaseLeases: false });
    const [midway] = await f.testDb.db.query<{ state: string; ended_at: Date | null }>(
      `SELECT state, ended_at FROM task_tries WHERE pod_name LIKE 'slow-printer-print-%'`,
    );
    assert.equal(midway!.ended_at, null, "the outcome is not recorded by the dead executor");

    const { executor: second, stop: stopSecond } = await extraExecutor(f, { leaseMs: 1500 });
    second.start();
    try {
      const run = await f.waitForRun("slow_printer", "crash-1");
      assert.equal(run.state, "success");
      assert.equal(run.tasks[0].tryNumber, 1, "adopted, not retried");
      const log = await f.api("GET", "/api/v1/dags/slow_printer/runs/crash-1/tasks/print/logs");
      assert.equal(log.text, expectedLog);
      await waitFor("the pod to be deleted", async () => {
        const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
        return pods.items.length === 0;
      });
      const [tried] = await f.testDb.db.query<{ executor_id: string; log_complete: boolean; pod_reclaimed: boolean }>(
        `SELECT executor_id, log_complete, pod_reclaimed FROM task_tries WHERE pod_name LIKE 'slow-printer-print-%'`,
      );
      assert.equal(tried!.executor_id, second.id);
      assert.equal(tried!.log_complete, true);
      assert.equal(tried!.pod_reclaimed, true);
    } finally {
      await stopSecond();
    }
  });

  it("a try whose Pod vanished while no executor watched ends PodLost and is retried", async () => {
    const dag = `
import { dag, podTask } from "ferry";
export default dag("vanishing", { schedule: null }, () => {
  podTask("work", { image: "busybox", retries: 1, retryDelay: "1s",
    command: ["sh", "-c", "echo try {{ tryNumber }}; if [ {{ tryNumber }} = 1 ]; then sleep 60; fi"] });
});
`;
    const first = await extraExecutor(f, { leaseMs: 1500 });
    first.executor.start();
    let second: ExtraExecutor | null = null;
    try {
      assert.equal((await f.api("POST", "/api/v1/dags", dag)).status, 201);
      assert.equal((await f.api("POST", "/api/v1/dags/vanishing/runs", { runId: "v1" })).status, 201);
      const key = { dagId: "vanishing", runId: "v1", taskId: "work", tryNumber: 1 };
      await waitFor("the first try to print", async () => (await f.ferry.logStore.listChunks(key)).length > 0);
      await first.executor.stop(); // a clean stop hands the try back at once
      const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: `${POD_SELECTOR},ferry.dev/dag=vanishing` });
      for (const p of pods.items) await f.ferry.kube.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: "default", gracePeriodSeconds: 0 });

      second = await extraExecutor(f, { leaseMs: 1500 });
      second.executor.start();
      const run = await f.waitForRun("vanishing", "v1");
      assert.equal(run.state, "success", JSON.stringify(run, null, 2));
      const detail = (await f.api("GET", "/api/v1/dags/vanishing/runs/v1/tasks/work")).body;
      assert.deepEqual(detail.tries.map((t: any) => [t.tryNumber, t.state, t.reason]), [
        [1, "failed", "PodLost"],
        [2, "success", "Completed"],
      ]);
      assert.equal(detail.tries[0].logBytes, "try 1\n".length, "what earlier copies stored is counted");
      assert.equal(detail.tries[0].logComplete, false);
      assert.equal((await f.api("GET", "/api/v1/dags/vanishing/runs/v1/tasks/work/logs?try=1")).text, "try 1\n", "what it printed is kept");
    } finally {
      await first.stop();
      await second?.stop();
    }
  });
});
