// The run routes of the REST API, as a client sees them: triggering (and the 400/404/409s), listing and
// paging, the run shape, and what runs do on localkube: params in templates, retries, trigger rules,
// cancelling, clearing a task and timeouts. Everything goes through real HTTP against a whole test Ferry.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";



const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe("run routes", { timeout: 150_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry();
  });
  after(async () => {
    await f?.close();
  });

  async function push(dagId: string, body: string, options?: string): Promise<void> {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, body, options));
    assert.equal(res.status, 201, res.text);
  }
  const tasksById = (run: any): Record<string, any> => Object.fromEntries(run.tasks.map((t: any) => [t.taskId, t]));
  const log = (dagId: string, runId: string, taskId: string, query = "") =>
    f.api("GET", `/api/v1/dags/${dagId}/runs/${encodeURIComponent(runId)}/tasks/${taskId}/logs${query}`);
  const taskState = async (dagId: string, runId: string, taskId: string) =>
    tasksById((await f.api("GET", `/api/v1/dags/${dagId}/runs/${encodeURIComponent(runId)}`)).body)[taskId];

  describe("POST /api/v1/dags/{dagId}/runs", () => {
    before(async () => {
      await push("api_trigger", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: null, params: { region: "kr", size: 1 }`);
    });

    it("answers 201 {runId, state} with the params, logicalDate and runId asked for", async () => {
      const res = await f.api("POST", "/api/v1/dags/api_trigger/runs", {
        runId: "trig-1",
        logicalDate: "2026-02-03T04:05:06Z",
        params: { region: "us" },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.runId, "trig-1");
      assert.ok(["queued", "running"].includes(res.body.state), res.text);
      assert.equal(res.body.dagId, "api_trigger");
      assert.equal(res.body.logicalDate, "2026-02-03T04:05:06.000Z");
      assert.deepEqual(res.body.params, { region: "us", size: 1 }, "given params override the DAG's, the rest stay");
      const run = await f.waitForRun("api_trigger", "trig-1");
      assert.equal(run.state, "success", JSON.stringify(run));
      assert.equal(run.logicalDate, "2026-02-03T04:05:06.000Z");
    });

    it("makes up a runId and logicalDate when none is given", async () => {
      for (const body of [{}, undefined]) {
        const res = await f.api("POST", "/api/v1/dags/api_trigger/runs", body);
        assert.equal(res.status, 201, res.text);
        assert.equal(typeof res.body.runId, "string");
        assert.ok(res.body.runId.length > 0);
        assert.match(res.body.logicalDate, ISO);
        assert.equal((await f.api("GET", `/api/v1/dags/api_trigger/runs/${encodeURIComponent(res.body.runId)}`)).status, 200);
      }
    });

    it("answers 409 run_exists for a runId that is taken", async () => {
      assert.equal((await f.api("POST", "/api/v1/dags/api_trigger/runs", { runId: "dup-1" })).status, 201);
      const err = apiError(await f.api("POST", "/api/v1/dags/api_trigger/runs", { runId: "dup-1", params: { region: "eu" } }), 409, "run_exists");
      assert.match(err.message, /dup-1/);
      const run = (await f.api("GET", "/api/v1/dags/api_trigger/runs/dup-1")).body;
      assert.deepEqual(run.params, { region: "kr", size: 1 }, "the first run is untouched");
    });

    it("answers 400 for bad params, logicalDate, runId or an unknown field", async () => {
      const bad: unknown[] = [
        { params: [1, 2] },
        { params: "region=us" },
        { params: null },
        { logicalDate: "yesterday" },
        { logicalDate: 1767225600000 },
        { runId: "has spaces" },
        { runId: "a/b" },
        { runId: "" },
        { runId: 7 },
        { runID: "typo" },
        { params: {}, colour: "blue" },
        [1, 2, 3],
      ];
      for (const body of bad) {
        const res = await f.api("POST", "/api/v1/dags/api_trigger/runs", body);
        apiError(res, 400, "bad_request");
      }
      const broken = await f.api("POST", "/api/v1/dags/api_trigger/runs", "{nope", { "content-type": "application/json" });
      assert.equal(broken.status, 400, broken.text);
      const runs = (await f.api("GET", "/api/v1/dags/api_trigger/runs?limit=100")).body.runs;
      assert.ok(!runs.some((r: any) => ["has spaces", "typo"].includes(r.runId)), "no run was made by a refused trigger");
    });

    it("answers 404 for an unknown DAG or run", async () => {
      apiError(await f.api("POST", "/api/v1/dags/api_no_such/runs", { runId: "x" }), 404, "dag_not_found");
      apiError(await f.api("GET", "/api/v1/dags/api_no_such/runs"), 404, "dag_not_found");
      apiError(await f.api("GET", "/api/v1/dags/api_trigger/runs/no-such-run"), 404, "run_not_found");
      apiError(await f.api("POST", "/api/v1/dags/api_trigger/runs/no-such-run/cancel"), 404, "run_not_found");
      apiError(await f.api("POST", "/api/v1/dags/api_trigger/runs/no-such-run/tasks/t/clear"), 404, "run_not_found");
      apiError(await f.api("POST", "/api/v1/dags/api_trigger/runs/trig-1/tasks/no_such_task/clear"), 404, "task_not_found");
      apiError(await f.api("GET", "/api/v1/dags/api_trigger/runs/no-such-run/tasks/t/logs"), 404, "run_not_found");
      apiError(await f.api("GET", "/api/v1/dags/api_trigger/runs/trig-1/tasks/no_such_task/logs"), 404, "task_not_found");
    });
  });

  describe("GET /api/v1/dags/{dagId}/runs", () => {
    it("lists runs newest first, a page at a time with limit and cursor", async () => {
      await push("api_list_runs", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`);
      const days = ["01", "02", "03", "04", "05"];
      for (const d of days) {
        const res = await f.api("POST", "/api/v1/dags/api_list_runs/runs", { runId: `day-${d}`, logicalDate: `2026-01-${d}T00:00:00Z` });
        assert.equal(res.status, 201, res.text);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await f.api("GET", `/api/v1/dags/api_list_runs/runs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        assert.equal(res.status, 200, res.text);
        assert.ok(res.body.runs.length <= 2);
        for (const r of res.body.runs) {
          assert.equal(r.dagId, "api_list_runs");
          assert.ok(["queued", "running", "success", "failed", "cancelled"].includes(r.state));
          assert.match(r.logicalDate, ISO);
          seen.push(r.runId);
        }
        cursor = res.body.nextCursor;
        assert.ok(++pages < 20);
      } while (cursor !== null);
      assert.deepEqual(seen, ["day-05", "day-04", "day-03", "day-02", "day-01"]);
      assert.equal(pages, 3);

      const all = await f.api("GET", "/api/v1/dags/api_list_runs/runs");
      assert.deepEqual(
        all.body.runs.map((r: any) => r.runId),
        seen,
      );
      assert.equal(all.body.nextCursor, null);
      apiError(await f.api("GET", "/api/v1/dags/api_list_runs/runs?limit=0"), 400, "bad_request");
      apiError(await f.api("GET", "/api/v1/dags/api_list_runs/runs?cursor=garbage"), 400, "bad_request");
      for (const d of days) await f.waitForRun("api_list_runs", `day-${d}`);
    });
  });

  describe("GET /api/v1/dags/{dagId}/runs/{runId}", () => {
    it("has the run shape, with every task and what it did", async () => {
      await push(
        "api_run_shape",
        `  const first = podTask("first", { image: "alpine:3.20", command: ["sh", "-c", "echo first"] });
  task("second", async () => ({ rows: 7 }), { dependsOn: [first] });`,
      );
      assert.equal((await f.api("POST", "/api/v1/dags/api_run_shape/runs", { runId: "shape-1", logicalDate: "2026-05-05T00:00:00Z" })).status, 201);
      const run = await f.waitForRun("api_run_shape", "shape-1");
      for (const key of ["runId", "dagId", "state", "logicalDate", "startedAt", "endedAt", "tasks"]) {
        assert.ok(key in run, `run has ${key}`);
      }
      assert.equal(run.runId, "shape-1");
      assert.equal(run.dagId, "api_run_shape");
      assert.equal(run.state, "success", JSON.stringify(run, null, 2));
      assert.equal(run.logicalDate, "2026-05-05T00:00:00.000Z");
      assert.match(run.startedAt, ISO);
      assert.match(run.endedAt, ISO);
      assert.ok(Date.parse(run.endedAt) >= Date.parse(run.startedAt));
      assert.deepEqual(
        run.tasks.map((t: any) => t.taskId),
        ["first", "second"],
      );
      for (const t of run.tasks) {
        for (const key of ["taskId", "state", "tryNumber", "podName", "startedAt", "endedAt", "exitCode", "result"]) {
          assert.ok(key in t, `task ${t.taskId} has ${key}`);
        }
        assert.equal(t.state, "success");
        assert.equal(t.tryNumber, 1);
        assert.equal(typeof t.podName, "string");
        assert.match(t.startedAt, ISO);
        assert.match(t.endedAt, ISO);
        assert.equal(t.exitCode, 0);
      }
      const byId = tasksById(run);
      assert.equal(byId.first.result, null);
      assert.deepEqual(byId.second.result, { rows: 7 });

      // A task that never ran still has the whole shape.
      await push(
        "api_run_shape_pending",
        `  const a = podTask("a", { image: "alpine:3.20", command: ["sh", "-c", "exit 1"] });
  podTask("b", { image: "alpine:3.20", command: ["true"], dependsOn: [a] });`,
      );
      assert.equal((await f.api("POST", "/api/v1/dags/api_run_shape_pending/runs", { runId: "p-1" })).status, 201);
      const failed = await f.waitForRun("api_run_shape_pending", "p-1");
      const b = tasksById(failed).b;
      assert.equal(b.state, "upstream_failed");
      assert.equal(b.tryNumber, 0);
      assert.equal(b.podName, null);
      assert.equal(b.startedAt, null);
      assert.equal(b.exitCode, null);
      assert.equal(b.result, null);
    });
  });

  describe("what runs do", () => {
    it("passes params to a pod task through its templates", async () => {
      await push("api_params", `  podTask("greet", { image: "alpine:3.20", command: ["sh", "-c", "echo region={{ params.region }} run={{ runId }}"] });`, `schedule: null, params: { region: "kr" }`);
      assert.equal((await f.api("POST", "/api/v1/dags/api_params/runs", { runId: "with-param", params: { region: "us" } })).status, 201);
      assert.equal((await f.api("POST", "/api/v1/dags/api_params/runs", { runId: "default-param" })).status, 201);
      assert.equal((await f.waitForRun("api_params", "with-param")).state, "success");
      assert.equal((await f.waitForRun("api_params", "default-param")).state, "success");
      const given = await log("api_params", "with-param", "greet");
      assert.equal(given.status, 200, given.text);
      assert.equal(given.text, "region=us run=with-param\n");
      assert.equal((await log("api_params", "default-param", "greet")).text, "region=kr run=default-param\n");
    });

    it("retries a failing pod task, then fails it, keeping every try's log", async () => {
      await push(
        "api_retry",
        `  const flaky = podTask("flaky", { image: "alpine:3.20", command: ["sh", "-c", "echo try {{ tryNumber }} failing; exit 3"], retries: 1, retryDelay: "1s" });
  podTask("after", { image: "alpine:3.20", command: ["sh", "-c", "echo should not run"], dependsOn: [flaky] });
  podTask("cleanup", { image: "alpine:3.20", command: ["sh", "-c", "echo cleaning up"], dependsOn: [flaky], triggerRule: "all_done" });`,
      );
      assert.equal((await f.api("POST", "/api/v1/dags/api_retry/runs", { runId: "retry-1" })).status, 201);
      const run = await f.waitForRun("api_retry", "retry-1");
      assert.equal(run.state, "failed", JSON.stringify(run, null, 2));
      const byId = tasksById(run);

      assert.equal(byId.flaky.state, "failed");
      assert.equal(byId.flaky.tryNumber, 2);
      assert.equal(byId.flaky.exitCode, 3);

      assert.equal(byId.after.state, "upstream_failed", "a task depending on a failed one is upstream_failed");
      assert.equal(byId.after.podName, null);

      assert.equal(byId.cleanup.state, "success", "an all_done task runs even after its upstream failed");
      assert.equal(byId.cleanup.exitCode, 0);
      assert.equal((await log("api_retry", "retry-1", "cleanup")).text, "cleaning up\n");

      const try1 = await log("api_retry", "retry-1", "flaky", "?try=1");
      const try2 = await log("api_retry", "retry-1", "flaky", "?try=2");
      assert.equal(try1.status, 200, try1.text);
      assert.equal(try2.status, 200, try2.text);
      assert.equal(try1.text, "try 1 failing\n");
      assert.equal(try2.text, "try 2 failing\n");
      assert.equal((await log("api_retry", "retry-1", "flaky")).text, "try 2 failing\n", "the latest try by default");
      apiError(await log("api_retry", "retry-1", "flaky", "?try=3"), 404, "try_not_found");

      const detail = await f.api("GET", "/api/v1/dags/api_retry/runs/retry-1/tasks/flaky");
      assert.equal(detail.status, 200, detail.text);
      assert.equal(detail.body.state, "failed");
      assert.deepEqual(
        detail.body.tries.map((t: any) => [t.tryNumber, t.state, t.exitCode, t.reason, t.logComplete, t.logBytes]),
        [
          [1, "failed", 3, "Error", true, "try 1 failing\n".length],
          [2, "failed", 3, "Error", true, "try 2 failing\n".length],
        ],
      );
      assert.notEqual(detail.body.tries[0].podName, detail.body.tries[1].podName, "one Pod per try");
      apiError(await f.api("GET", "/api/v1/dags/api_retry/runs/retry-1/tasks/nope"), 404, "task_not_found");
      apiError(await log("api_retry", "retry-1", "after"), 404, "no_log_yet");
      apiError(await log("api_retry", "retry-1", "flaky", "?try=zero"), 400, "bad_request");

      const finished = apiError(await f.api("POST", "/api/v1/dags/api_retry/runs/retry-1/cancel"), 409, "run_finished");
      assert.ok(finished.message.length > 0);
    });

    it("cancels a running run: the task is cancelled, its Pod deleted, its log kept", async () => {
      const dagId = "api_cancel";
      await push(dagId, `  podTask("sleeper", { image: "alpine:3.20", command: ["sh", "-c", "echo going to sleep; sleep 60"] });`);
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "cancel-1" })).status, 201);
      const running = await waitFor("the sleeper to run and print", async () => {
        const t = await taskState(dagId, "cancel-1", "sleeper");
        if (t?.state !== "running") return null;
        return (await log(dagId, "cancel-1", "sleeper")).text.includes("going to sleep") ? t : null;
      });
      const podsOf = async () =>
        (await f.ferry.kube.core.listNamespacedPod({ namespace: "default", labelSelector: `${POD_SELECTOR},ferry.dev/dag=${dagId}` })).items;
      assert.deepEqual(
        (await podsOf()).map((p) => p.metadata?.name),
        [running.podName],
        "the running task has its Pod",
      );

      const cancel = await f.api("POST", `/api/v1/dags/${dagId}/runs/cancel-1/cancel`);
      assert.equal(cancel.status, 200, cancel.text);
      assert.equal(cancel.body.runId, "cancel-1");
      assert.equal(cancel.body.state, "cancelled");

      const run = await f.waitForRun(dagId, "cancel-1", 30_000);
      assert.equal(run.state, "cancelled");
      assert.match(run.endedAt, ISO);
      assert.equal(tasksById(run).sleeper.state, "cancelled");
      await waitFor("the Pod to be deleted", async () => (await podsOf()).length === 0);

      const kept = await log(dagId, "cancel-1", "sleeper");
      assert.equal(kept.status, 200, kept.text);
      assert.equal(kept.text, "going to sleep\n");
      apiError(await f.api("POST", `/api/v1/dags/${dagId}/runs/cancel-1/cancel`), 409, "run_finished");
    });

    it("clears a finished task: it runs again as try 2, and so does what depends on it", async () => {
      const dagId = "api_clear";
      await push(
        dagId,
        `  const root = podTask("root", { image: "alpine:3.20", command: ["sh", "-c", "echo root try {{ tryNumber }}"] });
  const mid = podTask("mid", { image: "alpine:3.20", command: ["sh", "-c", "echo mid try {{ tryNumber }}"], dependsOn: [root] });
  podTask("leaf", { image: "alpine:3.20", command: ["sh", "-c", "echo leaf try {{ tryNumber }}"], dependsOn: [mid] });`,
      );
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "clear-1" })).status, 201);
      const first = await f.waitForRun(dagId, "clear-1");
      assert.equal(first.state, "success");
      for (const t of first.tasks) assert.equal(t.tryNumber, 1);

      const cleared = await f.api("POST", `/api/v1/dags/${dagId}/runs/clear-1/tasks/mid/clear`);
      assert.equal(cleared.status, 200, cleared.text);
      assert.deepEqual([...cleared.body.cleared].sort(), ["leaf", "mid"]);

      // The run is active again until the cleared tasks are done.
      const again = await waitFor("the cleared tasks to run again", async () => {
        const run = (await f.api("GET", `/api/v1/dags/${dagId}/runs/clear-1`)).body;
        const byId = tasksById(run);
        return run.state === "success" && byId.leaf.tryNumber === 2 ? run : null;
      });
      const byId = tasksById(again);
      assert.equal(byId.root.tryNumber, 1, "what the cleared task depends on is left alone");
      assert.equal(byId.mid.tryNumber, 2);
      assert.equal(byId.mid.state, "success");
      assert.equal(byId.leaf.tryNumber, 2);
      assert.equal(byId.leaf.state, "success");
      assert.equal((await log(dagId, "clear-1", "mid")).text, "mid try 2\n");
      assert.equal((await log(dagId, "clear-1", "mid", "?try=1")).text, "mid try 1\n", "the first try's log stays readable");
      assert.equal((await log(dagId, "clear-1", "leaf")).text, "leaf try 2\n");
    });

    it("fails a task that runs past its timeout with reason DeadlineExceeded", async () => {
      const dagId = "api_timeout";
      await push(dagId, `  podTask("slow", { image: "alpine:3.20", command: ["sh", "-c", "echo starting; sleep 30"], timeout: "2s" });`);
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "timeout-1" })).status, 201);
      const run = await f.waitForRun(dagId, "timeout-1", 30_000);
      assert.equal(run.state, "failed", JSON.stringify(run, null, 2));
      const slow = tasksById(run).slow;
      assert.equal(slow.state, "failed");
      assert.equal(slow.reason, "DeadlineExceeded");
      assert.equal(slow.tryNumber, 1);
      assert.equal((await log(dagId, "timeout-1", "slow")).text, "starting\n");
    });
  });
});
