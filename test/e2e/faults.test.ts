// Ferry on a cluster that misbehaves (localkube's faults): API errors and throttling, watches that are
// cut or expire, slow starts, images that cannot be pulled, Pods that cannot be scheduled, eviction and
// the loss of the node. Runs still finish correctly, every log is whole, and no Pod is left behind.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

describe("Ferry under cluster faults", { timeout: 240_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, executor: { pendingTimeoutMs: 1500 }, localkube: { faultSeed: 42 } });
  });
  after(async () => {
    await f?.close();
  });

  const faults = () => f.ferry.localkube!.faults;

  async function push(dagId: string, body: string, options?: string): Promise<void> {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, body, options));
    assert.equal(res.status, 201, res.text);
  }

  async function trigger(dagId: string, runId: string): Promise<void> {
    const res = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId });
    assert.equal(res.status, 201, res.text);
  }

  async function log(dagId: string, runId: string, taskId: string, tryNumber?: number): Promise<string> {
    const res = await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/${taskId}/logs${tryNumber ? `?try=${tryNumber}` : ""}`);
    assert.equal(res.status, 200, res.text);
    return res.text;
  }

  async function noPodsLeft(): Promise<void> {
    await waitFor("every Pod to be deleted", async () => {
      const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
      return pods.items.length === 0;
    });
  }

  const task = (run: any, id: string) => run.tasks.find((t: any) => t.taskId === id);

  it("finishes runs through API errors, 429s with Retry-After, cut and expiring watches and slow starts", async () => {
    const body = Array.from({ length: 4 }, (_, i) => `  podTask("t${i}", { image: "busybox", command: ["sh", "-c", "for j in 1 2 3; do echo t${i} line $j; sleep 0.1; done"] });`).join("\n");
    await push("flaky_cluster", body);
    faults().set({ errorRate: 0.2, throttleRate: 0.1, retryAfterSeconds: 1, watchCutAfterEvents: 3, expireOnResume: true, podStartDelayMs: 500 });
    try {
      await trigger("flaky_cluster", "r1");
      const run = await f.waitForRun("flaky_cluster", "r1", 120_000);
      assert.equal(run.state, "success", JSON.stringify(run, null, 2));
    } finally {
      faults().set({});
    }
    for (let i = 0; i < 4; i++) assert.equal(await log("flaky_cluster", "r1", `t${i}`), `t${i} line 1\nt${i} line 2\nt${i} line 3\n`);
    await noPodsLeft();
  });

  // infraRetries: 0 — such failures are otherwise retried without using up retries (test/executor/infra-and-timeouts.test.ts).
  it("fails a try whose image cannot be pulled, and says why", async () => {
    await push("bad_image", `  podTask("pull", { image: "registry.invalid/nope:1", command: ["true"], infraRetries: 0 });`);
    faults().set({ imagePullFailures: ["registry.invalid/*"] });
    try {
      await trigger("bad_image", "r1");
      const run = await f.waitForRun("bad_image", "r1");
      assert.equal(run.state, "failed");
      assert.match(task(run, "pull").reason, /^(ErrImagePull|ImagePullBackOff)$/);
    } finally {
      faults().set({});
    }
    await noPodsLeft();
  });

  it("fails a try whose Pod cannot be scheduled", async () => {
    await push("no_node", `  podTask("place", { image: "busybox", command: ["true"], nodeSelector: { disktype: "ssd" }, infraRetries: 0 });`);
    await trigger("no_node", "r1");
    const run = await f.waitForRun("no_node", "r1");
    assert.equal(run.state, "failed");
    assert.equal(task(run, "place").reason, "Unschedulable");
    assert.match(task(run, "place").message, /nodes are available/);
    await noPodsLeft();
  });

  it("retries a task whose Pod was evicted, keeping the first try's log", async () => {
    await push(
      "evicted",
      `  podTask("work", { image: "busybox", retries: 1, retryDelay: "1s",
       command: ["sh", "-c", "echo try {{ tryNumber }}; if [ {{ tryNumber }} = 1 ]; then sleep 60; fi; echo done"] });`,
    );
    await trigger("evicted", "r1");
    const pod = await waitFor("the first try to run", async () => {
      const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: `${POD_SELECTOR},ferry.dev/dag=evicted` });
      const running = pods.items.find((p) => p.status?.phase === "Running");
      return running && (await log("evicted", "r1", "work")).includes("try 1") ? running : null;
    });
    await faults().evict("default", pod.metadata!.name!);
    const run = await f.waitForRun("evicted", "r1");
    assert.equal(run.state, "success", JSON.stringify(run, null, 2));
    assert.equal(task(run, "work").tryNumber, 2);
    assert.equal(await log("evicted", "r1", "work", 1), "try 1\n");
    assert.equal(await log("evicted", "r1", "work", 2), "try 2\ndone\n");
    const [first] = await f.testDb.db.query<{ reason: string }>(
      `SELECT t.reason FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk
        WHERE r.dag_id = 'evicted' AND t.try_number = 1`,
    );
    assert.equal(first!.reason, "Evicted");
    await noPodsLeft();
  });

  it("retries every running task when the node is lost", async () => {
    const cmd = (name: string) => `["sh", "-c", "echo ${name} {{ tryNumber }}; if [ {{ tryNumber }} = 1 ]; then sleep 60; fi"]`;
    await push(
      "node_loss",
      `  podTask("a", { image: "busybox", retries: 1, retryDelay: "1s", command: ${cmd("a")} });
  podTask("b", { image: "busybox", retries: 1, retryDelay: "1s", command: ${cmd("b")} });`,
    );
    await trigger("node_loss", "r1");
    await waitFor("both tasks to run", async () => {
      const run = (await f.api("GET", "/api/v1/dags/node_loss/runs/r1")).body;
      return run.tasks.every((t: any) => t.state === "running");
    });
    await waitFor("both to print", async () => (await log("node_loss", "r1", "a")) === "a 1\n" && (await log("node_loss", "r1", "b")) === "b 1\n");
    await faults().loseNode();
    const run = await f.waitForRun("node_loss", "r1");
    assert.equal(run.state, "success", JSON.stringify(run, null, 2));
    for (const id of ["a", "b"]) {
      assert.equal(task(run, id).tryNumber, 2);
      assert.equal(await log("node_loss", "r1", id, 1), `${id} 1\n`);
    }
    await noPodsLeft();
  });
});
