// A run keeps the DAG version it started with (README.md, "Scheduling rules"): a new version pushed
// while a scheduled run is in flight does not change that run, not even its tasks that have yet to
// start; the next scheduled run runs the new version. A whole Ferry on localkube, the scheduler on a
// clock of the test's.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { waitFor, type TestFerry } from "../support/ferry.ts";
import { manualClock, nextRunAt, taskLog, useClockedFerry, type FileGate } from "./support.ts";

describe("a run pins its DAG version", { timeout: 120_000 }, () => {
  const clock = manualClock("2026-01-01T00:00:00Z");
  let f: TestFerry;
  let gate: FileGate;
  useClockedFerry(clock.read, "ferry-pin-", (started) => ({ f, gate } = started));

  const source = (tasks: string) =>
    `import { dag, podTask } from "ferry";\nexport default dag("pinned", { schedule: "@hourly" }, () => {\n${tasks}\n});\n`;
  const log = (runId: string, taskId: string) => taskLog(f, "pinned", runId, taskId);

  it("finishes an in-flight run on the old version and runs the next one on the new", async () => {
    const v1 = source(`  const first = podTask("first", { image: "alpine:3.20", command: ["sh", "-c", "echo v1 first; ${gate.shellWait}"] });
  podTask("second", { image: "alpine:3.20", command: ["sh", "-c", "echo v1 second"], dependsOn: [first] });`);
    const v2 = source(`  const first = podTask("first", { image: "alpine:3.20", command: ["sh", "-c", "echo v2 first"] });
  const second = podTask("second", { image: "alpine:3.20", command: ["sh", "-c", "echo v2 second"], dependsOn: [first] });
  podTask("third", { image: "alpine:3.20", command: ["sh", "-c", "echo v2 third"], dependsOn: [second] });`);

    assert.equal((await f.api("POST", "/api/v1/dags", v1)).body.version, 1);
    const firstTick = await nextRunAt(f, "pinned");
    clock.set(firstTick);
    const runId = `scheduled__${firstTick}`;
    await waitFor("the first run's first task to run", async () => {
      const run = (await f.api("GET", `/api/v1/dags/pinned/runs/${encodeURIComponent(runId)}`)).body;
      return run?.tasks?.find((t: any) => t.taskId === "first")?.state === "running" && (await log(runId, "first")) === "v1 first\n";
    });

    const pushed = await f.api("POST", "/api/v1/dags", v2);
    assert.equal(pushed.body.version, 2, pushed.text);
    await gate.open();
    const finished = await f.waitForRun("pinned", runId);
    assert.equal(finished.state, "success", JSON.stringify(finished));
    assert.equal(finished.dagVersion, 1);
    assert.deepEqual(finished.tasks.map((t: any) => t.taskId), ["first", "second"], "no task of version 2");
    assert.equal(await log(runId, "second"), "v1 second\n", "a task that started after the push ran version 1's code");

    const secondTick = await nextRunAt(f, "pinned");
    assert.equal(new Date(secondTick).getTime() - new Date(firstTick).getTime(), 3600_000);
    clock.set(secondTick);
    const next = `scheduled__${secondTick}`;
    await waitFor("the next run", async () => (await f.api("GET", `/api/v1/dags/pinned/runs/${encodeURIComponent(next)}`)).status === 200);
    const run2 = await f.waitForRun("pinned", next);
    assert.equal(run2.state, "success", JSON.stringify(run2));
    assert.equal(run2.dagVersion, 2);
    assert.deepEqual(run2.tasks.map((t: any) => t.taskId), ["first", "second", "third"]);
    assert.equal(await log(next, "first"), "v2 first\n");
    assert.equal(await log(next, "third"), "v2 third\n");
  });
});
