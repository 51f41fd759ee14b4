// The overlap policy "replace" with real Pods: the tick that comes while a run is running cancels it;
// the executor stops its Pod by its normal cancel path (the Pod goes, its log stays readable) and the
// new run runs. A whole Ferry on localkube, the scheduler on a clock of the test's.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { waitFor, type TestFerry } from "../support/ferry.ts";
import { manualClock, nextRunAt, taskLog, useClockedFerry, type FileGate } from "./support.ts";

describe("overlap replace with Pods", { timeout: 120_000 }, () => {
  const clock = manualClock("2026-01-01T00:00:00Z");
  let f: TestFerry;
  let gate: FileGate;
  useClockedFerry(clock.read, "ferry-replace-", (started) => ({ f, gate } = started));

  const log = (runId: string) => taskLog(f, "replaced", runId, "work");
  const podsOf = async (runId: string) =>
    (await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: `${POD_SELECTOR},ferry.dev/dag=replaced` })).items.filter(
      (p) => p.metadata?.annotations?.["ferry.dev/run"] === runId,
    );

  it("cancels the running run, stopping its Pod and keeping its log, and runs the new tick's run", async () => {
    const source = `import { dag, podTask } from "ferry";
export default dag("replaced", { schedule: "@hourly", overlap: "replace" }, () => {
  podTask("work", { image: "alpine:3.20", command: ["sh", "-c", "echo working on {{ logicalDate }}; ${gate.shellWait}; echo done"] });
});
`;
    assert.equal((await f.api("POST", "/api/v1/dags", source)).status, 201);
    const firstTick = await nextRunAt(f, "replaced");
    const first = `scheduled__${firstTick}`;
    clock.set(firstTick);
    await waitFor("the first run's task to run and print", async () => (await log(first)) === `working on ${firstTick}\n`);
    assert.equal((await podsOf(first)).length, 1);

    const secondTick = new Date(new Date(firstTick).getTime() + 3600_000).toISOString();
    const second = `scheduled__${secondTick}`;
    clock.set(secondTick);
    const replaced = await f.waitForRun("replaced", first, 30_000);
    assert.equal(replaced.state, "cancelled");
    assert.equal(replaced.replacedBy, second);
    assert.equal(replaced.tasks[0].state, "cancelled");
    await waitFor("the replaced run's Pod to be deleted", async () => (await podsOf(first)).length === 0);
    assert.equal(await log(first), `working on ${firstTick}\n`, "its log is kept");

    await waitFor("the new run's task to run", async () => (await log(second)) === `working on ${secondTick}\n`);
    await gate.open();
    const run = await f.waitForRun("replaced", second);
    assert.equal(run.state, "success", JSON.stringify(run));
    assert.equal(run.replacedBy, null);
    assert.equal(await log(second), `working on ${secondTick}\ndone\n`);
  });
});
