// The backfill routes as a client sees them, against a whole test Ferry on localkube: making a backfill
// and following it to the end, reprocessing ticks that have runs, cancelling, and every refusal. Also the
// scheduling fields of the run and DAG JSON (data interval, backfillId, end, overlap, skipped ticks).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

describe("backfill routes", { timeout: 150_000 }, () => {
  let f: TestFerry;
  let dir: string;
  before(async () => {
    f = await startTestFerry({ s3: false });
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-backfill-api-"));
  });
  after(async () => {
    await f?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function push(dagId: string, body: string, options: string): Promise<void> {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, body, options));
    assert.equal(res.status, 201, res.text);
  }
  const backfill = (dagId: string, body: unknown) => f.api("POST", `/api/v1/dags/${dagId}/backfills`, body);
  const progress = async (dagId: string, id: number) => (await f.api("GET", `/api/v1/dags/${dagId}/backfills/${id}`)).body;
  const until = (dagId: string, id: number, state: string) =>
    waitFor(`backfill ${id} ${state}`, async () => {
      const p = await progress(dagId, id);
      return p.state === state && p.runs.every((r: any) => ["success", "failed", "cancelled"].includes(r.state)) ? p : null;
    }, 60_000);
  const run = async (dagId: string, runId: string) => (await f.api("GET", `/api/v1/dags/${dagId}/runs/${encodeURIComponent(runId)}`)).body;
  const day = (n: number) => `scheduled__2026-03-0${n}T06:00:00.000Z`;

  it("answers 201 with its runs, one per tick, oldest first; the GET follows them to completed", async () => {
    await push(
      "bf_api",
      `  podTask("t", { image: "alpine:3.20", command: ["sh", "-c", "echo {{ logicalDate }}"] });
  task("fn", (ctx) => ({ start: ctx.dataIntervalStart, end: ctx.dataIntervalEnd, logical: ctx.logicalDate }));`,
      `schedule: "0 6 * * *", params: { p: 1 }`,
    );
    const res = await backfill("bf_api", { from: "2026-03-01T00:00:00Z", to: "2026-03-03T23:59:59Z", maxActiveRuns: 2 });
    assert.equal(res.status, 201, res.text);
    assert.equal(typeof res.body.backfillId, "number");
    assert.deepEqual(
      { ...res.body, backfillId: 0 },
      {
        backfillId: 0,
        dagId: "bf_api",
        from: "2026-03-01T00:00:00.000Z",
        to: "2026-03-03T23:59:59.000Z",
        maxActiveRuns: 2,
        reprocess: "none",
        runs: [1, 2, 3].map((n) => ({ runId: day(n), logicalDate: `2026-03-0${n}T06:00:00.000Z`, action: "created" })),
        leftAlone: [],
      },
    );
    const done = await until("bf_api", res.body.backfillId, "completed");
    assert.deepEqual(done.counts, { total: 3, queued: 0, running: 0, success: 3, failed: 0, cancelled: 0 });
    assert.deepEqual(done.runs.map((r: any) => [r.runId, r.state]), [1, 2, 3].map((n) => [day(n), "success"]));
    assert.equal(done.cancelledAt, null);
    assert.match(done.endedAt, /Z$/);

    const r2 = await run("bf_api", day(2));
    assert.equal(r2.runType, "backfill");
    assert.equal(r2.backfillId, res.body.backfillId);
    assert.equal(r2.dataIntervalStart, "2026-03-01T06:00:00.000Z");
    assert.equal(r2.dataIntervalEnd, "2026-03-02T06:00:00.000Z");
    assert.deepEqual(r2.params, { p: 1 });
    assert.equal((await f.api("GET", `/api/v1/dags/bf_api/runs/${encodeURIComponent(day(2))}/tasks/t/logs`)).text, "2026-03-02T06:00:00.000Z\n");
    // A function task reads the same interval from its ctx.
    assert.deepEqual(r2.tasks.find((t: any) => t.taskId === "fn").result, {
      start: "2026-03-01T06:00:00.000Z",
      end: "2026-03-02T06:00:00.000Z",
      logical: "2026-03-02T06:00:00.000Z",
    });
  });

  it("shows the data interval of every run: a manual run's is its logical date", async () => {
    const res = await f.api("POST", "/api/v1/dags/bf_api/runs", { logicalDate: "2026-03-10T12:34:56Z" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.dataIntervalStart, "2026-03-10T12:34:56.000Z");
    assert.equal(res.body.dataIntervalEnd, "2026-03-10T12:34:56.000Z");
    assert.equal(res.body.backfillId, null);
    const manual = await f.waitForRun("bf_api", res.body.runId);
    assert.deepEqual(manual.tasks.find((t: any) => t.taskId === "fn").result, {
      start: "2026-03-10T12:34:56.000Z",
      end: "2026-03-10T12:34:56.000Z",
      logical: "2026-03-10T12:34:56.000Z",
    });
    assert.equal(res.body.replacedBy, null);
    const listed = (await f.api("GET", "/api/v1/dags/bf_api/runs?limit=100")).body.runs;
    for (const r of listed) assert.ok(r.dataIntervalStart && r.dataIntervalEnd, JSON.stringify(r));
  });

  it("shows end, overlap and the skipped ticks in the DAG's JSON", async () => {
    await push("bf_options", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: "@daily", start: "2026-01-01T00:00:00Z", end: "2027-06-30T00:00:00Z", overlap: "forbid"`);
    const dag = (await f.api("GET", "/api/v1/dags/bf_options")).body;
    assert.equal(dag.end, "2027-06-30T00:00:00.000Z");
    assert.equal(dag.overlap, "forbid");
    assert.equal(dag.skippedTicks, 0);
    assert.equal(dag.lastSkippedTick, null);
    const plain = (await f.api("GET", "/api/v1/dags/bf_api")).body;
    assert.equal(plain.end, null);
    assert.equal(plain.overlap, "allow");
  });

  it("reprocess: none leaves the ticks' runs, failed reruns their failed tasks, all reruns them whole", async () => {
    const gate = path.join(dir, "reprocess-ok");
    await push(
      "bf_again",
      `  const check = podTask("check", { image: "alpine:3.20", command: ["sh", "-c", "test -f ${gate}"] });
  podTask("after", { image: "alpine:3.20", command: ["true"], dependsOn: [check] });
  podTask("apart", { image: "alpine:3.20", command: ["true"] });`,
      `schedule: "0 6 * * *"`,
    );
    const range = { from: "2026-03-01T00:00:00Z", to: "2026-03-02T23:00:00Z" };
    const first = await backfill("bf_again", range);
    assert.equal(first.status, 201, first.text);
    const failed = await until("bf_again", first.body.backfillId, "completed");
    assert.deepEqual(failed.runs.map((r: any) => r.state), ["failed", "failed"]);

    const none = await backfill("bf_again", range);
    assert.equal(none.status, 201, none.text);
    assert.deepEqual(none.body.runs, []);
    assert.deepEqual(none.body.leftAlone.map((r: any) => [r.runId, r.reason]), [[day(1), "the tick has a run"], [day(2), "the tick has a run"]]);
    assert.equal((await progress("bf_again", none.body.backfillId)).state, "completed", "nothing to do is done");

    await writeFile(gate, "");
    const again = await backfill("bf_again", { ...range, reprocess: "failed" });
    assert.equal(again.status, 201, again.text);
    assert.deepEqual(again.body.runs.map((r: any) => [r.runId, r.action]), [[day(1), "reprocessed"], [day(2), "reprocessed"]]);
    const fixed = await until("bf_again", again.body.backfillId, "completed");
    assert.deepEqual(fixed.runs.map((r: any) => r.state), ["success", "success"]);
    const tries = (r: any) => Object.fromEntries(r.tasks.map((t: any) => [t.taskId, t.tryNumber]));
    assert.deepEqual(tries(await run("bf_again", day(1))), { check: 2, after: 1, apart: 1 }, "after never ran (upstream_failed); apart, which succeeded, was kept");
    const events = (await f.api("GET", `/api/v1/dags/bf_again/runs/${encodeURIComponent(day(1))}/tasks/check/events?try=1`)).body.events;
    assert.ok(
      events.some((e: any) => e.reason === "Cleared" && e.message.startsWith(`cleared by backfill ${again.body.backfillId} (reprocess: failed) through the API by the admin token`)),
      JSON.stringify(events),
    );

    const all = await backfill("bf_again", { ...range, reprocess: "all" });
    assert.equal(all.status, 201, all.text);
    await until("bf_again", all.body.backfillId, "completed");
    assert.deepEqual(tries(await run("bf_again", day(2))), { check: 3, after: 2, apart: 2 });
  });

  it("cancels: the running run is cancelled as a run cancel is, the others never start; then 409", async () => {
    const gate = path.join(dir, "never");
    await push("bf_cancel", `  podTask("wait", { image: "alpine:3.20", command: ["sh", "-c", "echo waiting; while [ ! -f ${gate} ]; do sleep 0.1; done"] });`, `schedule: "0 6 * * *"`);
    const res = await backfill("bf_cancel", { from: "2026-03-01T00:00:00Z", to: "2026-03-03T23:00:00Z", maxActiveRuns: 1 });
    assert.equal(res.status, 201, res.text);
    const id = res.body.backfillId;
    await waitFor("the oldest run's task to print", async () =>
      (await f.api("GET", `/api/v1/dags/bf_cancel/runs/${encodeURIComponent(day(1))}/tasks/wait/logs`)).text === "waiting\n",
    );
    const p = await progress("bf_cancel", id);
    assert.equal(p.state, "running");
    assert.deepEqual(p.runs.map((r: any) => r.state), ["running", "queued", "queued"], "oldest first, one at a time");

    const cancelled = await f.api("POST", `/api/v1/dags/bf_cancel/backfills/${id}/cancel`);
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body.state, "cancelled");
    assert.match(cancelled.body.cancelledAt, /Z$/);
    const final = await until("bf_cancel", id, "cancelled");
    assert.deepEqual(final.runs.map((r: any) => r.state), ["cancelled", "cancelled", "cancelled"]);
    assert.deepEqual(final.runs.map((r: any) => r.startedAt === null), [false, true, true], "the queued runs never started");
    const first = await f.waitForRun("bf_cancel", day(1));
    assert.equal(first.tasks[0].state, "cancelled");
    const events = (await f.api("GET", `/api/v1/dags/bf_cancel/runs/${encodeURIComponent(day(1))}/tasks/wait/events`)).body.events;
    assert.ok(events.some((e: any) => e.reason === "Cancelled" && e.message === `cancelled with backfill ${id} through the API by the admin token`), JSON.stringify(events));
    assert.equal((await f.api("GET", `/api/v1/dags/bf_cancel/runs/${encodeURIComponent(day(1))}/tasks/wait/logs`)).text, "waiting\n", "its log is kept");

    apiError(await f.api("POST", `/api/v1/dags/bf_cancel/backfills/${id}/cancel`), 409, "backfill_finished");
    const doneId = (await backfill("bf_api", { from: "2026-03-01T00:00:00Z", to: "2026-03-01T23:00:00Z" })).body.backfillId;
    apiError(await f.api("POST", `/api/v1/dags/bf_api/backfills/${doneId}/cancel`), 409, "backfill_finished");
  });

  it("answers 422 with a code for a manual DAG, bad dates, a reversed, empty, future or too long range", async () => {
    await push("bf_manual", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: null`);
    await push("bf_minutely", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: "* * * * *"`);
    const cases: [string, unknown, string, RegExp][] = [
      ["bf_manual", { from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z" }, "backfill_manual_dag", /no schedule/],
      ["bf_api", { from: "yesterday", to: "2026-03-02T00:00:00Z" }, "backfill_bad_date", /^from is "yesterday": give an ISO-8601/],
      ["bf_api", { from: "2026-03-01T00:00:00Z" }, "backfill_bad_date", /^to is missing/],
      ["bf_api", { from: "2026-02-30T00:00:00Z", to: "2026-03-02T00:00:00Z" }, "backfill_bad_date", /from/],
      ["bf_api", { from: "2026-03-02T00:00:00Z", to: "2026-03-01T00:00:00Z" }, "backfill_reversed_range", /after to/],
      ["bf_api", { from: "2026-03-01T07:00:00Z", to: "2026-03-02T05:00:00Z" }, "backfill_empty_range", /No tick of the schedule "0 6 \* \* \*"/],
      ["bf_api", { from: "2026-03-01T00:00:00Z", to: "2999-01-01T00:00:00Z" }, "backfill_in_future", /has not come yet/],
      ["bf_minutely", { from: "2026-03-01T00:00:00Z", to: "2026-03-08T00:00:00Z" }, "backfill_too_many_ticks", /more than 10000 ticks/],
    ];
    for (const [dagId, body, code, message] of cases) {
      const err = apiError(await backfill(dagId, body), 422, code);
      assert.match(err.message, message);
    }
    assert.equal((await f.api("GET", "/api/v1/dags/bf_manual/runs")).body.runs.length, 0, "a refused backfill makes nothing");
  });

  it("answers 400 for a bad maxActiveRuns, reprocess or field, and 404 for an unknown DAG or backfill", async () => {
    const range = { from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z" };
    for (const body of [{ ...range, maxActiveRuns: 0 }, { ...range, maxActiveRuns: 1.5 }, { ...range, reprocess: "some" }, { ...range, extra: 1 }, [1]]) {
      apiError(await backfill("bf_api", body), 400, "bad_request");
    }
    apiError(await backfill("no_such_dag", range), 404, "dag_not_found");
    for (const id of ["999999", "abc", "0"]) {
      apiError(await f.api("GET", `/api/v1/dags/bf_api/backfills/${id}`), 404, "backfill_not_found");
      apiError(await f.api("POST", `/api/v1/dags/bf_api/backfills/${id}/cancel`), 404, "backfill_not_found");
    }
    const other = (await backfill("bf_api", { from: "2026-03-05T00:00:00Z", to: "2026-03-05T23:00:00Z" })).body.backfillId;
    apiError(await f.api("GET", `/api/v1/dags/bf_again/backfills/${other}`), 404, "backfill_not_found");
  });
});
