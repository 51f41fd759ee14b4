// A container that has ended must never leave its try waiting without bound on a log stream. Here the
// cluster's follow streams do not end when containers do (localkube's logFollowHangs fault, as through
// a proxy that lost the stream's end): the executor gives a silent stream up after its drain timeout,
// reads what is left with a plain read, and finishes the try with its whole log; a follower of the API
// gets the whole log and its end too.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

describe("log streams that never end", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, executor: { logDrainTimeoutMs: 1000 } });
    f.ferry.localkube!.faults.set({ logFollowHangs: true });
  });
  after(async () => {
    await f?.close();
  });

  it("finishes every try with its whole log in bounded time", async () => {
    const body = Array.from({ length: 8 }, (_, i) => `  podTask("t${i}", { image: "alpine:3.20", command: ["sh", "-c", "for j in 1 2 3 4 5; do echo t${i} $j; sleep 0.2; done"] });`).join("\n");
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("hanging", body))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/hanging/runs", { runId: "r1" })).status, 201);
    await waitFor("t0 to run", async () => (await f.api("GET", "/api/v1/dags/hanging/runs/r1/tasks/t0")).body.tries?.length > 0);
    const follow = fetch(`${f.url}/api/v1/dags/hanging/runs/r1/tasks/t0/logs?follow=true`, { headers: { authorization: "Bearer test-admin-token-0123456789" } });
    assert.equal((await f.waitForRun("hanging", "r1", 60_000)).state, "success");
    for (let i = 0; i < 8; i++) {
      const taskId = `t${i}`;
      const t = await waitFor(`${taskId}'s log copy to end`, async () => {
        const view = (await f.api("GET", `/api/v1/dags/hanging/runs/r1/tasks/${taskId}`)).body;
        return view.tries[0].logFinishedAt ? view.tries[0] : null;
      });
      assert.equal(t.logComplete, true, `${taskId}'s log is complete`);
      const expected = [1, 2, 3, 4, 5].map((j) => `${taskId} ${j}\n`).join("");
      assert.equal((await readTryLog(f.ferry.logStore, { dagId: "hanging", runId: "r1", taskId, tryNumber: 1 })).toString(), expected);
    }
    assert.equal(await (await follow).text(), [1, 2, 3, 4, 5].map((j) => `t0 ${j}\n`).join(""), "the API's follow ends, with every byte");
  });
});
