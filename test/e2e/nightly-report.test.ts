// The foundation's whole path through real parts: the README's example DAG posted over HTTP, a run
// triggered, three Pods run on localkube, their logs streamed to S3 (s3rver) and read back through the
// API after the Pods are gone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { S3Client, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

const EXAMPLE = new URL("../fixtures/dags/nightly_report.ts", import.meta.url);

describe("the README's example, end to end", { timeout: 180_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry();
  });
  after(async () => {
    await f?.close();
  });

  it("refuses requests without a valid token", async () => {
    const none = await fetch(`${f.url}/api/v1/dags`);
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.code, "unauthorized");
    const wrong = await f.api("GET", "/api/v1/dags", undefined, { authorization: "Bearer nope" });
    assert.equal(wrong.status, 401);
  });

  it("runs the example and keeps every log after its Pod is gone", async () => {
    const source = await readFile(EXAMPLE, "utf8");
    const posted = await f.api("POST", "/api/v1/dags", source);
    assert.equal(posted.status, 201, posted.text);
    assert.equal(posted.body.dagId, "nightly_report");
    assert.deepEqual(posted.body.tasks, [
      { taskId: "extract", kind: "pod", dependsOn: [] },
      { taskId: "count", kind: "function", dependsOn: ["extract"] },
      { taskId: "load", kind: "pod", dependsOn: ["count"] },
    ]);

    const dag = await f.api("GET", "/api/v1/dags/nightly_report");
    assert.equal(dag.status, 200);
    assert.equal(dag.body.schedule, "0 2 * * *");
    assert.equal(dag.body.timezone, "Asia/Seoul");
    assert.equal(dag.body.paused, false);
    assert.ok(dag.body.nextRunAt, "a scheduled DAG reports its next run time");

    const trigger = await f.api("POST", "/api/v1/dags/nightly_report/runs", { runId: "e2e-1", logicalDate: "2026-03-01T00:00:00Z" });
    assert.equal(trigger.status, 201, trigger.text);
    assert.equal(trigger.body.runId, "e2e-1");

    const run = await f.waitForRun("nightly_report", "e2e-1", 120_000);
    assert.equal(run.state, "success", JSON.stringify(run, null, 2));
    const byId = Object.fromEntries(run.tasks.map((t: any) => [t.taskId, t]));
    for (const id of ["extract", "count", "load"]) {
      assert.equal(byId[id].state, "success");
      assert.equal(byId[id].tryNumber, 1);
      assert.equal(byId[id].exitCode, 0);
      assert.match(byId[id].podName, /^nightly-report-/);
    }
    assert.deepEqual(byId.count.result, { rows: 42 });

    // Every Pod is deleted once its log is safe.
    await waitFor("pods to be deleted", async () => {
      const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
      return pods.items.length === 0;
    });

    const log = async (task: string) => {
      const res = await f.api("GET", `/api/v1/dags/nightly_report/runs/e2e-1/tasks/${task}/logs`);
      assert.equal(res.status, 200);
      return res.text;
    };
    assert.equal(await log("extract"), "extracting kr for 2026-03-01T00:00:00.000Z\n");
    assert.equal(await log("count"), "counting for kr\n");
    assert.equal(await log("load"), "loaded 42 rows\n");

    // The logs are plain objects in the bucket, readable without Ferry.
    const s3 = new S3Client({ forcePathStyle: true });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: "ferry-logs", Prefix: "logs/nightly_report/e2e-1/" }));
    const keys = (listed.Contents ?? []).map((o) => o.Key);
    for (const task of ["extract", "count", "load"]) {
      assert.ok(keys.some((k) => k?.startsWith(`logs/nightly_report/e2e-1/${task}/1/`)), `${task} log in S3: ${keys.join(", ")}`);
    }

    const cli = await f.api("GET", "/api/v1/dags/nightly_report/runs");
    assert.equal(cli.body.runs[0].runId, "e2e-1");
  });
});
