// The DAG routes of the REST API, as a client sees them: posting DAG files in each accepted form, the
// 422s a broken DAG file gets (with where and why), listing and paging, pausing, deleting, and the
// bundle route workers use. Everything goes through real HTTP against a whole test Ferry.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

/** A DAG file: `body` is the inside of the dag() body function, `options` the inside of its options. */

const echo = (id: string, text: string, extra = "") =>
  `  podTask(${JSON.stringify(id)}, { image: "alpine:3.20", command: ["sh", "-c", ${JSON.stringify(`echo ${text}`)}]${extra} });`;

/** Asserts the `{"error": {"code", "message", "details"?}}` shape and returns the error. */

describe("DAG routes", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry();
  });
  after(async () => {
    await f?.close();
  });

  describe("POST /api/v1/dags", () => {
    it("accepts application/typescript and answers 201 {dagId, version, tasks}", async () => {
      const source = dagFile(
        "api_post_ts",
        `  const a = podTask("a", { image: "alpine:3.20", command: ["true"] });
  const b = task("b", async () => ({ ok: true }), { dependsOn: [a] });
  podTask("c", { image: "alpine:3.20", command: ["true"], dependsOn: [a, "b"] });`,
      );
      const res = await f.api("POST", "/api/v1/dags", source, { "content-type": "application/typescript" });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.dagId, "api_post_ts");
      assert.equal(res.body.version, 1);
      assert.deepEqual(res.body.tasks, [
        { taskId: "a", kind: "pod", dependsOn: [] },
        { taskId: "b", kind: "function", dependsOn: ["a"] },
        { taskId: "c", kind: "pod", dependsOn: ["a", "b"] },
      ]);
    });

    it("accepts text/plain", async () => {
      const res = await f.api("POST", "/api/v1/dags", dagFile("api_post_text", echo("only", "hi")), { "content-type": "text/plain" });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.dagId, "api_post_text");
      assert.equal(res.body.version, 1);
      assert.deepEqual(res.body.tasks, [{ taskId: "only", kind: "pod", dependsOn: [] }]);
    });

    it('accepts JSON {"source": "..."}', async () => {
      const res = await f.api("POST", "/api/v1/dags", { source: dagFile("api_post_json", echo("only", "hi")) });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.dagId, "api_post_json");
      assert.equal(res.body.version, 1);
      assert.deepEqual(res.body.tasks, [{ taskId: "only", kind: "pod", dependsOn: [] }]);
    });

    it("gives a changed source a new version and keeps the version for the same source", async () => {
      const v1 = dagFile("api_versions", echo("t", "one"));
      const v2 = dagFile("api_versions", echo("t", "two"));
      const first = await f.api("POST", "/api/v1/dags", v1);
      assert.equal(first.status, 201, first.text);
      assert.equal(first.body.version, 1);

      const again = await f.api("POST", "/api/v1/dags", v1);
      assert.equal(again.status, 201, again.text);
      assert.equal(again.body.version, 1, "the same source keeps its version");

      const changed = await f.api("POST", "/api/v1/dags", v2);
      assert.equal(changed.status, 201, changed.text);
      assert.equal(changed.body.version, 2, "a changed source is version 2");

      // The same source as version 2, in another content type, is still version 2.
      const sameAsJson = await f.api("POST", "/api/v1/dags", { source: v2 });
      assert.equal(sameAsJson.body.version, 2);

      const dag = await f.api("GET", "/api/v1/dags/api_versions");
      assert.equal(dag.body.version, 2, "GET shows the latest version");
    });

    it("answers 422 compile_error with the line and column of a syntax error", async () => {
      const source = [
        'import { dag, podTask } from "ferry";', // 1
        'export default dag("api_syntax", { schedule: null }, () => {', // 2
        '  podTask("x", { image: "alpine:3.20", command: ["true"] ;', // 3: the `}` is missing
        "});", // 4
        "",
      ].join("\n");
      const err = apiError(await f.api("POST", "/api/v1/dags", source), 422, "compile_error");
      assert.equal(err.details?.line, 3, JSON.stringify(err));
      assert.ok(Number.isInteger(err.details?.column) && err.details.column >= 1, `a 1-based column: ${JSON.stringify(err)}`);
      assert.equal((await f.api("GET", "/api/v1/dags/api_syntax")).status, 404, "nothing was saved");
    });

    it('answers 422 import_not_allowed for import "fs"', async () => {
      const source = `import { readFileSync } from "fs";\n` + dagFile("api_import_fs", echo("x", "hi")).replace("export default", "readFileSync;\nexport default");
      const err = apiError(await f.api("POST", "/api/v1/dags", source), 422, "import_not_allowed");
      assert.match(err.message, /fs/);
      assert.equal(err.details?.line, 1, JSON.stringify(err));
      assert.equal((await f.api("GET", "/api/v1/dags/api_import_fs")).status, 404);
    });

    it("answers 422 timeout for an endless top level, within seconds, serving other requests meanwhile", async () => {
      const source = dagFile("api_endless", echo("x", "hi")).replace("export default", "while (true) {}\nexport default");
      const started = Date.now();
      let postAnswered = false;
      const posting = f.api("POST", "/api/v1/dags", source).finally(() => {
        postAnswered = true;
      });

      // While the DAG file spins, the API still answers.
      const health = await f.api("GET", "/healthz");
      assert.equal(health.status, 200);
      const list = await f.api("GET", "/api/v1/dags?limit=1");
      assert.equal(list.status, 200);
      assert.equal(postAnswered, false, "the other requests were answered while the DAG file was still being evaluated");

      const err = apiError(await posting, 422, "timeout");
      assert.ok(Date.now() - started < 20_000, "an endless DAG file is stopped after a few seconds, not left running");
      assert.ok(err.message.length > 0);
      assert.equal((await f.api("GET", "/api/v1/dags/api_endless")).status, 404);
    });

    const invalid: [string, string, string, string][] = [
      [
        "a dependency cycle",
        "api_cycle",
        `  podTask("x", { image: "alpine:3.20", command: ["true"], dependsOn: ["y"] });
  podTask("y", { image: "alpine:3.20", command: ["true"], dependsOn: ["x"] });`,
        "schedule: null",
      ],
      ["an unknown dependency", "api_unknown_dep", `  podTask("x", { image: "alpine:3.20", command: ["true"], dependsOn: ["nope"] });`, "schedule: null"],
      ["a bad cron expression", "api_bad_cron", echo("x", "hi"), `schedule: "61 * * * *"`],
      ["a bad time zone", "api_bad_tz", echo("x", "hi"), `schedule: "@daily", timezone: "Mars/Olympus_Mons"`],
    ];
    for (const [what, dagId, body, options] of invalid) {
      it(`answers 422 invalid_dag with details.problems for ${what}`, async () => {
        const err = apiError(await f.api("POST", "/api/v1/dags", dagFile(dagId, body, options)), 422, "invalid_dag");
        const problems = err.details?.problems;
        assert.ok(Array.isArray(problems) && problems.length >= 1, JSON.stringify(err));
        for (const p of problems) {
          assert.equal(typeof p.path, "string");
          assert.equal(typeof p.message, "string");
        }
        assert.equal((await f.api("GET", `/api/v1/dags/${dagId}`)).status, 404, "an invalid DAG is not saved");
      });
    }

    it("names the offending field in each problem", async () => {
      const cron = await f.api("POST", "/api/v1/dags", dagFile("api_bad_cron2", echo("x", "hi"), `schedule: "not a cron"`));
      assert.ok(cron.body.error.details.problems.some((p: any) => p.path === "schedule"), cron.text);
      const tz = await f.api("POST", "/api/v1/dags", dagFile("api_bad_tz2", echo("x", "hi"), `schedule: "@daily", timezone: "Nowhere/Town"`));
      assert.ok(tz.body.error.details.problems.some((p: any) => p.path === "timezone"), tz.text);
      const dep = await f.api("POST", "/api/v1/dags", dagFile("api_unknown_dep2", `  podTask("x", { image: "a", command: ["true"], dependsOn: ["ghost"] });`));
      assert.ok(dep.body.error.details.problems.some((p: any) => /ghost/.test(p.message)), dep.text);
    });

    it("answers 400 for an empty body", async () => {
      apiError(await f.api("POST", "/api/v1/dags", ""), 400, "bad_request");
      apiError(await f.api("POST", "/api/v1/dags", "   \n", { "content-type": "text/plain" }), 400, "bad_request");
      const none = await fetch(`${f.url}/api/v1/dags`, { method: "POST", headers: { authorization: "Bearer test-admin-token-0123456789" } });
      assert.equal(none.status, 400);
      assert.equal((await none.json()).error.code, "bad_request");
    });

    it("answers 400 for JSON without a source", async () => {
      apiError(await f.api("POST", "/api/v1/dags", { src: "export default 1" }), 400, "bad_request");
      apiError(await f.api("POST", "/api/v1/dags", { source: 42 }), 400, "bad_request");
      apiError(await f.api("POST", "/api/v1/dags", { source: "" }), 400, "bad_request");
      const empty = await f.api("POST", "/api/v1/dags", "", { "content-type": "application/json" });
      assert.equal(empty.status, 400, empty.text);
      assert.ok(empty.body.error.code, empty.text);
      const broken = await f.api("POST", "/api/v1/dags", "{not json", { "content-type": "application/json" });
      assert.equal(broken.status, 400, broken.text);
      assert.equal(broken.body.error.code, "invalid_json");
    });

    it("answers 415 for a content type it does not take", async () => {
      const err = apiError(await f.api("POST", "/api/v1/dags", "<dag/>", { "content-type": "application/xml" }), 415, "unsupported_media_type");
      assert.ok(err.message);
      apiError(await f.api("POST", "/api/v1/dags", "x", { "content-type": "image/png" }), 415, "unsupported_media_type");
    });

    it("answers 401 without a valid token", async () => {
      const res = await fetch(`${f.url}/api/v1/dags`, {
        method: "POST",
        headers: { "content-type": "application/typescript" },
        body: dagFile("api_noauth", echo("x", "hi")),
      });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.code, "unauthorized");
      assert.equal((await f.api("GET", "/api/v1/dags/api_noauth")).status, 404);
    });
  });

  describe("GET /api/v1/dags", () => {
    it("lists DAGs a page at a time with limit and nextCursor", async () => {
      for (const id of ["api_page_a", "api_page_b", "api_page_c", "api_page_d", "api_page_e"]) {
        assert.equal((await f.api("POST", "/api/v1/dags", dagFile(id, echo("t", id)))).status, 201);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await f.api("GET", `/api/v1/dags?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        assert.equal(res.status, 200, res.text);
        assert.ok(Array.isArray(res.body.dags));
        assert.ok(res.body.dags.length <= 2, "a page holds at most `limit` DAGs");
        assert.ok("nextCursor" in res.body);
        for (const d of res.body.dags) {
          assert.equal(typeof d.dagId, "string");
          assert.equal(typeof d.version, "number");
          assert.equal(typeof d.paused, "boolean");
          assert.ok(Array.isArray(d.tasks));
          seen.push(d.dagId);
        }
        cursor = res.body.nextCursor;
        if (cursor !== null) assert.equal(res.body.dags.length, 2, "only the last page is short");
        pages++;
        assert.ok(pages < 100, "paging ends");
      } while (cursor !== null);
      assert.equal(new Set(seen).size, seen.length, `no DAG appears twice: ${seen.join(", ")}`);
      const mine = seen.filter((id) => id.startsWith("api_page_"));
      assert.deepEqual(mine, ["api_page_a", "api_page_b", "api_page_c", "api_page_d", "api_page_e"]);
      assert.ok(pages >= 3);

      const all = await f.api("GET", "/api/v1/dags");
      assert.equal(all.status, 200);
      assert.deepEqual(
        all.body.dags.map((d: any) => d.dagId),
        seen,
        "paging visits the same DAGs, in the same order, as one big page",
      );
      assert.equal(all.body.nextCursor, null);
    });

    it("answers 400 for a bad limit or cursor", async () => {
      apiError(await f.api("GET", "/api/v1/dags?limit=0"), 400, "bad_request");
      apiError(await f.api("GET", "/api/v1/dags?limit=abc"), 400, "bad_request");
      apiError(await f.api("GET", "/api/v1/dags?cursor=definitely-not-a-cursor"), 400, "bad_request");
    });
  });

  describe("GET /api/v1/dags/{dagId}", () => {
    it("shows the DAG with its schedule, timezone, paused, nextRunAt and tasks", async () => {
      const source = dagFile(
        "api_get_one",
        `  const a = podTask("a", { image: "alpine:3.20", command: ["true"] });
  task("b", async () => 1, { dependsOn: [a] });`,
        `schedule: "0 2 * * *", timezone: "Asia/Seoul", start: "2099-01-01T00:00:00Z"`,
      );
      assert.equal((await f.api("POST", "/api/v1/dags", source)).status, 201);
      const res = await f.api("GET", "/api/v1/dags/api_get_one");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.dagId, "api_get_one");
      assert.equal(res.body.version, 1);
      assert.equal(res.body.schedule, "0 2 * * *");
      assert.equal(res.body.timezone, "Asia/Seoul");
      assert.equal(res.body.paused, false);
      // 02:00 in Seoul is 17:00 UTC the day before; the first tick at or after the start.
      assert.equal(res.body.nextRunAt, "2099-01-01T17:00:00.000Z");
      assert.deepEqual(res.body.tasks, [
        { taskId: "a", kind: "pod", dependsOn: [] },
        { taskId: "b", kind: "function", dependsOn: ["a"] },
      ]);
    });

    it("shows UTC and no next run for a manual DAG", async () => {
      assert.equal((await f.api("POST", "/api/v1/dags", dagFile("api_get_manual", echo("t", "hi")))).status, 201);
      const res = await f.api("GET", "/api/v1/dags/api_get_manual");
      assert.equal(res.status, 200);
      assert.equal(res.body.schedule, null);
      assert.equal(res.body.timezone, "UTC");
      assert.equal(res.body.nextRunAt, null);
    });

    it("answers 404 dag_not_found for an unknown DAG", async () => {
      const err = apiError(await f.api("GET", "/api/v1/dags/api_no_such_dag"), 404, "dag_not_found");
      assert.match(err.message, /api_no_such_dag/);
    });
  });

  describe("PATCH /api/v1/dags/{dagId}", () => {
    it("pauses and unpauses a DAG", async () => {
      const source = dagFile("api_pause", echo("t", "hi"), `schedule: "@daily", start: "2099-01-01T00:00:00Z"`);
      assert.equal((await f.api("POST", "/api/v1/dags", source)).status, 201);
      const before = await f.api("GET", "/api/v1/dags/api_pause");
      assert.equal(before.body.paused, false);
      assert.equal(before.body.nextRunAt, "2099-01-01T00:00:00.000Z");

      const paused = await f.api("PATCH", "/api/v1/dags/api_pause", { paused: true });
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.body.dagId, "api_pause");
      assert.equal(paused.body.paused, true);
      assert.equal(paused.body.nextRunAt, null, "a paused DAG has no next run");
      assert.equal((await f.api("GET", "/api/v1/dags/api_pause")).body.paused, true);
      const listed = (await f.api("GET", "/api/v1/dags")).body.dags.find((d: any) => d.dagId === "api_pause");
      assert.equal(listed.paused, true);

      const resumed = await f.api("PATCH", "/api/v1/dags/api_pause", { paused: false });
      assert.equal(resumed.status, 200, resumed.text);
      assert.equal(resumed.body.paused, false);
      assert.equal(resumed.body.nextRunAt, "2099-01-01T00:00:00.000Z");
      assert.equal((await f.api("GET", "/api/v1/dags/api_pause")).body.paused, false);
    });

    it("answers 400 for a bad body and 404 for an unknown DAG", async () => {
      assert.equal((await f.api("POST", "/api/v1/dags", dagFile("api_pause_bad", echo("t", "hi")))).status, 201);
      apiError(await f.api("PATCH", "/api/v1/dags/api_pause_bad", { paused: "yes" }), 400, "bad_request");
      apiError(await f.api("PATCH", "/api/v1/dags/api_pause_bad", { paused: 1 }), 400, "bad_request");
      apiError(await f.api("PATCH", "/api/v1/dags/api_pause_bad", {}), 400, "bad_request");
      apiError(await f.api("PATCH", "/api/v1/dags/api_pause_bad", [true]), 400, "bad_request");
      const none = await f.api("PATCH", "/api/v1/dags/api_pause_bad");
      assert.equal(none.status, 400, none.text);
      assert.equal((await f.api("GET", "/api/v1/dags/api_pause_bad")).body.paused, false, "a refused PATCH changes nothing");
      apiError(await f.api("PATCH", "/api/v1/dags/api_pause_nope", { paused: true }), 404, "dag_not_found");
    });
  });

  describe("DELETE /api/v1/dags/{dagId}", () => {
    it("answers 204, then the DAG is gone (404)", async () => {
      assert.equal((await f.api("POST", "/api/v1/dags", dagFile("api_delete", echo("t", "hi")))).status, 201);
      const res = await f.api("DELETE", "/api/v1/dags/api_delete");
      assert.equal(res.status, 204, res.text);
      assert.equal(res.text, "");
      apiError(await f.api("GET", "/api/v1/dags/api_delete"), 404, "dag_not_found");
      apiError(await f.api("DELETE", "/api/v1/dags/api_delete"), 404, "dag_not_found");
      const listed = (await f.api("GET", "/api/v1/dags")).body.dags.map((d: any) => d.dagId);
      assert.ok(!listed.includes("api_delete"));
      apiError(await f.api("POST", "/api/v1/dags/api_delete/runs", {}), 404, "dag_not_found");
    });

    it("answers 409 dag_has_active_runs while a run is running", async () => {
      const dagId = "api_delete_busy";
      const source = dagFile(dagId, `  podTask("sleeper", { image: "alpine:3.20", command: ["sh", "-c", "echo sleeping; sleep 30"] });`);
      assert.equal((await f.api("POST", "/api/v1/dags", source)).status, 201);
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "busy-1" })).status, 201);
      await waitFor("the sleeper to run", async () => {
        const run = (await f.api("GET", `/api/v1/dags/${dagId}/runs/busy-1`)).body;
        return run?.tasks?.[0]?.state === "running";
      });

      const err = apiError(await f.api("DELETE", `/api/v1/dags/${dagId}`), 409, "dag_has_active_runs");
      assert.ok(err.message.length > 0);
      assert.equal((await f.api("GET", `/api/v1/dags/${dagId}`)).status, 200, "the DAG is still there");

      // Cancel it so the test ends quickly; once the run is over the DAG can be deleted.
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs/busy-1/cancel`)).status, 200);
      const run = await f.waitForRun(dagId, "busy-1");
      assert.equal(run.state, "cancelled");
      await waitFor("the DAG to be deletable", async () => (await f.api("DELETE", `/api/v1/dags/${dagId}`)).status === 204);
      apiError(await f.api("GET", `/api/v1/dags/${dagId}`), 404, "dag_not_found");
    });
  });

  describe("posting a deleted DAG's id again", () => {
    it("revives it as a new version running the new code, and keeps the old runs and their ids", async () => {
      const dagId = "api_reborn";
      assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, echo("t", "old")))).body.version, 1);
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "first" })).status, 201);
      assert.equal((await f.waitForRun(dagId, "first")).state, "success");
      assert.equal((await f.api("DELETE", `/api/v1/dags/${dagId}`)).status, 204);
      assert.equal((await f.api("GET", `/api/v1/dags/${dagId}/runs/first`)).status, 200, "a deleted DAG's runs stay readable");

      const again = await f.api("POST", "/api/v1/dags", dagFile(dagId, echo("t", "new")));
      assert.equal(again.status, 201, again.text);
      assert.equal(again.body.version, 2, "a version number never names other code");
      assert.equal((await f.api("GET", `/api/v1/dags/${dagId}`)).body.paused, false);
      apiError(await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "first" }), 409, "run_exists");
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "second" })).status, 201);
      assert.equal((await f.waitForRun(dagId, "second")).state, "success");
      assert.equal((await f.api("GET", `/api/v1/dags/${dagId}/runs/second/tasks/t/logs`)).text, "new\n");
      assert.equal((await f.api("GET", `/api/v1/dags/${dagId}/runs/first/tasks/t/logs`)).text, "old\n");
    });
  });

  describe("GET /api/v1/dags/{dagId}/versions/{version}/bundle", () => {
    it("serves the compiled bundle to the admin token", async () => {
      assert.equal((await f.api("POST", "/api/v1/dags", dagFile("api_bundle", `  task("fn", async () => ({ answer: 42 }));`))).status, 201);
      const res = await fetch(`${f.url}/api/v1/dags/api_bundle/versions/1/bundle`, { headers: { authorization: "Bearer test-admin-token-0123456789" } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /javascript/);
      const code = await res.text();
      assert.ok(code.length > 0);
      assert.match(code, /answer/, "the bundle holds the task function");
      apiError(await f.api("GET", "/api/v1/dags/api_bundle/versions/7/bundle"), 404, "dag_version_not_found");
      apiError(await f.api("GET", "/api/v1/dags/api_bundle/versions/0/bundle"), 400, "bad_request");
    });

    it("answers 401 to a made-up worker token and to no token", async () => {
      const fake = await f.api("GET", "/api/v1/dags/api_bundle/versions/1/bundle", undefined, { authorization: "Bearer fw_x" });
      apiError(fake, 401, "unauthorized");
      const none = await fetch(`${f.url}/api/v1/dags/api_bundle/versions/1/bundle`);
      assert.equal(none.status, 401);
      assert.equal((await none.json()).error.code, "unauthorized");
      // A worker token opens only the bundle route: anywhere else it is no token at all.
      apiError(await f.api("GET", "/api/v1/dags/api_bundle", undefined, { authorization: "Bearer fw_x" }), 401, "unauthorized");
    });
  });
});
