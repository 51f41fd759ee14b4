// Clearing a whole run (POST /api/v1/dags/{dagId}/runs/{runId}/clear), through real HTTP against a whole
// test Ferry: only the failed, upstream_failed and cancelled tasks and what is downstream of them, or
// (onlyFailed: false) every task; refused as a whole while an affected task runs (task_active) or when
// nothing failed (nothing_to_clear); 404s and bad bodies; two clears fired at once clear once, and no
// task ever has two tries at a time. Every answer of the route is checked against /openapi.json.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Ajv, type ValidateFunction } from "ajv";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

const ROUTE = "/api/v1/dags/{dagId}/runs/{runId}/clear";

// Fails its first try, succeeds from the second on: a failure that a clear fixes.
const flaky = (id: string, deps: string[] = []) =>
  `  const ${id} = podTask("${id}", { image: "alpine:3.20", command: ["sh", "-c", "echo ${id} try {{ tryNumber }}; [ {{ tryNumber }} -gt 1 ]"]${deps.length ? `, dependsOn: [${deps.join(", ")}]` : ""} });`;
const fine = (id: string, deps: string[] = []) =>
  `  const ${id} = podTask("${id}", { image: "alpine:3.20", command: ["sh", "-c", "echo ${id} try {{ tryNumber }}"]${deps.length ? `, dependsOn: [${deps.join(", ")}]` : ""} });`;

describe("clearing a whole run", { timeout: 600_000 }, () => {
  let f: TestFerry;
  let answers: Map<string, ValidateFunction>;
  before(async () => {
    f = await startTestFerry({ s3: false });
    const doc = (await (await fetch(`${f.url}/openapi.json`)).json()) as any;
    const op = doc.paths[ROUTE]?.post;
    assert.ok(op, `${ROUTE} is documented`);
    assert.equal(op.requestBody.content["application/json"].schema.anyOf[0].properties.onlyFailed.type, "boolean", "its body is documented");
    const ajv = new Ajv({ strict: false, formats: { "date-time": true } });
    answers = new Map(Object.entries(op.responses).map(([status, r]: [string, any]) => [status, ajv.compile(r.content["application/json"].schema)]));
  });
  after(async () => {
    await f?.close();
  });

  /** Clears the run; the answer must be one the document lists, shaped as it says. */
  async function clear(dagId: string, runId: string, body?: unknown, headers?: Record<string, string>) {
    const res = await f.api("POST", `/api/v1/dags/${dagId}/runs/${encodeURIComponent(runId)}/clear`, body, headers);
    const validate = answers.get(String(res.status));
    assert.ok(validate, `the document lists ${res.status}: ${res.text}`);
    assert.ok(validate(res.body), `the ${res.status} answer matches its schema: ${JSON.stringify(validate.errors)}\n${res.text}`);
    return res;
  }
  async function push(dagId: string, lines: string[]): Promise<void> {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, lines.join("\n")));
    assert.equal(res.status, 201, res.text);
  }
  async function trigger(dagId: string, runId: string): Promise<void> {
    const res = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId });
    assert.equal(res.status, 201, res.text);
  }
  const getRun = async (dagId: string, runId: string) => (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}`)).body;
  const byId = (run: any): Record<string, any> => Object.fromEntries(run.tasks.map((t: any) => [t.taskId, t]));
  const tries = (run: any) => Object.fromEntries(run.tasks.map((t: any) => [t.taskId, t.tryNumber]));
  const states = (run: any) => Object.fromEntries(run.tasks.map((t: any) => [t.taskId, t.state]));
  const clearedEvents = async (dagId: string, runId: string, taskId: string, tryNumber: number) =>
    (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/${taskId}/events?try=${tryNumber}`)).body.events.filter((e: any) => e.reason === "Cleared");
  /** Waits for the run to end once every task has reached the try given. */
  const waitForTries = (dagId: string, runId: string, want: Record<string, number>) =>
    waitFor(
      `${dagId} ${runId} to end with tries ${JSON.stringify(want)}`,
      async () => {
        const run = await f.waitForRun(dagId, runId, 180_000);
        return Object.entries(want).every(([id, n]) => byId(run)[id].tryNumber >= n) ? run : null;
      },
      240_000,
    );
  /** Each task's tries one after another: a try is queued only after the one before it ended. */
  async function assertSequentialTries(dagId: string, runId: string): Promise<void> {
    for (const t of (await getRun(dagId, runId)).tasks) {
      const detail = (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/${t.taskId}`)).body;
      assert.deepEqual(detail.tries.map((r: any) => r.tryNumber), detail.tries.map((_: unknown, i: number) => i + 1), `${t.taskId}: tries 1..n`);
      for (let i = 1; i < detail.tries.length; i++) {
        const [prev, next] = [detail.tries[i - 1], detail.tries[i]];
        assert.ok(prev.endedAt, `${t.taskId} try ${prev.tryNumber} ended`);
        assert.ok(Date.parse(next.queuedAt) >= Date.parse(prev.endedAt), `${t.taskId}: try ${next.tryNumber} was queued after try ${prev.tryNumber} ended: ${JSON.stringify(detail.tries)}`);
      }
    }
  }

  it("with onlyFailed, runs exactly the failed and upstream_failed tasks again (and what is downstream); then onlyFailed: false runs all", async () => {
    const dagId = "rc_failed";
    // ok -> flaky -> after, ok -> side; lone on its own.
    await push(dagId, [fine("ok"), flaky("flaky", ["ok"]), fine("after", ["flaky"]), fine("side", ["ok"]), flaky("lone")]);
    await trigger(dagId, "r1");
    const failed = await f.waitForRun(dagId, "r1", 180_000);
    assert.equal(failed.state, "failed", JSON.stringify(failed));
    assert.deepEqual(states(failed), { ok: "success", flaky: "failed", after: "upstream_failed", side: "success", lone: "failed" });

    const res = await clear(dagId, "r1", { onlyFailed: true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ["cleared", "dagId", "runId", "state"]);
    assert.equal(res.body.runId, "r1");
    assert.equal(res.body.dagId, dagId);
    assert.ok(["queued", "running"].includes(res.body.state), res.text);
    assert.deepEqual([...res.body.cleared].sort(), ["after", "flaky", "lone"]);
    const order = failed.tasks.map((t: any) => t.taskId);
    assert.deepEqual(res.body.cleared, order.filter((id: string) => res.body.cleared.includes(id)), "in the DAG's order");

    const again = await waitForTries(dagId, "r1", { flaky: 2, after: 1, lone: 2 });
    assert.equal(again.state, "success", JSON.stringify(again));
    assert.deepEqual(tries(again), { ok: 1, flaky: 2, after: 1, side: 1, lone: 2 }, "what did not fail is left alone; the cleared ran once more");
    assert.deepEqual(states(again), { ok: "success", flaky: "success", after: "success", side: "success", lone: "success" });
    assert.equal((await f.api("GET", `/api/v1/dags/${dagId}/runs/r1/tasks/flaky/logs`)).text, "flaky try 2\n");
    const [flakyCleared, ...more] = await clearedEvents(dagId, "r1", "flaky", 1);
    assert.equal(more.length, 0);
    assert.equal(flakyCleared.type, "Normal");
    assert.equal(flakyCleared.message, "cleared through the API by the admin token, with the run's failed tasks (it was failed); the task runs again as a new try");
    assert.deepEqual(await clearedEvents(dagId, "r1", "ok", 1), [], "a task not cleared gets no event");

    // Nothing failed now: the default (no body at all) finds nothing to clear and leaves the run alone.
    for (const body of [undefined, null, {}]) {
      const err = apiError(await clear(dagId, "r1", body), 409, "nothing_to_clear");
      assert.match(err.message, /no failed, upstream_failed or cancelled task \(the run is success\)/);
      assert.match(err.message, /"onlyFailed": false/, "it says how to clear every task");
    }
    assert.deepEqual(tries(await getRun(dagId, "r1")), { ok: 1, flaky: 2, after: 1, side: 1, lone: 2 });

    const all = await clear(dagId, "r1", { onlyFailed: false });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.body.cleared, order, "every task, in the DAG's order");
    const whole = await waitForTries(dagId, "r1", { ok: 2, flaky: 3, after: 2, side: 2, lone: 3 });
    assert.equal(whole.state, "success", JSON.stringify(whole));
    assert.deepEqual(tries(whole), { ok: 2, flaky: 3, after: 2, side: 2, lone: 3 });
    const [okCleared] = await clearedEvents(dagId, "r1", "ok", 1);
    assert.equal(okCleared?.message, "cleared through the API by the admin token, with the whole run; the task runs again as a new try");
    await assertSequentialTries(dagId, "r1");
  });

  it("refuses with task_active, clearing nothing, while an affected task runs; a running task it does not affect is left to run; a cancelled task is cleared", async () => {
    const dagId = "rc_busy";
    await push(dagId, [
      flaky("boom"),
      fine("afterBoom", ["boom"]),
      // Runs until cancelled on its first try, and then takes 5 s to stop (of its 10 s grace); ends at once on later ones.
      `  podTask("sleeper", { image: "alpine:3.20", command: ["sh", "-c", "trap 'sleep 5; echo sleeper stopped; exit 143' TERM; echo sleeper try {{ tryNumber }}; [ {{ tryNumber }} -gt 1 ] || while true; do sleep 0.2; done"] });`,
    ]);
    await trigger(dagId, "b1");
    await waitFor(
      "boom to fail while the sleeper runs",
      async () => {
        const s = states(await getRun(dagId, "b1"));
        return s.boom === "failed" && s.afterBoom === "upstream_failed" && s.sleeper === "running";
      },
      180_000,
    );

    const busy = apiError(await clear(dagId, "b1", { onlyFailed: false }), 409, "task_active");
    assert.deepEqual(busy.details, { tasks: ["sleeper"] });
    assert.match(busy.message, /sleeper/);
    const untouched = await getRun(dagId, "b1");
    assert.equal(untouched.state, "running");
    assert.deepEqual(states(untouched), { boom: "failed", afterBoom: "upstream_failed", sleeper: "running" }, "a refused clear clears nothing");
    assert.deepEqual(tries(untouched), { boom: 1, afterBoom: 0, sleeper: 1 });

    // The sleeper is neither failed nor downstream of a failure: only-failed clears around it.
    const res = await clear(dagId, "b1");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.cleared, ["boom", "afterBoom"]);
    assert.equal(res.body.state, "running");
    await waitFor(
      "boom and afterBoom to succeed",
      async () => {
        const run = await getRun(dagId, "b1");
        const s = states(run);
        return s.boom === "success" && s.afterBoom === "success" ? run : null;
      },
      180_000,
    );
    assert.equal(states(await getRun(dagId, "b1")).sleeper, "running", "the sleeper ran on, its one try");
    assert.equal(tries(await getRun(dagId, "b1")).sleeper, 1);

    const cancel = await f.api("POST", `/api/v1/dags/${dagId}/runs/b1/cancel`);
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal(cancel.body.state, "cancelled");
    assert.equal(states(await getRun(dagId, "b1")).sleeper, "cancelled");

    // Cleared at once, while the cancelled sleeper's container is still stopping (its trap).
    const resumed = await clear(dagId, "b1", {});
    assert.equal(resumed.status, 200, resumed.text);
    assert.deepEqual(resumed.body.cleared, ["sleeper"], "a cancelled task is cleared with the failed ones");
    assert.ok(["queued", "running"].includes(resumed.body.state), `a finished run goes back to queued: ${resumed.text}`);
    const done = await waitForTries(dagId, "b1", { sleeper: 2 });
    assert.equal(done.state, "success", JSON.stringify(done));
    assert.deepEqual(tries(done), { boom: 2, afterBoom: 1, sleeper: 2 });
    // Its second try was claimed only once the first one's container had ended: never two at once.
    const sleeperTries = (await f.api("GET", `/api/v1/dags/${dagId}/runs/b1/tasks/sleeper`)).body.tries;
    assert.ok(Date.parse(sleeperTries[1].queuedAt) >= Date.parse(sleeperTries[0].logFinishedAt), JSON.stringify(sleeperTries));
    // (The shell may also report its sleep killed by the SIGTERM in between.)
    assert.match((await f.api("GET", `/api/v1/dags/${dagId}/runs/b1/tasks/sleeper/logs?try=1`)).text, /^sleeper try 1\n(Terminated\n)?sleeper stopped\n$/);
    const [sleeperCleared] = await clearedEvents(dagId, "b1", "sleeper", 1);
    assert.match(sleeperCleared?.message ?? "", /\(it was cancelled\)/);
    await assertSequentialTries(dagId, "b1");
  });

  it("two clears fired at once: one clears, the other finds nothing left; no task runs two tries at a time", async () => {
    const dagId = "rc_race";
    await push(dagId, [fine("a"), flaky("b", ["a"]), fine("c", ["b"])]);
    await trigger(dagId, "x1");
    assert.equal((await f.waitForRun(dagId, "x1", 180_000)).state, "failed");

    const pair = await Promise.all([clear(dagId, "x1"), clear(dagId, "x1")]);
    const statuses = pair.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409], pair.map((r) => r.text).join("\n"));
    const won = pair.find((r) => r.status === 200)!;
    assert.deepEqual(won.body.cleared, ["b", "c"]);
    apiError(pair.find((r) => r.status === 409)!, 409, "nothing_to_clear");
    const once = await waitForTries(dagId, "x1", { b: 2, c: 1 });
    assert.equal(once.state, "success", JSON.stringify(once));
    assert.deepEqual(tries(once), { a: 1, b: 2, c: 1 }, "cleared once: one more try of each");

    // Clearing every task twice at once: the second either clears tasks that have not started again
    // (no try is lost or doubled) or finds one of them queued already (task_active); never two tries at once.
    const both = await Promise.all([clear(dagId, "x1", { onlyFailed: false }), clear(dagId, "x1", { onlyFailed: false })]);
    for (const r of both) {
      if (r.status !== 200) apiError(r, 409, "task_active");
      else assert.deepEqual(r.body.cleared, ["a", "b", "c"]);
    }
    assert.ok(both.some((r) => r.status === 200), both.map((r) => r.text).join("\n"));
    const twice = await waitForTries(dagId, "x1", { a: 2, b: 3, c: 2 });
    assert.equal(twice.state, "success", JSON.stringify(twice));
    assert.deepEqual(tries(twice), { a: 2, b: 3, c: 2 }, "one more try of each task, however the two clears met");
    await assertSequentialTries(dagId, "x1");
  });

  it("answers 404 for an unknown DAG or run, 400 for a bad body or run id, and needs the author role", async () => {
    const dagId = "rc_refusals";
    await push(dagId, [fine("t")]);
    await trigger(dagId, "ok1");
    assert.equal((await f.waitForRun(dagId, "ok1", 180_000)).state, "success");

    apiError(await clear("rc_no_such_dag", "ok1"), 404, "run_not_found");
    const missing = apiError(await clear(dagId, "no-such-run", { onlyFailed: false }), 404, "run_not_found");
    assert.match(missing.message, /no-such-run/);

    const bad: [unknown, string, RegExp][] = [
      [{ onlyFailed: "no" }, "body.onlyFailed", /^body\.onlyFailed must be a boolean, got "no"\.$/],
      [{ onlyFailed: 0 }, "body.onlyFailed", /^body\.onlyFailed must be a boolean, got 0\.$/],
      [{ onlyfailed: false }, "body.onlyfailed", /^body\.onlyfailed is not a field Ferry knows: body takes onlyFailed\.$/],
      [{ onlyFailed: false, task: "t" }, "body.task", /^body\.task is not a field Ferry knows: body takes onlyFailed\.$/],
      [[true], "body", /^body must be an object/],
      ["yes", "body", /^body must be an object/],
    ];
    for (const [body, field, message] of bad) {
      const res = await clear(dagId, "ok1", typeof body === "string" ? JSON.stringify(body) : body, { "content-type": "application/json" });
      const err = apiError(res, 400, "bad_request");
      assert.match(err.message, message, JSON.stringify(body));
      assert.deepEqual(err.details, { field }, JSON.stringify(body));
    }
    apiError(await clear(dagId, "ok1", "{nope", { "content-type": "application/json" }), 400, "invalid_json");
    apiError(await clear(dagId, "a b"), 400, "bad_request");
    assert.deepEqual(tries(await getRun(dagId, "ok1")), { t: 1 }, "no refused request cleared anything");

    const viewer = await f.api("POST", "/api/v1/tokens", { name: "rc viewer", role: "viewer" });
    assert.equal(viewer.status, 201, viewer.text);
    apiError(await clear(dagId, "ok1", { onlyFailed: false }, { authorization: `Bearer ${viewer.body.token}` }), 403, "forbidden");
    const author = await f.api("POST", "/api/v1/tokens", { name: "rc author", role: "author" });
    const res = await clear(dagId, "ok1", { onlyFailed: false }, { authorization: `Bearer ${author.body.token}` });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.cleared, ["t"]);
    const done = await waitForTries(dagId, "ok1", { t: 2 });
    assert.equal(done.state, "success");
    const [event] = await clearedEvents(dagId, "ok1", "t", 1);
    assert.equal(event?.message, `cleared through the API by the token "rc author" (id ${author.body.id}), with the whole run; the task runs again as a new try`);
  });
});
