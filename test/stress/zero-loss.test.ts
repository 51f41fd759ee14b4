// Zero loss under load. More than a hundred tries run at once on one localkube: quiet and chatty,
// short and long, multi-MB, one huge line with no newline, bytes that are not UTF-8; some are cancelled
// 0-2 s after their Pod is created, some cleared and run again, some killed by their deadline, some by
// their memory limit, some evicted (and retried); and Ferry itself (API, scheduler and executor, one
// process) is SIGKILLed mid-way and started again. Every task also writes what it printed to a file on
// the host; every stored log must equal it byte for byte, the API must serve the same bytes, no Pod may
// be left and no try unfinished. localkube rotates container logs at the kubelet's default size
// (10 MiB); the resume across a rotation is tested on its own in test/executor/log-rotation.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../db/embedded.ts";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { connectKube } from "../../executor/kube.ts";
import { startLocalKube, type LocalKube } from "../../localkube/index.ts";
import { openLogStore, readTryLog, type LogStore } from "../../logstore/index.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { apiClient, TEST_TOKEN, waitFor } from "../support/ferry.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import { chunks } from "./printer.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, "../../bin/ferry.js");
const PRINTER = path.join(here, "printer.mjs");
const MiB = 1024 * 1024;

/** One kind of task in the main run: how it prints, how many of it, and what ends it. */
interface Kind {
  name: string;
  count: number;
  printer: [kind: string, n: number, ms: number, lingerMs?: number];
  options?: string;
  /** SIGKILL may land between a chunk's two writes, so the log may hold one chunk more than the file. */
  killed?: boolean;
}

const KINDS: Kind[] = [
  { name: "quiet", count: 30, printer: ["quiet", 0, 0] },
  { name: "ticker", count: 20, printer: ["ticker", 0, 150] }, // n varies per task: 20 to 115 lines
  { name: "mb", count: 6, printer: ["mb", 3 * MiB, 0] },
  { name: "hugeline", count: 2, printer: ["hugeline", 2 * MiB + 17, 0] },
  { name: "binary", count: 4, printer: ["binary", 512 * 1024 + 3, 0] },
  { name: "deadline", count: 6, printer: ["ticker", 400, 100], options: `timeout: "2s"` },
  { name: "oom", count: 4, printer: ["oom", 400, 50], options: `resources: { limits: { memory: "64Mi" } }`, killed: true },
  { name: "evicted", count: 5, printer: ["ticker", 60, 150], options: `retries: 1, retryDelay: "1s"`, killed: true },
  // Past its deadline it prints on for 6 s (its Pod already reports Failed; the grace period is 10 s) and
  // is retried at once (under this load a claim can take seconds, hence so long):
  // its next try must wait for that container to end.
  { name: "lingering", count: 4, printer: ["ticker", 400, 100, 6000], options: `timeout: "2s", retries: 1, retryDelay: "0s"` },
];
const CANCELLED = 15;
const CLEARED = 8;

function printerCommand(kind: string, seed: number, n: number, ms: number, out: string, lingerMs = 0): string {
  const file = `${out}/{{ dagId }}/{{ runId }}/{{ taskId }}/{{ tryNumber }}`;
  return JSON.stringify(["node", PRINTER, kind, file, String(seed), String(n), String(ms), String(lingerMs)]);
}

function mainDag(out: string): string {
  const tasks: string[] = [];
  let seed = 1;
  for (const k of KINDS) {
    for (let i = 0; i < k.count; i++, seed++) {
      const n = k.name === "ticker" ? 20 + 5 * i : k.printer[1];
      const opts = k.options ? `, ${k.options}` : "";
      tasks.push(`  podTask("${k.name}_${i}", { image: "node:20", command: ${printerCommand(k.printer[0], seed, n, k.printer[2], out, k.printer[3])}${opts} });`);
    }
  }
  return `import { dag, podTask } from "ferry";\nexport default dag("stress_main", { schedule: null }, () => {\n${tasks.join("\n")}\n});\n`;
}

function singleTaskDag(dagId: string, printer: [string, number, number], out: string): string {
  return `import { dag, podTask } from "ferry";
export default dag("${dagId}", { schedule: null, maxActiveRuns: 100 }, () => {
  podTask("work", { image: "node:20", command: ${printerCommand(printer[0], 999, printer[1], printer[2], out)} });
});
`;
}

function startFerryProcess(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let out = "";
  const child = spawn(process.execPath, [BIN, "start"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  return { child, output: () => out };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("zero log loss under load, cancels, kills and an executor crash", { timeout: 600_000 }, () => {
  let db: TestDb;
  let s3: TestS3;
  let lk: LocalKube;
  let dir: string;
  let store: LogStore;
  const ferries: ChildProcess[] = [];

  before(async () => {
    db = await createTestDb();
    s3 = await startS3();
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-stress-"));
    await chmod(dir, 0o755);
    lk = await startLocalKube({ dataDir: path.join(dir, "kube"), workerImage: "unused", workerCommand: ["false"] });
    await lk.writeKubeconfig(path.join(dir, "kubeconfig"));
    Object.assign(process.env, s3.env);
    store = openLogStore("s3://ferry-logs/stress");
  });

  after(async () => {
    for (const f of ferries) f.kill("SIGKILL");
    await Promise.all(ferries.map(exited));
    await lk?.close();
    await store?.close?.();
    await s3?.close();
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("stores every byte every task printed, exactly, and leaves nothing behind", async () => {
    const out = path.join(dir, "printed");
    const port = await freePort();
    const env = {
      ...s3.env,
      DATABASE_URL: db.url,
      FERRY_DATA_DIR: path.join(dir, "ferry"),
      FERRY_PORT: String(port),
      FERRY_KUBE: "kubeconfig",
      KUBECONFIG: path.join(dir, "kubeconfig"),
      FERRY_API_TOKEN: TEST_TOKEN,
      FERRY_LOG_STORE: "s3://ferry-logs/stress",
      FERRY_MAX_RUNNING_TASKS: "150",
      FERRY_LOG_FLUSH_INTERVAL_MS: "500",
    };
    const url = `http://127.0.0.1:${port}`;
    const api = apiClient(url);
    /** The API may be down (Ferry restarting): try until it answers. */
    const apiWhenUp = async (method: string, route: string, body?: unknown) => {
      for (;;) {
        try {
          return await api(method, route, body);
        } catch {
          await sleep(250);
        }
      }
    };

    let ferry = startFerryProcess(env);
    ferries.push(ferry.child);
    await waitFor("Ferry to start", async () => ferry.output().includes("Ferry is running"), 90_000);
    for (const source of [
      mainDag(out),
      singleTaskDag("stress_cancel", ["ticker", 200, 100], out),
      singleTaskDag("stress_clear", ["ticker", 12, 50], out),
    ]) {
      const res = await api("POST", "/api/v1/dags", source);
      assert.equal(res.status, 201, res.text);
    }

    // Random cancels 0-2 s after each target's Pod is created, and evictions of running Pods.
    const kube = connectKube({ kind: "kubeconfig-text", text: lk.kubeconfig() }, "default");
    const scheduled = new Set<string>();
    const actions: Promise<unknown>[] = [];
    const cancels: Promise<unknown>[] = [];
    let watching = true;
    const watchPods = (async () => {
      while (watching) {
        const pods = await kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR }).catch(() => null);
        for (const pod of pods?.items ?? []) {
          const name = pod.metadata!.name!;
          const runId = pod.metadata!.annotations!["ferry.dev/run"]!;
          const taskId = pod.metadata!.annotations!["ferry.dev/task"]!;
          const dagId = pod.metadata!.annotations!["ferry.dev/dag"]!;
          const tryNumber = pod.metadata!.annotations!["ferry.dev/try"];
          if (scheduled.has(name)) continue;
          if (dagId === "stress_cancel") {
            scheduled.add(name);
            const delay = Math.random() * 2000;
            cancels.push(
              sleep(delay).then(async () => {
                const res = await apiWhenUp("POST", `/api/v1/dags/stress_cancel/runs/${runId}/cancel`);
                assert.equal(res.status, 200, `cancel ${runId}: ${res.text}`);
              }),
            );
          } else if (taskId.startsWith("evicted_") && tryNumber === "1" && pod.status?.phase === "Running") {
            scheduled.add(name);
            actions.push(sleep(300 + Math.random() * 2500).then(() => lk.faults.evict("default", name).catch(() => {})));
          }
        }
        await sleep(50);
      }
    })();

    assert.equal((await api("POST", "/api/v1/dags/stress_main/runs", { runId: "main" })).status, 201);
    for (let i = 0; i < CANCELLED; i++) assert.equal((await api("POST", "/api/v1/dags/stress_cancel/runs", { runId: `c${i}` })).status, 201);
    for (let i = 0; i < CLEARED; i++) assert.equal((await api("POST", "/api/v1/dags/stress_clear/runs", { runId: `k${i}` })).status, 201);

    // Kill Ferry once the multi-MB copies are done and every cancel was answered, with tickers still running.
    await waitFor("every cancel target's Pod", async () => cancels.length === CANCELLED, 120_000);
    await Promise.all(cancels);
    await waitFor(
      "the large outputs to be stored and the cancels sent",
      async () => {
        for (const k of KINDS.filter((k) => ["mb", "hugeline", "binary"].includes(k.name))) {
          for (let i = 0; i < k.count; i++) {
            const t = (await api("GET", `/api/v1/dags/stress_main/runs/main/tasks/${k.name}_${i}`)).body;
            if (!t?.tries?.[0]?.logFinishedAt) return false;
          }
        }
        return true;
      },
      180_000,
    );
    ferry.child.kill("SIGKILL");
    await exited(ferry.child);
    ferry = startFerryProcess(env);
    ferries.push(ferry.child);
    await waitFor("Ferry to start again", async () => ferry.output().includes("Ferry is running"), 90_000);

    // Clear each cleared run's task once its first try has ended: a second try runs.
    const cleared = new Set<string>();
    await waitFor(
      "every run to finish",
      async () => {
        const runs = [
          ...(await apiWhenUp("GET", "/api/v1/dags/stress_main/runs?limit=100")).body.runs,
          ...(await apiWhenUp("GET", "/api/v1/dags/stress_cancel/runs?limit=100")).body.runs,
          ...(await apiWhenUp("GET", "/api/v1/dags/stress_clear/runs?limit=100")).body.runs,
        ];
        for (const r of runs) {
          if (r.dagId === "stress_clear" && r.state === "success" && !cleared.has(r.runId)) {
            const res = await apiWhenUp("POST", `/api/v1/dags/stress_clear/runs/${r.runId}/tasks/work/clear`);
            if (res.status === 200) cleared.add(r.runId);
          }
        }
        const done = runs.filter((r) => ["success", "failed", "cancelled"].includes(r.state));
        return done.length === runs.length && cleared.size === CLEARED;
      },
      300_000,
    );
    watching = false;
    await watchPods;
    await Promise.all(actions);

    await waitFor(
      "every try to be finished and its Pod reclaimed",
      async () => {
        const [open] = await db.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_tries WHERE ended_at IS NULL OR NOT pod_reclaimed`);
        return open!.n === 0;
      },
      120_000,
    ).catch(async (err: Error) => {
      // Say which tries are stuck and what Ferry said about their Pods, so a failure can be diagnosed.
      const open = await db.db.query<{ pod_name: string }>(
        `SELECT pod_name, state, ended_at, log_complete, log_finished_at, pod_reclaimed FROM task_tries WHERE ended_at IS NULL OR NOT pod_reclaimed`,
      );
      const said = ferry.output().split("\n").filter((l) => open.some((t) => l.includes(t.pod_name)));
      throw new Error(`${err.message}\n${JSON.stringify(open, null, 1)}\n${said.slice(-40).join("\n")}`);
    });
    const pods = await kube.core.listNamespacedPod({ namespace: "default" });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name), [], "no Pod is left behind");

    const tries = await db.db.query<{ dag_id: string; run_id: string; task_id: string; try_number: number; state: string; reason: string | null; log_complete: boolean }>(
      `SELECT r.dag_id, r.run_id, ti.task_id, t.try_number, t.state, t.reason, t.log_complete
         FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk
        ORDER BY 1, 2, 3, 4`,
    );
    assert.ok(tries.length >= 100, `at least 100 tries ran (${tries.length})`);
    const problems: string[] = [];
    for (const t of tries) {
      const where = `${t.dag_id}/${t.run_id}/${t.task_id}/${t.try_number}`;
      const printed = await readFile(path.join(out, t.dag_id, t.run_id, t.task_id, String(t.try_number))).catch(() => Buffer.alloc(0));
      const stored = await readTryLog(store, { dagId: t.dag_id, runId: t.run_id, taskId: t.task_id, tryNumber: t.try_number });
      const kind = KINDS.find((k) => t.task_id.startsWith(`${k.name}_`));
      if (!t.log_complete) problems.push(`${where}: log not complete`);
      if (kind?.killed && t.try_number === 1) {
        // Killed with SIGKILL: the log may hold the one chunk written to stdout but not yet to the file.
        const ok = stored.subarray(0, printed.length).equals(printed) && stored.length - printed.length <= 64;
        if (!ok) problems.push(`${where}: stored ${stored.length} bytes, printed ${printed.length}; not the printed bytes plus at most the chunk being written`);
      } else if (!stored.equals(printed)) {
        const events = (await api("GET", `/api/v1/dags/${t.dag_id}/runs/${t.run_id}/tasks/${t.task_id}/events?try=${t.try_number}`)).body?.events ?? [];
        problems.push(
          `${where} (${t.state} ${t.reason}): stored ${stored.length} bytes, printed ${printed.length}, first difference at ${firstDifference(stored, printed)}; ` +
            `events: ${events.map((e: any) => `${e.reason}: ${e.message}`).join(" | ")}`,
        );
      }
      // Binary-safe: the API's bytes, not its text.
      const served = await fetch(`${url}/api/v1/dags/${t.dag_id}/runs/${t.run_id}/tasks/${t.task_id}/logs?try=${t.try_number}`, {
        headers: { authorization: `Bearer ${TEST_TOKEN}` },
      });
      if (!Buffer.from(await served.arrayBuffer()).equals(stored)) problems.push(`${where}: the API serves other bytes than the store holds (status ${served.status})`);
    }
    assert.deepEqual(problems, [], "every try's stored log equals what its task printed");

    // One try at a time: a retry's or a clear's try was made only once the try before it had ended and
    // its log was safe (its container gone), through the cancels, deadlines, evictions and the kill.
    const overlapping = await db.db.query<{ pod_name: string; created_at: Date; before_finished: Date | null }>(
      `SELECT t.pod_name, t.created_at, p.log_finished_at AS before_finished
         FROM task_tries t JOIN task_tries p ON p.task_instance_id = t.task_instance_id AND p.try_number = t.try_number - 1
        WHERE p.log_finished_at IS NULL OR t.created_at < p.log_finished_at`,
    );
    const [{ n: retried }] = await db.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_tries WHERE try_number > 1`);
    assert.ok(retried >= CLEARED, `tries after the first were made (${retried})`);
    assert.deepEqual(overlapping, [], "no try was made while the one before it could still be running");

    // Each kind ended the way it was made to.
    const byTask = (prefix: string) => tries.filter((t) => t.dag_id === "stress_main" && t.task_id.startsWith(prefix));
    for (const t of byTask("deadline_")) assert.equal(t.reason, "DeadlineExceeded", `${t.task_id}`);
    assert.equal(byTask("lingering_").length, 2 * 4, "each lingering task ran its two tries");
    for (const t of byTask("lingering_")) assert.equal(t.reason, "DeadlineExceeded", `${t.task_id} try ${t.try_number}`);
    for (const t of byTask("oom_")) assert.equal(t.reason, "OOMKilled", `${t.task_id}`);
    for (const t of byTask("evicted_")) {
      if (t.try_number === 1) assert.equal(t.reason, "Evicted", `${t.task_id} try 1`);
      else assert.equal(t.state, "success", `${t.task_id} retried after its eviction`);
    }
    for (const t of tries.filter((t) => t.dag_id === "stress_cancel")) assert.equal(t.state, "cancelled", `${t.run_id}`);
    const clearTries = tries.filter((t) => t.dag_id === "stress_clear");
    assert.equal(clearTries.length, 2 * CLEARED, "each cleared task ran twice");
    for (const t of clearTries) assert.equal(t.state, "success");
    for (const t of byTask("quiet_").concat(byTask("ticker_"), byTask("mb_"), byTask("hugeline_"), byTask("binary_"))) assert.equal(t.state, "success", t.task_id);
    // What the generators say they print is what was stored, for the kinds that ran to their end.
    const first = KINDS.findIndex((k) => k.name === "mb");
    const mb = await readTryLog(store, { dagId: "stress_main", runId: "main", taskId: "mb_0", tryNumber: 1 });
    const seed = 1 + KINDS.slice(0, first).reduce((n, k) => n + k.count, 0);
    assert.ok(mb.equals(Buffer.concat([...chunks("mb", seed, 3 * MiB)])), "a multi-MB log is exactly the generator's output");
  });
});

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
