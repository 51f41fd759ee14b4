// Wake-ups. The scheduler and the executor sleep between passes until a NOTIFY on `ferry_wakeup` wakes
// them, or their poll interval runs out. With both poll intervals at 30 s, each hop of a chain a → b → c
// (the upstream try's end to the downstream try's claim) must take well under 5 s: polling alone could
// not do it, only a notification can. When the LISTEN connections are cut, the listeners connect again
// and the hops are fast again; and while they are kept cut, polling still finishes the work.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { createTestDb } from "../support/db.ts";
import { OutageProxy } from "../support/outage-proxy.ts";
import { connectDb, type Queryable } from "../../db/db.ts";
import { createWakeup, notifyWakeup } from "../../db/wakeup.ts";

const POLL_MS = 30_000;
/** Far below the 30 s poll interval, far above a notification's few milliseconds. */
const HOP_BOUND_MS = 5_000;

const CHAIN = dagFile(
  "chain",
  `  const a = podTask("a", { image: "busybox", command: ["sh", "-c", "echo a"] });
  const b = podTask("b", { image: "busybox", command: ["sh", "-c", "echo b"], dependsOn: [a] });
  podTask("c", { image: "busybox", command: ["sh", "-c", "echo c"], dependsOn: [b] });`,
);

interface Hop {
  hop: string;
  ms: number;
}

/** Each hop of a run of `chain`: the run's creation → a's try, then each upstream try's end → its downstream try's claim. */
async function hopsOf(db: Queryable, runId: string): Promise<Hop[]> {
  const rows = await db.query<{ task_id: string; run_created: Date; created_at: Date; ended_at: Date }>(
    `SELECT ti.task_id, r.created_at AS run_created, t.created_at, t.ended_at
       FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk
      WHERE r.dag_id = 'chain' AND r.run_id = $1 ORDER BY ti.task_id, t.try_number`,
    [runId],
  );
  assert.deepEqual(rows.map((r) => r.task_id), ["a", "b", "c"], "one try per task");
  const [a, b, c] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
  return [
    { hop: "trigger → a", ms: a.created_at.getTime() - a.run_created.getTime() },
    { hop: "a → b", ms: b.created_at.getTime() - a.ended_at.getTime() },
    { hop: "b → c", ms: c.created_at.getTime() - b.ended_at.getTime() },
  ];
}

/** The backend pids of this database's LISTEN connections (application_name `ferry-listen`, see db/db.ts). */
async function listeners(db: Queryable): Promise<number[]> {
  const rows = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ferry-listen' ORDER BY pid`,
  );
  return rows.map((r) => r.pid);
}

const nonEmpty = <T>(xs: T[]): T[] | null => (xs.length > 0 ? xs : null);

/** Cuts this database's LISTEN connections; returns how many it cut. */
async function cutListeners(db: Queryable): Promise<number> {
  const rows = await db.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ferry-listen'`,
  );
  return rows.length;
}

async function push(f: TestFerry): Promise<void> {
  const res = await f.api("POST", "/api/v1/dags", CHAIN);
  assert.equal(res.status, 201, res.text);
}

async function runChain(f: TestFerry, runId: string, timeoutMs: number): Promise<void> {
  const res = await f.api("POST", "/api/v1/dags/chain/runs", { runId });
  assert.equal(res.status, 201, res.text);
  const run = await f.waitForRun("chain", runId, timeoutMs).catch(async (err: Error) => {
    const tries = await f.testDb.db.query(
      `SELECT ti.task_id, t.created_at, t.ended_at FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
         JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = 'chain' AND r.run_id = $1 ORDER BY 1`,
      [runId],
    );
    throw new Error(`${err.message}\nits tries so far (a hop that waits for a poll takes up to the poll interval): ${JSON.stringify(tries)}`);
  });
  assert.equal(run.state, "success", JSON.stringify(run));
}

describe("wake-ups", { timeout: 180_000 }, () => {
  const ferries: TestFerry[] = [];
  after(async () => {
    for (const f of ferries) await f.close();
  });

  it("a downstream try follows its upstream's end on a notification, with 30 s poll intervals; also after the LISTEN connections were cut", async () => {
    const f = await startTestFerry({ s3: false, scheduler: { pollIntervalMs: POLL_MS }, executor: { pollIntervalMs: POLL_MS } });
    ferries.push(f);
    await push(f);
    const db = f.testDb.db;
    assert.equal((await listeners(db)).length, 2, "the scheduler's and the executor's wakeups each listen");

    // A few seconds at most; a hop that waits for a poll would take up to 30 s, the whole run up to 2 minutes.
    await runChain(f, "r1", 20_000);
    const first = await hopsOf(db, "r1");
    for (const h of first) assert.ok(h.ms < HOP_BOUND_MS, `hop ${h.hop} took ${h.ms} ms (poll interval ${POLL_MS} ms): ${JSON.stringify(first)}`);

    // Cut both LISTEN connections: the wakeups connect and LISTEN again by themselves.
    const before = await listeners(db);
    assert.equal(await cutListeners(db), 2);
    const after = await waitFor(
      "both wakeups to listen again",
      async () => {
        const now = await listeners(db);
        return now.length === 2 && now.every((pid) => !before.includes(pid)) ? now : null;
      },
      15_000,
    );
    assert.equal(after.length, 2);

    await runChain(f, "r2", 20_000);
    const second = await hopsOf(db, "r2");
    for (const h of second) assert.ok(h.ms < HOP_BOUND_MS, `after reconnecting, hop ${h.hop} took ${h.ms} ms: ${JSON.stringify(second)}`);
    console.log(`hops with 30 s polls: ${JSON.stringify(first)}; after the LISTEN connections were cut: ${JSON.stringify(second)}`);
  });

  it("polling still finishes the work while notifications are lost (the LISTEN connections cut as soon as they come back)", async () => {
    const f = await startTestFerry({ s3: false, scheduler: { pollIntervalMs: 500 }, executor: { pollIntervalMs: 500 } });
    ferries.push(f);
    await push(f);
    const db = f.testDb.db;
    let cut = 0;
    let cutting = true;
    const cutter = (async () => {
      while (cutting) {
        cut += await cutListeners(db);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await waitFor("the listeners to be cut", async () => (await listeners(db)).length === 0, 5_000);
      await runChain(f, "r1", 60_000);
    } finally {
      cutting = false;
      await cutter;
    }
    assert.ok(cut >= 2, `the LISTEN connections were cut (${cut} times)`);
    const hops = await hopsOf(db, "r1");
    console.log(`hops on polling alone (500 ms polls, ${cut} cuts): ${JSON.stringify(hops)}`);
    // And once left alone, the wakeups listen again.
    await waitFor("both wakeups to listen again", async () => (await listeners(db)).length === 2, 15_000);
  });

  it("one wakeup holds exactly one LISTEN connection through an outage and cuts, hears notifications after, and leaves none when closed", async () => {
    const t = await createTestDb();
    const target = new URL(t.url);
    const proxy = new OutageProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.up();
    const viaProxy = new URL(t.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const proxied = connectDb(viaProxy.toString());
    try {
      const w = await createWakeup(proxied);
      assert.equal((await listeners(t.db)).length, 1);
      // Postgres unreachable for a while: the connection is cut and every attempt to connect again is
      // refused. Each loss must lead to one attempt, not two (a refused connect is reported both as a
      // failed connect and as the connection's end).
      await proxy.down();
      await new Promise((r) => setTimeout(r, 4000));
      await proxy.up();
      let pids = await waitFor("it to listen again", async () => nonEmpty(await listeners(t.db)), 15_000);
      // And cut by the server a few times more.
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await listeners(t.db), pids, "one LISTEN connection");
        assert.equal(await cutListeners(t.db), 1);
        const cut = pids;
        // A terminated backend stays in pg_stat_activity until it has exited: wait for a new one.
        pids = await waitFor("it to listen again", async () => nonEmpty((await listeners(t.db)).filter((pid) => !cut.includes(pid))), 15_000);
        await waitFor("the cut backend to exit", async () => (await listeners(t.db)).every((pid) => !cut.includes(pid)), 5_000);
      }
      await new Promise((r) => setTimeout(r, 6000)); // past the longest reconnect delay: a second connection would be open by now
      assert.equal((await listeners(t.db)).length, 1, "one LISTEN connection, not more");
      // It hears a notification: a 30 s sleep ends at once.
      await w.sleep(0); // takes the wake its reconnect left pending
      const started = Date.now();
      const slept = w.sleep(30_000);
      await notifyWakeup(t.db, "tasks");
      await slept;
      assert.ok(Date.now() - started < HOP_BOUND_MS, `woken by the notification after ${Date.now() - started} ms`);
      await w.close();
      await waitFor("its connection to close", async () => (await listeners(t.db)).length === 0, 5_000);
    } finally {
      await proxy.down();
      await proxied.close();
      await t.close();
    }
  });
});
