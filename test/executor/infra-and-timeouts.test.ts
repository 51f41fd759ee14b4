// Failures outside the task do not burn its retries; Pods that never start fail at the start timeout,
// or at once when their spec can never start; a container the cluster lets run past its timeout is
// stopped by Ferry. Each through the whole Ferry on localkube, with the cluster fault that causes it.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

describe("infrastructure retries and timeouts", { timeout: 180_000 }, () => {
  let f: TestFerry;
  const faults = () => f.ferry.localkube!.faults;

  before(async () => {
    f = await startTestFerry({ s3: false, executor: { pendingTimeoutMs: 1500, timeoutGraceMs: 1000, infraRetryDelayMs: 200 } });
  });
  afterEach(() => faults().set({}));
  after(async () => {
    await f?.close();
  });

  async function run(dagId: string, task: string): Promise<any> {
    const pushed = await f.api("POST", "/api/v1/dags", dagFile(dagId, task));
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
    return f.waitForRun(dagId, "r1", 60_000);
  }
  const tries = async (dagId: string) => (await f.api("GET", `/api/v1/dags/${dagId}/runs/r1/tasks/t`)).body.tries as any[];
  async function noPodsLeft(): Promise<void> {
    const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name), []);
  }

  it("retries an evicted try without using up a retry, and says which try counted", async () => {
    const pushed = await f.api(
      "POST",
      "/api/v1/dags",
      dagFile("evicted", `  podTask("t", { image: "busybox", command: ["sh", "-c", "echo try {{ tryNumber }}; if [ {{ tryNumber }} = 1 ]; then sleep 60; fi"] });`),
    );
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await f.api("POST", "/api/v1/dags/evicted/runs", { runId: "r1" })).status, 201);
    const pod = await waitFor("the first try to print", async () => {
      const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
      const running = pods.items.find((p) => p.status?.phase === "Running");
      const printed = await readTryLog(f.ferry.logStore, { dagId: "evicted", runId: "r1", taskId: "t", tryNumber: 1 }).catch(() => Buffer.alloc(0));
      return running && printed.toString() === "try 1\n" ? running : null;
    });
    await faults().evict("default", pod.metadata!.name!);
    const done = await f.waitForRun("evicted", "r1");
    assert.equal(done.state, "success", "retries: 0, yet the eviction was retried");
    const [first, second] = await tries("evicted");
    assert.deepEqual([first.reason, first.counted, first.state], ["Evicted", false, "failed"]);
    assert.deepEqual([second.state, second.counted], ["success", true]);
    assert.equal((await readTryLog(f.ferry.logStore, { dagId: "evicted", runId: "r1", taskId: "t", tryNumber: 1 })).toString(), "try 1\n");
    await noPodsLeft();
  });

  it("stops retrying failures outside the task at infraRetries, and then fails it", async () => {
    faults().set({ unschedulable: true });
    const done = await run("nofit", `  podTask("t", { image: "busybox", command: ["true"], infraRetries: 1 });`);
    assert.equal(done.state, "failed");
    const all = await tries("nofit");
    assert.deepEqual(
      all.map((t) => [t.reason, t.counted]),
      [
        ["Unschedulable", false],
        ["Unschedulable", true],
      ],
    );
    await noPodsLeft();
  });

  it("fails a Pod stuck in ContainerCreating at the start timeout", async () => {
    faults().set({ podStartDelayMs: 30_000 });
    const done = await run("creating", `  podTask("t", { image: "busybox", command: ["true"], infraRetries: 0 });`);
    assert.equal(done.state, "failed");
    const [only] = await tries("creating");
    assert.equal(only.reason, "StartTimeout");
    assert.match(only.message, /did not start within 2 s \(still ContainerCreating\)/);
    await noPodsLeft();
  });

  it("fails at once, counted, on an image name that does not parse", async () => {
    const done = await run("badname", `  podTask("t", { image: "Busy Box:1", command: ["true"], retries: 0 });`);
    assert.equal(done.state, "failed");
    const [only] = await tries("badname");
    assert.deepEqual([only.reason, only.counted], ["InvalidImageName", true]);
    assert.match(only.message, /invalid reference format/);
    await noPodsLeft();
  });

  it("fails at once on an image that is not on the node with imagePullPolicy Never", async () => {
    faults().set({ imagePullFailures: ["registry.invalid/*"] });
    const done = await run("neverpull", `  podTask("t", { image: "registry.invalid/app:1", imagePullPolicy: "Never", command: ["true"] });`);
    const [only] = await tries("neverpull");
    assert.equal(done.state, "failed");
    assert.deepEqual([only.reason, only.counted], ["ErrImageNeverPull", true]);
    await noPodsLeft();
  });

  it("stops a container the cluster lets run past its timeout, keeping what it printed", async () => {
    faults().set({ deadlinesIgnored: true });
    const done = await run("overdue", `  podTask("t", { image: "busybox", timeout: "2s", command: ["sh", "-c", "echo started; sleep 120"] });`);
    assert.equal(done.state, "failed");
    const [only] = await tries("overdue");
    assert.deepEqual([only.reason, only.counted], ["DeadlineExceeded", true]);
    assert.match(only.message, /timeout of 2 s and was stopped by Ferry/);
    assert.equal((await readTryLog(f.ferry.logStore, { dagId: "overdue", runId: "r1", taskId: "t", tryNumber: 1 })).toString(), "started\n");
    const events = (await f.api("GET", "/api/v1/dags/overdue/runs/r1/tasks/t/events?try=1")).body.events as any[];
    assert.ok(events.some((e) => e.source === "ferry" && e.reason === "DeadlineExceeded"), JSON.stringify(events));
    await noPodsLeft();
  });
});
