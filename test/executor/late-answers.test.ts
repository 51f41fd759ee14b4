// Answers from the API server that arrive late. Under load, the answer to a Pod create often reaches the
// executor after the watch has already shown the Pod running, or even finished. Ferry once took that late
// answer (the Pod as Pending) for the Pod's current state: tries stayed `running` for good beside
// finished Pods, nothing was shipped to the log store until a Pod ended, and a cancel deleted a running
// Pod instead of stopping it, losing its log. localkube's `slowWriteResponsesMs` fault holds every write's
// answer back after the write took effect, which makes that order happen every time, with many Pods at once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

async function push(f: TestFerry, dagId: string, body: string): Promise<void> {
  const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, body));
  assert.equal(res.status, 201, res.text);
}

async function trigger(f: TestFerry, dagId: string, runId: string): Promise<void> {
  const res = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId });
  assert.equal(res.status, 201, res.text);
}

async function noPodsLeft(f: TestFerry): Promise<void> {
  await waitFor("every Pod to be deleted", async () => {
    const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
    return pods.items.length === 0;
  }, 60_000);
}

describe("late create answers, with instant Pods", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, localkube: { instant: true } });
    f.ferry.localkube!.faults.set({ slowWriteResponsesMs: 300 });
  });
  after(async () => {
    await f?.close();
  });

  it("finishes every try whose Pod finished before its create was answered", async () => {
    const tasks = Array.from({ length: 80 }, (_, i) => `  podTask("t${i}", { image: "alpine:3.20", command: ["sh", "-c", "echo t"] });`);
    await push(f, "instant_many", tasks.join("\n"));
    await trigger(f, "instant_many", "r1");
    // Before the fix, 31 of the 32 executor slots stayed taken by tries whose Pods had long finished.
    const run = await f.waitForRun("instant_many", "r1", 90_000);
    assert.equal(run.state, "success");
    assert.equal(run.tasks.filter((t: any) => t.state === "success").length, 80);
    await noPodsLeft(f);
  });
});

describe("late create answers, with many Pods running", { timeout: 180_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: true });
    f.ferry.localkube!.faults.set({ slowWriteResponsesMs: 600 });
  });
  after(async () => {
    await f?.close();
  });

  it("stores every running ticker's output while it runs, not only when it ends", async () => {
    const count = 24;
    const tickers = Array.from(
      { length: count },
      (_, i) => `  podTask("tick${i}", { image: "alpine:3.20", command: ["sh", "-c", "for j in $(seq 1 30); do echo tick${i} $j; sleep 0.25; done"] });`,
    );
    await push(f, "tickers", tickers.join("\n"));
    await trigger(f, "tickers", "r1");
    const storedWhileRunning = new Set<string>();
    const ended = new Set<string>();
    while (ended.size < count) {
      const before = (await f.api("GET", "/api/v1/dags/tickers/runs/r1")).body;
      for (let i = 0; i < count; i++) {
        const taskId = `tick${i}`;
        if (ended.has(taskId) || storedWhileRunning.has(taskId)) continue;
        const chunks = await f.ferry.logStore.listChunks({ dagId: "tickers", runId: "r1", taskId, tryNumber: 1 });
        // Read the state after listing: bytes seen in the store while the try is still running afterwards
        // were stored while it ran.
        const now = (await f.api("GET", `/api/v1/dags/tickers/runs/r1/tasks/${taskId}`)).body;
        if (chunks.length > 0 && now.state === "running") storedWhileRunning.add(taskId);
      }
      for (const t of before.tasks) if (["success", "failed"].includes(t.state)) ended.add(t.taskId);
      if (before.state !== "running" && before.state !== "queued") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const run = await f.waitForRun("tickers", "r1", 60_000);
    assert.equal(run.state, "success");
    const missing = Array.from({ length: count }, (_, i) => `tick${i}`).filter((t) => !storedWhileRunning.has(t));
    assert.deepEqual(missing, [], "tickers with nothing in the log store while they ran");
    for (let i = 0; i < count; i++) {
      const expected = Array.from({ length: 30 }, (_, j) => `tick${i} ${j + 1}\n`).join("");
      const stored = await readTryLog(f.ferry.logStore, { dagId: "tickers", runId: "r1", taskId: `tick${i}`, tryNumber: 1 });
      assert.equal(stored.toString(), expected);
    }
    await noPodsLeft(f);
  });

  it("keeps the log of a task cancelled while twenty other Pods run", async () => {
    const siblings = Array.from(
      { length: 20 },
      (_, i) => `  podTask("busy${i}", { image: "alpine:3.20", command: ["sh", "-c", "for j in $(seq 1 12); do echo busy${i} $j; sleep 0.25; done"] });`,
    );
    await push(f, "busy", siblings.join("\n"));
    await push(f, "cancel_target", `  podTask("target", { image: "alpine:3.20", command: ["sh", "-c", "echo cancel-target-started; sleep 60"] });`);
    await trigger(f, "busy", "r1");
    await trigger(f, "cancel_target", "r1");
    const logPath = "/api/v1/dags/cancel_target/runs/r1/tasks/target/logs";
    await waitFor("the target's first line", async () => {
      const res = await f.api("GET", logPath);
      return res.status === 200 && res.text === "cancel-target-started\n";
    });
    const cancel = await f.api("POST", "/api/v1/dags/cancel_target/runs/r1/cancel");
    assert.equal(cancel.status, 200, cancel.text);
    const run = await f.waitForRun("cancel_target", "r1", 60_000);
    assert.equal(run.state, "cancelled");
    await waitFor("the target's Pod to be reclaimed", async () => {
      const t = (await f.api("GET", "/api/v1/dags/cancel_target/runs/r1/tasks/target")).body;
      return t.tries?.[0]?.logComplete === true && t.tries[0].endedAt;
    });
    const stored = await readTryLog(f.ferry.logStore, { dagId: "cancel_target", runId: "r1", taskId: "target", tryNumber: 1 });
    assert.equal(stored.toString(), "cancel-target-started\n");
    assert.equal((await f.api("GET", logPath)).text, "cancel-target-started\n");
    assert.equal((await f.waitForRun("busy", "r1", 60_000)).state, "success");
    await noPodsLeft(f);
  });
});
