// The executor when its surroundings fail in ways localkube's faults do not cover: it loses its
// database while alive (and another executor adopts its tries), the log store fails once just as a
// log copy starts, and a Pod create succeeds but its answer is lost before a cancel. Each wraps the real
// part (Postgres, the log store, the Kubernetes client) and makes one call fail.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Db } from "../../db/db.ts";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { readTryLog } from "../../logstore/index.ts";
import type { TryLogKey } from "../../logstore/logstore.ts";
import { dagFile } from "../support/api.ts";
import { extraExecutor, startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

describe("executor robustness", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, executor: { leaseMs: 1500 } });
  });
  after(async () => {
    await f?.close();
  });

  const push = async (dagId: string, command: string) => {
    const res = await f.api("POST", "/api/v1/dags", dagFile(dagId, `  podTask("t", { image: "busybox", command: ["sh", "-c", ${JSON.stringify(command)}] });`));
    assert.equal(res.status, 201, res.text);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
  };
  const key = (dagId: string): TryLogKey => ({ dagId, runId: "r1", taskId: "t", tryNumber: 1 });

  it("an executor cut off from Postgres stops copying before another adopts its try: the log stays exact", async () => {
    await f.ferry.executor!.stop();
    let partitioned = false;
    const db = f.ferry.db;
    // The same database, except that every query fails while "partitioned" (transactions still work,
    // as a connection already open might).
    const cutOff: Db = { ...db, query: (text, values) => (partitioned ? Promise.reject(new Error("partitioned from Postgres")) : db.query(text, values)) };
    const a = await extraExecutor(f, { db: cutOff, leaseMs: 1500 });
    const b = await extraExecutor(f, { leaseMs: 1500 });
    a.executor.start();
    try {
      await push("partitioned", "for i in $(seq 1 60); do echo line $i; sleep 0.1; done");
      await waitFor("some of the log to be stored", async () => (await f.ferry.logStore.listChunks(key("partitioned"))).length >= 3);
      partitioned = true;
      b.executor.start();
      const run = await f.waitForRun("partitioned", "r1", 60_000);
      assert.equal(run.state, "success");
      const expected = Array.from({ length: 60 }, (_, i) => `line ${i + 1}\n`).join("");
      assert.equal((await readTryLog(f.ferry.logStore, key("partitioned"))).toString(), expected);
      const [tried] = await db.query<{ executor_id: string; log_bytes: string }>(`SELECT executor_id, log_bytes FROM task_tries WHERE pod_name LIKE 'partitioned-%'`);
      assert.equal(tried!.executor_id, b.executor.id);
      assert.equal(Number(tried!.log_bytes), expected.length);
    } finally {
      await b.stop();
      partitioned = false;
      await a.stop({ releaseLeases: false });
    }
  });

  it("a log store failure as a log copy starts does not wedge the try", async () => {
    const b = await extraExecutor(f);
    const store = f.ferry.logStore;
    const listChunks = store.listChunks.bind(store);
    let failed = 0;
    store.listChunks = async (k) => {
      if (k.dagId === "store_blip" && failed++ === 0) throw new Error("503 Slow Down");
      return listChunks(k);
    };
    b.executor.start();
    try {
      await push("store_blip", "echo hello; sleep 1; echo bye");
      const run = await f.waitForRun("store_blip", "r1", 30_000);
      assert.equal(run.state, "success");
      assert.equal((await f.api("GET", "/api/v1/dags/store_blip/runs/r1/tasks/t/logs")).text, "hello\nbye\n");
      assert.ok(failed >= 1, "the failure happened");
    } finally {
      store.listChunks = listChunks;
      await b.stop();
    }
  });

  it("a cancel after a create whose answer was lost leaves no Pod behind", async () => {
    const b = await extraExecutor(f);
    const core = f.ferry.kube.core;
    const create = core.createNamespacedPod.bind(core);
    let lost = 0;
    core.createNamespacedPod = (async (args: Parameters<typeof create>[0]) => {
      const pod = await create(args);
      if (lost++ === 0) throw new Error("socket hang up"); // created, but the answer never arrived
      return pod;
    }) as typeof create;
    b.executor.start();
    try {
      await push("lost_answer", "echo start; sleep 30; echo end");
      await waitFor("the lost create", async () => lost > 0);
      assert.equal((await f.api("POST", "/api/v1/dags/lost_answer/runs/r1/cancel")).status, 200);
      await waitFor("the try to be cleaned up", async () => {
        const [t] = await f.ferry.db.query<{ pod_reclaimed: boolean }>(`SELECT pod_reclaimed FROM task_tries WHERE pod_name LIKE 'lost-answer-%'`);
        return t?.pod_reclaimed;
      });
      const pods = await core.listNamespacedPod({ namespace: "default", labelSelector: `${POD_SELECTOR},ferry.dev/dag=lost_answer` });
      assert.deepEqual(pods.items.map((p) => p.metadata?.name), [], "no Pod left behind");
    } finally {
      core.createNamespacedPod = create;
      await b.stop();
    }
  });
});
