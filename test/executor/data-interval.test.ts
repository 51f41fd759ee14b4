// A pod task's templates read its run's data interval: the previous schedule tick up to this one for a
// backfilled (or scheduled) run, the logical date for both ends for a manual run.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, type TestFerry } from "../support/ferry.ts";

describe("data intervals in pod task templates", { timeout: 60_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false });
    const task = `  podTask("t", { image: "busybox", command: ["sh", "-c", "echo {{ dataIntervalStart }} {{ dataIntervalEnd }}"] });`;
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("interval", task, `schedule: "0 6 * * *", start: "2026-01-01T00:00:00Z"`))).status, 201);
  });
  after(async () => {
    await f?.close();
  });
  const printed = async (runId: string) => (await readTryLog(f.ferry.logStore, { dagId: "interval", runId, taskId: "t", tryNumber: 1 })).toString();

  it("a manual run has its logical date at both ends", async () => {
    assert.equal((await f.api("POST", "/api/v1/dags/interval/runs", { runId: "m1", logicalDate: "2026-02-03T04:05:06Z" })).status, 201);
    assert.equal((await f.waitForRun("interval", "m1")).state, "success");
    assert.equal(await printed("m1"), "2026-02-03T04:05:06.000Z 2026-02-03T04:05:06.000Z\n");
  });

  it("a backfilled run spans from the previous tick to its own", async () => {
    const made = await f.api("POST", "/api/v1/dags/interval/backfills", { from: "2026-03-02T06:00:00Z", to: "2026-03-02T06:00:00Z" });
    assert.equal(made.status, 201, made.text);
    const runId = made.body.runs[0].runId;
    assert.equal((await f.waitForRun("interval", runId)).state, "success");
    assert.equal(await printed(runId), "2026-03-01T06:00:00.000Z 2026-03-02T06:00:00.000Z\n");
  });
});
