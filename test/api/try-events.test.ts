// Each try's events, beside its log: the Pod's Kubernetes Events captured from localkube (an OOM-killed
// pod task), the events route (oldest first, default the latest try, its 404s), the summary on every try
// of the task JSON, and who cancelled or cleared a try. The log itself stays the container's bytes.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { captureKubeEvents } from "../../executor/pod-events.ts";
import { summarizeTryEvents, type TryEvent } from "../../executor/try-events.repository.ts";
import { getRun, getTaskInstance } from "../../scheduler/runs.repository.ts";
import { apiError, dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const canMeasureMemory = (() => {
  try {
    return /VmRSS/.test(readFileSync("/proc/self/status", "utf8"));
  } catch {
    return false;
  }
})();

describe("try events", { timeout: 180_000 }, () => {
  let f: TestFerry;
  before(async () => {
    // A Pod's Events outlive it (an hour on a real cluster): long enough here for a test to capture them
    // after the executor has deleted the Pod, whatever the machine's pace.
    f = await startTestFerry({ s3: false, localkube: { eventRetentionSeconds: 600 } });
  });
  after(async () => {
    await f?.close();
  });

  async function push(dagId: string, body: string): Promise<void> {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, body));
    assert.equal(res.status, 201, res.text);
  }
  async function trigger(dagId: string, runId: string): Promise<void> {
    const res = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId });
    assert.equal(res.status, 201, res.text);
  }
  const taskPath = (dagId: string, runId: string, taskId: string) => `/api/v1/dags/${dagId}/runs/${runId}/tasks/${taskId}`;
  const events = (dagId: string, runId: string, taskId: string, query = "") => f.api("GET", `${taskPath(dagId, runId, taskId)}/events${query}`);
  const task = async (dagId: string, runId: string, taskId: string) => {
    const res = await f.api("GET", taskPath(dagId, runId, taskId));
    assert.equal(res.status, 200, res.text);
    return res.body;
  };
  const taskInstanceId = async (dagId: string, runId: string, taskId: string) => {
    const run = await getRun(f.ferry.db, dagId, runId);
    return (await getTaskInstance(f.ferry.db, run!.pk, taskId))!.id;
  };
  /** The summary a try's JSON should carry for these events, as the route lists them. */
  const summaryOf = (list: any[]) => {
    const s = summarizeTryEvents(
      list.map((e): TryEvent => ({ ...e, at: new Date(e.at), lastAt: e.lastAt === null ? null : new Date(e.lastAt) })),
    );
    return { ...s, lastWarning: s.lastWarning && { ...s.lastWarning, at: s.lastWarning.at.toISOString() } };
  };

  it("stores an OOM-killed Pod's Kubernetes Events, oldest first, once however often captured", async (t) => {
    if (!canMeasureMemory) return t.skip("this host has no /proc for localkube to enforce memory limits");
    // Prints one line, then grows by 16 MiB every 20 ms; exits 0 (failing the test) at 1 GiB.
    const js = "console.log('starting');const a=[];setInterval(()=>{a.push(Buffer.alloc(16<<20,1));if(a.length>64)process.exit(0)},20)";
    await push(
      "ev_oom",
      `  podTask("hog", { image: "alpine:3.20", command: [${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(js)}], resources: { limits: { memory: "128Mi" } } });`,
    );
    await trigger("ev_oom", "r1");
    const run = await f.waitForRun("ev_oom", "r1");
    assert.equal(run.state, "failed", JSON.stringify(run));
    const hog = await task("ev_oom", "r1", "hog");
    assert.equal(hog.reason, "OOMKilled", JSON.stringify(hog));

    // The executor may have deleted the Pod by now; its Events stay, as on a real cluster.
    const target = { taskInstanceId: await taskInstanceId("ev_oom", "r1", "hog"), tryNumber: 1, namespace: "default", podName: hog.podName };
    const stored = await captureKubeEvents(f.ferry.kube, f.ferry.db, target);
    assert.ok(stored >= 4, `Scheduled, Pulled, Created and Started at least; got ${stored}`);
    assert.equal(await captureKubeEvents(f.ferry.kube, f.ferry.db, target), stored, "capturing again finds the same Events");
    assert.equal(await captureKubeEvents(f.ferry.kube, f.ferry.db, { ...target, podUid: "not-this-pods-uid" }), 0, "the uid filter holds");

    const res = await events("ev_oom", "r1", "hog");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.tryNumber, 1);
    assert.equal(res.body.state, "failed");
    assert.match(res.body.endedAt, ISO);
    const kube = res.body.events.filter((e: any) => e.source === "kubernetes");
    assert.equal(kube.length, stored, "each Event stored once, although captured three times");
    const reasons = kube.map((e: any) => e.reason);
    for (const r of ["Scheduled", "Pulled", "Created", "Started"]) assert.ok(reasons.includes(r), `${r} in ${reasons}`);
    assert.ok(
      reasons.indexOf("Scheduled") < reasons.indexOf("Pulled") && reasons.indexOf("Created") < reasons.indexOf("Started"),
      `in the order they happened: ${reasons}`,
    );
    for (const e of res.body.events) {
      assert.deepEqual(Object.keys(e), ["at", "source", "type", "reason", "message", "count", "lastAt"]);
      assert.match(e.at, ISO);
      assert.ok(e.lastAt === null || ISO.test(e.lastAt));
      assert.ok(["Normal", "Warning"].includes(e.type));
      assert.ok(Number.isInteger(e.count) && e.count >= 1);
    }
    const ats = res.body.events.map((e: any) => e.at);
    assert.deepEqual(ats, [...ats].sort(), "oldest first");
    const scheduled = kube.find((e: any) => e.reason === "Scheduled");
    assert.equal(scheduled.type, "Normal");
    assert.match(scheduled.message, new RegExp(`^Successfully assigned default/${hog.podName} to `));

    assert.deepEqual((await events("ev_oom", "r1", "hog", "?try=1")).body, res.body, "the latest try is the default");
    const again = await task("ev_oom", "r1", "hog");
    assert.equal(again.tries.length, 1);
    assert.deepEqual(again.tries[0].events, summaryOf(res.body.events));
    assert.equal(again.tries[0].events.count, res.body.events.length);

    // Nothing of this is in the log: it is exactly what the container printed.
    const log = await f.api("GET", `${taskPath("ev_oom", "r1", "hog")}/logs`);
    assert.equal(log.text, "starting\n");
  });

  it("records who cancelled a run on each try that had not ended, and who cleared a task", async () => {
    await push(
      "ev_cancel",
      [
        `  const quick = podTask("quick", { image: "alpine:3.20", command: ["sh", "-c", "echo quick"] });`,
        `  const slow = podTask("slow", { image: "alpine:3.20", command: ["sh", "-c", "echo slow {{ tryNumber }}; [ {{ tryNumber }} -gt 1 ] || sleep 60"], dependsOn: [quick] });`,
        `  podTask("last", { image: "alpine:3.20", command: ["sh", "-c", "echo last"], dependsOn: [slow] });`,
      ].join("\n"),
    );
    await trigger("ev_cancel", "r1");
    await waitFor("slow to run", async () => (await task("ev_cancel", "r1", "slow")).state === "running");
    await waitFor("slow's first line in its log", async () => (await f.api("GET", `${taskPath("ev_cancel", "r1", "slow")}/logs`)).text === "slow 1\n");

    // A task that has not started has no try, so no events: 404, as for its log.
    apiError(await events("ev_cancel", "r1", "last"), 404, "no_try_yet");

    const cancel = await f.api("POST", "/api/v1/dags/ev_cancel/runs/r1/cancel");
    assert.equal(cancel.status, 200, cancel.text);
    const slowEvents = (await events("ev_cancel", "r1", "slow")).body;
    const cancelled = slowEvents.events.filter((e: any) => e.reason === "Cancelled");
    assert.equal(cancelled.length, 1, JSON.stringify(slowEvents));
    assert.equal(cancelled[0].source, "ferry");
    assert.equal(cancelled[0].type, "Warning");
    assert.equal(cancelled[0].message, "cancelled through the API by the admin token");
    assert.equal(cancelled[0].count, 1);
    assert.equal(cancelled[0].lastAt, null);

    const quickEvents = (await events("ev_cancel", "r1", "quick")).body;
    assert.ok(!quickEvents.events.some((e: any) => e.reason === "Cancelled"), "a try that had ended was not cancelled");
    assert.ok(!(await task("ev_cancel", "r1", "quick")).tries[0].events.lastWarning, "and its summary has no Warning");

    // Once the try has ended: its summary counts the cancel, and its log is still only what it printed.
    const slowTask = await waitFor("slow's try to end", async () => {
      const t = await task("ev_cancel", "r1", "slow");
      return t.tries[0]?.endedAt ? t : null;
    });
    const ended = (await events("ev_cancel", "r1", "slow")).body;
    assert.deepEqual(slowTask.tries[0].events, summaryOf(ended.events));
    assert.ok(slowTask.tries[0].events.warnings >= 1);
    assert.equal((await f.api("GET", `${taskPath("ev_cancel", "r1", "slow")}/logs`)).text, "slow 1\n");

    // Clearing `slow` reruns it (and `last`): its first try says who cleared it, as a Normal event.
    const clear = await f.api("POST", "/api/v1/dags/ev_cancel/runs/r1/tasks/slow/clear");
    assert.equal(clear.status, 200, clear.text);
    const run = await f.waitForRun("ev_cancel", "r1");
    assert.equal(run.state, "success", JSON.stringify(run));
    const first = (await events("ev_cancel", "r1", "slow", "?try=1")).body;
    const cleared = first.events.filter((e: any) => e.reason === "Cleared");
    assert.equal(cleared.length, 1, JSON.stringify(first));
    assert.equal(cleared[0].type, "Normal");
    assert.equal(cleared[0].source, "ferry");
    assert.match(cleared[0].message, /^cleared through the API by the admin token\b/);
    const reasons = first.events.map((e: any) => e.reason);
    assert.ok(reasons.indexOf("Cancelled") < reasons.indexOf("Cleared"), `oldest first: ${reasons}`);

    const second = (await events("ev_cancel", "r1", "slow")).body;
    assert.equal(second.tryNumber, 2, "the latest try by default");
    assert.ok(!second.events.some((e: any) => ["Cancelled", "Cleared"].includes(e.reason)), JSON.stringify(second));
    const slowAgain = await task("ev_cancel", "r1", "slow");
    assert.deepEqual(
      slowAgain.tries.map((t: any) => t.events.lastWarning?.reason ?? null),
      [slowTask.tries[0].events.lastWarning.reason, summaryOf(second.events).lastWarning?.reason ?? null],
      "each try's own summary, from one list of the task's events",
    );
    assert.equal((await events("ev_cancel", "r1", "quick")).body.events.some((e: any) => e.reason === "Cleared"), false, "upstream of the cleared task: untouched");
  });

  it("answers 404 for an unknown run, task or try, and 400 for a try that is not a number", async () => {
    await push("ev_404", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`);
    await trigger("ev_404", "r1");
    await f.waitForRun("ev_404", "r1");
    assert.equal((await events("ev_404", "r1", "t")).status, 200);
    apiError(await events("ev_404", "no-such-run", "t"), 404, "run_not_found");
    apiError(await events("ev_404", "r1", "no_such_task"), 404, "task_not_found");
    const err = apiError(await events("ev_404", "r1", "t", "?try=2"), 404, "try_not_found");
    assert.match(err.message, /no try 2/);
    for (const bad of ["0", "-1", "abc", "1.5"]) apiError(await events("ev_404", "r1", "t", `?try=${bad}`), 400, "bad_request");
  });
});
