// /healthz notices a stuck loop: each loop (scheduler, executor) beats once per completed pass, and
// /healthz answers 503 naming the loop once it has gone longer than its threshold without one, 200 again
// once it passes again. The hang is a real one: the test holds a lock that the scheduler's pass needs in
// a Postgres transaction of its own, so the pass waits on its query as it would on a hung database.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ajv } from "ajv";
import pg from "pg";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

/** The scheduler's threshold here; the executor keeps its default (a minute). */
const SCHEDULER_STUCK_AFTER_MS = 4000;

type Loop = { lastPassAt: string | null; lastPassAgeSeconds: number; stuckAfterSeconds: number; stuck: boolean };
type Liveness = { status: string; components: Record<string, Loop> };

describe("/healthz and the loops' heartbeats", { timeout: 300_000 }, () => {
  let f: TestFerry;

  before(async () => {
    f = await startTestFerry({ s3: false, scheduler: { stuckAfterMs: SCHEDULER_STUCK_AFTER_MS } });
  });
  after(async () => {
    await f?.close();
  });

  const health = async () => {
    const res = await fetch(`${f.url}/healthz`);
    return { status: res.status, body: (await res.json()) as Liveness };
  };

  it("answers 200 with each loop of the process and when it last completed a pass", async () => {
    const first = await waitFor("a first pass of both loops", async () => {
      const h = await health();
      return h.body.components.scheduler?.lastPassAt && h.body.components.executor?.lastPassAt ? h : null;
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.status, "ok");
    assert.deepEqual(Object.keys(first.body.components).sort(), ["executor", "scheduler"]);
    for (const loop of Object.values(first.body.components)) assert.equal(loop.stuck, false);
    assert.equal(first.body.components.scheduler!.stuckAfterSeconds, SCHEDULER_STUCK_AFTER_MS / 1000);
    assert.equal(first.body.components.executor!.stuckAfterSeconds, 60, "the default: a minute");

    // The loops keep beating (they poll every 200 ms here).
    await waitFor("later passes of both loops", async () => {
      const h = await health();
      return (
        h.status === 200 &&
        h.body.components.scheduler!.lastPassAt! > first.body.components.scheduler!.lastPassAt! &&
        h.body.components.executor!.lastPassAt! > first.body.components.executor!.lastPassAt!
      );
    });

    const metrics = await (await fetch(`${f.url}/metrics`)).text();
    for (const component of ["scheduler", "executor"]) {
      assert.match(metrics, new RegExp(`^ferry_loop_last_pass_age_seconds\\{component="${component}"\\} \\d`, "m"), component);
    }
  });

  it("answers 503 naming the scheduler while its pass hangs on a lock, and 200 once it passes again", async () => {
    const holder = new pg.Client({ connectionString: f.testDb.url });
    await holder.connect();
    let held = false;
    try {
      // Every scheduler pass reads backfills (which runs are queued for them); the executor does not.
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE backfills IN ACCESS EXCLUSIVE MODE");
      held = true;

      const stuck = await waitFor("/healthz to call the scheduler stuck", async () => {
        const h = await health();
        return h.status === 503 ? h : null;
      }, 60_000);
      assert.equal(stuck.body.status, "stuck");
      const scheduler = stuck.body.components.scheduler!;
      assert.equal(scheduler.stuck, true);
      assert.ok(scheduler.lastPassAgeSeconds >= SCHEDULER_STUCK_AFTER_MS / 1000, `age ${scheduler.lastPassAgeSeconds} s`);
      assert.ok(scheduler.lastPassAt, "it had passed before the hang");
      assert.equal(stuck.body.components.executor!.stuck, false, "the executor's passes do not need the lock");

      // The 503 is the answer /openapi.json documents for it.
      const doc = (await (await fetch(`${f.url}/openapi.json`)).json()) as any;
      const schema = doc.paths["/healthz"].get.responses["503"].content["application/json"].schema;
      const validate = new Ajv({ strict: false, formats: { "date-time": true } }).compile(schema);
      assert.ok(validate(stuck.body), JSON.stringify(validate.errors));

      // /metrics shows the age too (its gauges read no backfills).
      const metrics = await (await fetch(`${f.url}/metrics`)).text();
      const age = Number(/^ferry_loop_last_pass_age_seconds\{component="scheduler"\} (\S+)$/m.exec(metrics)?.[1]);
      assert.ok(age >= SCHEDULER_STUCK_AFTER_MS / 1000, `ferry_loop_last_pass_age_seconds{component="scheduler"} = ${age}`);

      await holder.query("ROLLBACK");
      held = false;
      const healthy = await waitFor("/healthz to answer 200 again", async () => {
        const h = await health();
        return h.status === 200 ? h : null;
      }, 60_000);
      assert.equal(healthy.body.status, "ok");
      assert.equal(healthy.body.components.scheduler!.stuck, false);
      assert.ok(healthy.body.components.scheduler!.lastPassAt! > scheduler.lastPassAt!, "a pass completed after the lock went");
    } finally {
      if (held) await holder.query("ROLLBACK").catch(() => {});
      await holder.end();
    }
  });
});
