// Several Ferrys, no leader. Three real `ferry start` processes (each API, scheduler and executor, each
// on its own port and data folder) share one database and one cluster (a localkube in instant mode,
// started by this test, whose Pods finish at once). One DAG of 10 pod tasks runs every second from a
// cron schedule, 50 runs in all (the first 20 as catch-up, the rest as their ticks come). Every task
// must run exactly once, in one try with one Pod; no run may be created twice; and every process must
// have done part of the work: its executor ran tries, and more than one scheduler created and finished
// runs (each scheduler logs what it did).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../../bin/build.js";
import { freePort } from "../../db/embedded.ts";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { connectKube } from "../../executor/kube.ts";
import { startLocalKube, type LocalKube } from "../../localkube/index.ts";
import { dagFile } from "../support/api.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { apiClient, TEST_TOKEN, waitFor } from "../support/ferry.ts";

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bin/ferry.js");
const PROCESSES = 3;
const RUNS = 50;
const CATCH_UP = 20;
const TASKS = 10;

/** t0, then t1..t8 after it, then t9 after all of those. */
function dagSource(start: Date, end: Date): string {
  const cmd = `image: "busybox", command: ["sh", "-c", "true"]`;
  const body = [
    `  const first = podTask("t0", { ${cmd} });`,
    `  const middle = [${Array.from({ length: TASKS - 2 }, (_, i) => `podTask("t${i + 1}", { ${cmd}, dependsOn: [first] })`).join(", ")}];`,
    `  podTask("t${TASKS - 1}", { ${cmd}, dependsOn: middle });`,
  ].join("\n");
  return dagFile(
    "every_second",
    body,
    `schedule: "* * * * * *", start: ${JSON.stringify(start.toISOString())}, end: ${JSON.stringify(end.toISOString())}, catchup: true, maxActiveRuns: ${RUNS}`,
  );
}

interface FerryProcess {
  child: ChildProcess;
  output: () => string;
  /** The JSON records of its log (stderr). */
  records: () => Array<Record<string, unknown>>;
}

function startFerryProcess(env: Record<string, string>): FerryProcess {
  let out = "";
  let err = "";
  const child = spawn(process.execPath, [BIN, "start"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (err += c));
  return {
    child,
    output: () => out + err,
    records: () =>
      err.split("\n").flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
  };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

describe("three Ferrys on one database and one cluster, no leader", { timeout: 240_000 }, () => {
  let db: TestDb;
  let lk: LocalKube;
  let dir: string;
  const ferries: FerryProcess[] = [];

  before(async () => {
    // The three processes run dist/: build it now if it is stale, rather than in each one as it starts.
    await ensureBuilt({ quiet: true });
    db = await createTestDb();
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-several-"));
    await chmod(dir, 0o755);
    // Instant Pods: 500 of them cost localkube next to nothing, so the test measures Ferry. Events are
    // kept long enough to count every Pod's Scheduled event at the end.
    lk = await startLocalKube({ dataDir: path.join(dir, "kube"), workerImage: "unused", workerCommand: ["false"], instant: true, eventRetentionSeconds: 3600 });
    await lk.writeKubeconfig(path.join(dir, "kubeconfig"));
  });

  after(async () => {
    for (const f of ferries) f.child.kill("SIGKILL");
    await Promise.all(ferries.map((f) => exited(f.child)));
    await lk?.close();
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs every task of 50 cron runs exactly once, each run created once, the work shared by all three", async () => {
    const urls: string[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      const port = await freePort();
      urls.push(`http://127.0.0.1:${port}`);
      ferries.push(
        startFerryProcess({
          DATABASE_URL: db.url,
          FERRY_DATA_DIR: path.join(dir, `ferry-${i}`),
          FERRY_PORT: String(port),
          FERRY_KUBE: "kubeconfig",
          KUBECONFIG: path.join(dir, "kubeconfig"),
          FERRY_API_TOKEN: TEST_TOKEN,
          FERRY_LOG_STORE: `file://${path.join(dir, "logs")}`,
          FERRY_LOG_FORMAT: "json",
          FERRY_LOG_LEVEL: "info",
        }),
      );
    }
    for (const [i, f] of ferries.entries()) {
      await waitFor(`Ferry ${i} to start`, async () => f.output().includes("Ferry is running") || f.child.exitCode !== null, 90_000);
      assert.match(f.output(), /Ferry is running/, f.output());
    }
    const apis = urls.map(apiClient);

    // 50 ticks, one a second: the first 20 are past (caught up at once), the other 30 come one by one.
    const start = new Date(Math.floor(Date.now() / 1000) * 1000 - CATCH_UP * 1000);
    const end = new Date(start.getTime() + (RUNS - 1) * 1000);
    const posted = await apis[1]!("POST", "/api/v1/dags", dagSource(start, end));
    assert.equal(posted.status, 201, posted.text);

    await waitFor(
      "every run to finish and every Pod to be reclaimed",
      async () => {
        const [r] = await db.db.query<{ runs: number; done: number; open: number }>(
          `SELECT (SELECT count(*)::int FROM dag_runs) AS runs,
                  (SELECT count(*)::int FROM dag_runs WHERE state IN ('success', 'failed', 'cancelled')) AS done,
                  (SELECT count(*)::int FROM task_tries WHERE ended_at IS NULL OR NOT pod_reclaimed OR log_finished_at IS NULL) AS open`,
        );
        return r!.runs >= RUNS && r!.done === r!.runs && r!.open === 0 && end.getTime() < Date.now() - 2000;
      },
      150_000,
    );

    // No run created twice: one run per tick, each tick once, nothing else.
    const runs = await db.db.query<{ run_id: string; run_type: string; logical_date: Date; state: string }>(
      `SELECT run_id, run_type, logical_date, state FROM dag_runs WHERE dag_id = 'every_second' ORDER BY logical_date, id`,
    );
    const ticks = Array.from({ length: RUNS }, (_, i) => new Date(start.getTime() + i * 1000).toISOString());
    assert.deepEqual(
      runs.map((r) => r.logical_date.toISOString()),
      ticks,
      "exactly one run per tick, from start to end",
    );
    for (const r of runs) {
      assert.equal(r.run_type, "scheduled");
      assert.equal(r.run_id, `scheduled__${r.logical_date.toISOString()}`);
      assert.equal(r.state, "success", `run ${r.run_id}`);
    }

    // Every task ran once: one try each, successful, with its own Pod.
    const tries = await db.db.query<{ run_id: string; task_id: string; try_number: number; state: string; pod_name: string; executor_id: string; instance_state: string; instance_tries: number }>(
      `SELECT r.run_id, ti.task_id, t.try_number, t.state, t.pod_name, t.executor_id, ti.state AS instance_state, ti.try_number AS instance_tries
         FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk LEFT JOIN task_tries t ON t.task_instance_id = ti.id
        ORDER BY r.run_id, ti.task_id, t.try_number`,
    );
    assert.equal(tries.length, RUNS * TASKS, "one try per task, none missing, none extra");
    const badTries = tries.filter((t) => t.try_number !== 1 || t.state !== "success" || t.instance_state !== "success" || t.instance_tries !== 1);
    assert.deepEqual(badTries, [], "every task succeeded in its first and only try");

    // One Pod per try: localkube records a Scheduled event for each Pod it creates (a Pod created again
    // under the same name would have a second uid).
    const kube = connectKube({ kind: "kubeconfig-text", text: lk.kubeconfig() }, "default");
    const events = await kube.core.listNamespacedEvent({ namespace: "default" });
    const uidsByPod = new Map<string, Set<string>>();
    let scheduled = 0;
    for (const e of events.items) {
      if (e.reason !== "Scheduled") continue;
      scheduled += e.count ?? 1;
      const name = e.involvedObject.name!;
      if (!uidsByPod.has(name)) uidsByPod.set(name, new Set());
      uidsByPod.get(name)!.add(e.involvedObject.uid!);
    }
    assert.deepEqual([...uidsByPod.keys()].sort(), tries.map((t) => t.pod_name).sort(), "a Pod was created for each try, and for nothing else");
    assert.deepEqual([...uidsByPod.entries()].filter(([, uids]) => uids.size !== 1), [], "each Pod was created once");
    assert.equal(scheduled, RUNS * TASKS, "each Pod was scheduled once");
    const left = await kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
    assert.deepEqual(left.items.map((p) => p.metadata?.name), [], "no Pod is left behind");

    // Each process did part of the work. An executor's id is <hostname>-<pid>-<random>.
    const pids = ferries.map((f) => f.child.pid!);
    const triesByPid = new Map(pids.map((pid) => [pid, 0]));
    for (const t of tries) {
      const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(t.executor_id)?.[1]);
      assert.ok(triesByPid.has(pid), `try ${t.pod_name} was run by one of the three (${t.executor_id})`);
      triesByPid.set(pid, triesByPid.get(pid)! + 1);
    }
    const created = ferries.map((f) =>
      f.records().filter((r) => r.msg === "created scheduled runs").reduce((n, r) => n + Number(r.count), 0),
    );
    const finished = ferries.map((f) => f.records().filter((r) => typeof r.msg === "string" && /^run every_second\/\S+ success$/.test(r.msg)).length);
    const shares = `tries per executor ${JSON.stringify([...triesByPid.values()])}, runs created per scheduler ${JSON.stringify(created)}, runs finished per scheduler ${JSON.stringify(finished)}`;
    console.log(shares);
    for (const [pid, n] of triesByPid) assert.ok(n > 0, `the executor of process ${pid} ran tries: ${shares}`);
    assert.equal(created.reduce((a, b) => a + b, 0), RUNS, `the schedulers' logs account for every run: ${shares}`);
    assert.ok(created.filter((n) => n > 0).length >= 2, `more than one scheduler created runs: ${shares}`);
    assert.equal(finished.reduce((a, b) => a + b, 0), RUNS, `the schedulers' logs account for every run's end: ${shares}`);
    assert.ok(finished.filter((n) => n > 0).length >= 2, `more than one scheduler planned runs to their end: ${shares}`);

    for (const f of ferries) f.child.kill("SIGTERM");
    await Promise.all(ferries.map((f) => exited(f.child)));
    for (const f of ferries) assert.equal(f.child.exitCode, 0, `a clean shutdown on SIGTERM: ${f.output().slice(-2000)}`);
  });
});
