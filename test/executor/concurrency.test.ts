// The limits on how many tasks run at once: pools and their slots, a DAG's maxActiveTasks, the global
// parallelism across executors, and priorities when slots are scarce. Concurrency is measured exactly
// from the tries' own records: a try holds its slot from its claim (created_at) to its outcome (ended_at).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createWakeup } from "../../db/wakeup.ts";
import { Executor } from "../../executor/executor.ts";
import { createLogger } from "../../lib/logger.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

describe("concurrency limits", { timeout: 180_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, executor: { parallelism: 5 } });
  });
  after(async () => {
    await f?.close();
  });

  async function push(dagId: string, tasks: string, options = ""): Promise<void> {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, tasks, options));
    assert.equal(res.status, 201, res.text);
  }
  const trigger = async (dagId: string) => assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
  const sleeper = (id: string, opts = "") => `  podTask("${id}", { image: "busybox", command: ["sh", "-c", "sleep 0.4"]${opts} });\n`;

  /** The most tries of these DAGs that held a slot at one instant, and when each try was claimed. */
  async function triesOf(dagIds: string[]) {
    const rows = await f.testDb.db.query<{ task_id: string; created_at: Date; ended_at: Date }>(
      `SELECT ti.task_id, t.created_at, t.ended_at FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
         JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = ANY($1) ORDER BY t.created_at, ti.task_id`,
      [dagIds],
    );
    const edges = rows.flatMap((r) => [
      { at: r.created_at.getTime(), d: 1 },
      { at: r.ended_at.getTime(), d: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.d - b.d); // an end and a claim at the same instant: the end first
    let now = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (now += e.d));
    return { most, order: rows.map((r) => r.task_id), count: rows.length };
  }

  it("a pool's slots bound its tasks; the rest wait scheduled, not queued", async () => {
    assert.equal((await f.api("PUT", "/api/v1/pools/narrow", { slots: 2, description: "two at a time" })).status, 201);
    await push("pooled", ["a", "b", "c", "d", "e", "f"].map((id) => sleeper(id, `, pool: "narrow"`)).join(""));
    await trigger("pooled");
    const seen = await waitFor("some tasks to wait for a slot while others run", async () => {
      const run = (await f.api("GET", "/api/v1/dags/pooled/runs/r1")).body;
      const states = run.tasks.map((t: any) => t.state);
      const holding = states.filter((s: string) => s === "queued" || s === "running").length;
      assert.ok(holding <= 2, `at most 2 hold a slot: ${states}`);
      return holding === 2 && states.includes("scheduled") ? states : null;
    });
    assert.ok(seen.filter((s: string) => s === "scheduled").length >= 1);
    const pool = (await f.api("GET", "/api/v1/pools/narrow")).body;
    assert.equal(pool.slots, 2);
    assert.ok(pool.occupied <= 2 && pool.occupied + pool.waiting >= 1, JSON.stringify(pool));
    assert.equal((await f.waitForRun("pooled", "r1")).state, "success");
    const tries = await triesOf(["pooled"]);
    assert.equal(tries.count, 6);
    assert.equal(tries.most, 2);
  });

  it("when slots are scarce, higher priority first, then the task scheduled first", async () => {
    assert.equal((await f.api("PUT", "/api/v1/pools/single", { slots: 0 })).status, 201);
    await push("ranked", [sleeper("low", `, pool: "single", priority: 1`), sleeper("high", `, pool: "single", priority: 10`), sleeper("mid", `, pool: "single", priority: 5`), sleeper("plain", `, pool: "single"`)].join(""));
    await trigger("ranked");
    await waitFor("every task to wait for the closed pool", async () => {
      const run = (await f.api("GET", "/api/v1/dags/ranked/runs/r1")).body;
      return run.tasks.every((t: any) => t.state === "scheduled");
    });
    assert.equal((await f.api("PUT", "/api/v1/pools/single", { slots: 1 })).status, 200);
    assert.equal((await f.waitForRun("ranked", "r1")).state, "success");
    const tries = await triesOf(["ranked"]);
    assert.deepEqual(tries.order, ["high", "mid", "low", "plain"]);
    assert.equal(tries.most, 1);
  });

  it("a DAG's maxActiveTasks bounds its tasks across its runs", async () => {
    await push("capped", ["a", "b", "c", "d", "e"].map((id) => sleeper(id)).join(""), "maxActiveTasks: 2");
    await trigger("capped");
    assert.equal((await f.api("POST", "/api/v1/dags/capped/runs", { runId: "r2" })).status, 201);
    assert.equal((await f.waitForRun("capped", "r1")).state, "success");
    assert.equal((await f.waitForRun("capped", "r2")).state, "success");
    const tries = await triesOf(["capped"]);
    assert.equal(tries.count, 10);
    assert.equal(tries.most, 2);
  });

  it("FERRY_PARALLELISM bounds the tries of every executor together", async () => {
    const wakeup = await createWakeup(f.ferry.db);
    const second = new Executor(f.ferry.db, f.ferry.kube, f.ferry.logStore, wakeup, createLogger("second", { level: "silent" }), {
      maxRunningTasks: 32,
      parallelism: 5,
      workerImage: "unused",
      workerApiUrl: () => f.url,
      workerSecret: "unused",
      pollIntervalMs: 100,
      logFlushIntervalMs: 200,
    });
    second.start();
    try {
      await push("wide", Array.from({ length: 14 }, (_, i) => sleeper(`t${i}`)).join(""));
      await trigger("wide");
      assert.equal((await f.waitForRun("wide", "r1")).state, "success");
    } finally {
      await second.stop();
      await wakeup.close();
    }
    const tries = await triesOf(["wide"]);
    assert.equal(tries.count, 14);
    assert.ok(tries.most <= 5 && tries.most >= 2, `between 2 and 5 at once, got ${tries.most}`);
    const executors = await f.testDb.db.query<{ n: number }>(
      `SELECT count(DISTINCT t.executor_id)::int AS n FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
         JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = 'wide'`,
    );
    assert.equal(executors[0]!.n, 2, "both executors ran some");
  });

  it("a task whose pool does not exist waits until it does", async () => {
    await push("unpooled", sleeper("t", `, pool: "later"`));
    await trigger("unpooled");
    await waitFor("the task to be scheduled", async () => (await f.api("GET", "/api/v1/dags/unpooled/runs/r1")).body.tasks[0].state === "scheduled");
    await new Promise((r) => setTimeout(r, 800));
    assert.equal((await f.api("GET", "/api/v1/dags/unpooled/runs/r1")).body.tasks[0].state, "scheduled", "still waiting: no pool, no slot");
    assert.equal((await f.api("PUT", "/api/v1/pools/later", { slots: 1 })).status, 201);
    assert.equal((await f.waitForRun("unpooled", "r1")).state, "success");
  });
});

describe("the pools API", { timeout: 60_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false });
  });
  after(async () => {
    await f?.close();
  });

  it("has a default pool, makes, resizes, lists, pages and deletes pools", async () => {
    const def = await f.api("GET", "/api/v1/pools/default");
    assert.equal(def.status, 200);
    assert.equal(def.body.slots, 128);
    const made = await f.api("PUT", "/api/v1/pools/etl", { slots: 4, description: "the warehouse" });
    assert.equal(made.status, 201);
    assert.deepEqual([made.body.name, made.body.slots, made.body.description, made.body.occupied, made.body.open, made.body.waiting], ["etl", 4, "the warehouse", 0, 4, 0]);
    const resized = await f.api("PUT", "/api/v1/pools/etl", { slots: 6 });
    assert.equal(resized.status, 200);
    assert.deepEqual([resized.body.slots, resized.body.description], [6, "the warehouse"], "the description stays when not given");
    assert.equal((await f.api("PUT", "/api/v1/pools/ml", { slots: 1 })).status, 201);
    const page1 = await f.api("GET", "/api/v1/pools?limit=2");
    assert.deepEqual(page1.body.pools.map((p: any) => p.name), ["default", "etl"]);
    const page2 = await f.api("GET", `/api/v1/pools?limit=2&cursor=${page1.body.nextCursor}`);
    assert.deepEqual(page2.body.pools.map((p: any) => p.name), ["ml"]);
    assert.equal(page2.body.nextCursor, null);
    assert.equal((await f.api("DELETE", "/api/v1/pools/ml")).status, 204);
    assert.equal((await f.api("GET", "/api/v1/pools/ml")).body.error.code, "pool_not_found");
  });

  it("refuses bad input with a code and a message", async () => {
    const cases: [string, string, unknown, number, string][] = [
      ["PUT", "/api/v1/pools/etl", { slots: -1 }, 400, "bad_request"],
      ["PUT", "/api/v1/pools/etl", { slots: 1.5 }, 400, "bad_request"],
      ["PUT", "/api/v1/pools/etl", {}, 400, "bad_request"],
      ["PUT", "/api/v1/pools/etl", { slots: 1, color: "red" }, 400, "bad_request"],
      ["PUT", "/api/v1/pools/has%20space", { slots: 1 }, 400, "bad_request"],
      ["PUT", `/api/v1/pools/${"x".repeat(65)}`, { slots: 1 }, 400, "bad_request"],
      ["GET", "/api/v1/pools?cursor=nonsense", undefined, 400, "bad_request"],
      ["DELETE", "/api/v1/pools/default", undefined, 409, "pool_protected"],
      ["DELETE", "/api/v1/pools/none", undefined, 404, "pool_not_found"],
    ];
    for (const [method, route, body, status, code] of cases) {
      const res = await f.api(method, route, body);
      assert.equal(res.status, status, `${method} ${route}: ${res.text}`);
      assert.equal(res.body.error.code, code);
      assert.ok(res.body.error.message.length > 10);
    }
  });

  it("refuses a DAG with a bad pool, priority or maxActiveTasks at push time", async () => {
    const res = await f.api("POST", "/api/v1/dags", dagFile("bad_limits", `  podTask("t", { image: "busybox", command: ["true"], pool: "a/b", priority: 2e9 });`, "maxActiveTasks: 0"));
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.error.details.problems.map((p: any) => p.path).sort(), ["maxActiveTasks", "tasks.t.pool", "tasks.t.priority"]);
  });
});
