// Chaos. A few hundred pod tasks (six runs of a 45-task DAG in three layers, triggered 15 s apart; short
// tasks and ones that run a few seconds, each printing lines that name its run, task and try, and how
// many bytes it printed) run on a separate `ferry localkube` that injects faults (5% of API requests
// answer 500, 5% 429 with a Retry-After; watches are cut every 10 s, and a resumed watch expires), while
// `ferry start` is SIGKILLed five times, each 10-25 s after it was started (or, if no try is in flight
// then, as soon as one is), and started again each time. At the end: every task succeeded (a failed try
// is allowed only for a reason outside the task, not counted, and retried), no try ever had two Pods
// (localkube's Scheduled events, collected while the test runs, name one Pod uid per Pod name), no Pod is
// left, every try's log is complete and equal, byte for byte, to what its task printed (read through the
// API), and the kills caught tries in flight (later Ferrys adopted them).
//
// The kill times come from a seeded PRNG: the seed is printed, and FERRY_CHAOS_SEED runs it again with
// another (or the same) one. localkube's fault dice are not seeded (`ferry localkube` takes no seed).
// Every Ferry here runs one frozen copy of dist/ (bin/, dist/, package.json, node_modules linked): in a
// checkout, bin/ferry.js rebuilds dist/ when a source changed, and a restart mid-test must not pick up
// someone's edit or spend its time building.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../../bin/build.js";
import { freePort } from "../../db/embedded.ts";
import { connectKube, type Kube } from "../../executor/kube.ts";
import { POD_SELECTOR } from "../../executor/pod-names.ts";
import { prng } from "../../localkube/faults.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { apiClient, TEST_TOKEN, waitFor } from "../support/ferry.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SEED = process.env.FERRY_CHAOS_SEED ? Number(process.env.FERRY_CHAOS_SEED) : 20240917;
if (!Number.isSafeInteger(SEED)) throw new Error(`FERRY_CHAOS_SEED must be a whole number, got ${process.env.FERRY_CHAOS_SEED}`);
const FAULTS = { errorRate: 0.05, throttleRate: 0.05, retryAfterSeconds: 1, watchCutAfterSeconds: 10, expireOnResume: true };
const RUNS = 6;
/** The DAG's layers: each task of a layer after two of the one before; a run takes about half a minute. */
const LAYERS = [15, 15, 15];
const KILLS = 5;
/** Run k is triggered this long (ms) after the first Ferry took the DAG, so two runs overlap most of the time. */
const RUN_EVERY = 15_000;
/** Each kill comes this long (ms) after the Ferry it kills was started. */
const KILL_AFTER: [number, number] = [10_000, 25_000];

interface TaskSpec {
  id: string;
  /** The lines between the first and the last, with a second's sleep between them for a long task. */
  body: string[];
  long: boolean;
  dependsOn: string[];
}

function taskSpecs(): TaskSpec[] {
  const specs: TaskSpec[] = [];
  let i = 0;
  for (const [layer, size] of LAYERS.entries()) {
    const name = (j: number) => `${"abcdefgh"[layer]}${j}`;
    for (let j = 0; j < size; j++, i++) {
      const long = i % 3 === 1; // a third run 3-7 s
      const lines = long ? 3 + (i % 5) : 1 + (i % 3);
      const body = Array.from({ length: lines }, (_, k) => `${name(j)} line ${k + 1} ${"x".repeat((i * 7 + k * 13) % 60)}`);
      const before = LAYERS[layer - 1];
      const dependsOn = before ? [...new Set([(j * 3) % before, (j * 5 + 1) % before])].map((d) => `${"abcdefgh"[layer - 1]}${d}`) : [];
      specs.push({ id: name(j), body, long, dependsOn });
    }
  }
  return specs;
}

const firstLine = (runId: string, taskId: string, tryNumber: number | string) => `chaos ${runId} ${taskId} try ${tryNumber}`;
const lastLine = (t: TaskSpec) => `${t.id} printed ${Buffer.byteLength(t.body.map((l) => `${l}\n`).join(""))} bytes of lines`;

/** What the task prints in the given try: its own run, task and try, its lines, and how many bytes they were. */
function expectedLog(t: TaskSpec, runId: string, tryNumber: number): Buffer {
  return Buffer.from([firstLine(runId, t.id, tryNumber), ...t.body, lastLine(t)].map((l) => `${l}\n`).join(""));
}

function dagSource(specs: TaskSpec[]): string {
  const echo = (s: string) => `echo '${s}'`;
  const lines = specs.map((t) => {
    const script = [
      echo(firstLine("{{ runId }}", t.id, "{{ tryNumber }}")),
      ...t.body.flatMap((l, j) => (t.long && j > 0 ? ["sleep 1", echo(l)] : [echo(l)])),
      ...(t.long ? ["sleep 1"] : []),
      echo(lastLine(t)),
    ].join("; ");
    const deps = t.dependsOn.length ? `, dependsOn: [${t.dependsOn.map((d) => `t_${d}`).join(", ")}]` : "";
    return `  const t_${t.id} = podTask(${JSON.stringify(t.id)}, { image: "busybox", command: ["sh", "-c", ${JSON.stringify(script)}]${deps} });`;
  });
  return `import { dag, podTask } from "ferry";
export default dag("chaos", { schedule: null, maxActiveRuns: 3 }, () => {
${lines.join("\n")}
});
`;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
}

function startProc(bin: string, args: string[], env: Record<string, string>): Proc {
  let out = "";
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  return { child, output: () => out };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** bin/, dist/ and package.json with the checkout's node_modules: no sources, so bin/ferry.js never rebuilds. */
async function frozenCopy(dir: string): Promise<string> {
  await ensureBuilt({ quiet: true });
  await mkdir(path.join(dir, "bin"), { recursive: true });
  for (const f of ["ferry.js", "build.js"]) await cp(path.join(ROOT, "bin", f), path.join(dir, "bin", f));
  await cp(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  await cp(path.join(ROOT, "dist"), path.join(dir, "dist"), { recursive: true });
  await symlink(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return path.join(dir, "bin", "ferry.js");
}

/** Every Pod localkube said it scheduled: Pod name to the uids its Scheduled events named, and how many events. */
class ScheduledPods {
  readonly uids = new Map<string, Set<string>>();
  /** Scheduled event uid to its count (a repeat of the same event would bump its count). */
  private readonly events = new Map<string, number>();
  polls = 0;
  failedPolls = 0;

  constructor(private readonly kube: Kube) {}

  async poll(): Promise<void> {
    let list;
    try {
      list = await this.kube.core.listNamespacedEvent({ namespace: "default" });
    } catch {
      this.failedPolls++;
      return;
    }
    this.polls++;
    for (const e of list.items) {
      if (e.reason !== "Scheduled") continue;
      const name = e.involvedObject.name!;
      if (!this.uids.has(name)) this.uids.set(name, new Set());
      this.uids.get(name)!.add(e.involvedObject.uid!);
      this.events.set(e.metadata.uid!, Math.max(this.events.get(e.metadata.uid!) ?? 0, e.count ?? 1));
    }
  }

  get scheduled(): number {
    let n = 0;
    for (const c of this.events.values()) n += c;
    return n;
  }
}

describe("chaos: Ferry SIGKILLed again and again on a faulty cluster", { timeout: 900_000 }, () => {
  let db: TestDb;
  let dir: string;
  let localkube: Proc | undefined;
  const ferries: Proc[] = [];

  before(async () => {
    db = await createTestDb();
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-chaos-"));
    await chmod(dir, 0o755);
  });

  after(async () => {
    for (const f of ferries) f.child.kill("SIGKILL");
    await Promise.all(ferries.map((f) => exited(f.child)));
    if (localkube) {
      localkube.child.kill("SIGTERM");
      await exited(localkube.child);
    }
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs every task to success, one Pod per try, every log complete and exact, nothing left", async () => {
    const t0 = Date.now();
    const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    console.log(`chaos seed ${SEED} (FERRY_CHAOS_SEED=${SEED} repeats these kill times)`);
    const random = prng(SEED);
    const bin = await frozenCopy(path.join(dir, "app"));
    console.log(`${elapsed()}: dist/ built and copied`);

    const kubePort = await freePort();
    localkube = startProc(bin, ["localkube", "--port", String(kubePort)], {
      FERRY_DATA_DIR: path.join(dir, "kube"),
      FERRY_LOCALKUBE_FAULTS: JSON.stringify(FAULTS),
    });
    const kubeconfig = path.join(dir, "kube", "kubeconfig");
    await waitFor("localkube to write its kubeconfig", async () => localkube!.output().includes("kubeconfig") || localkube!.child.exitCode !== null, 90_000);
    assert.match(localkube.output(), /serving the Kubernetes API/, localkube.output());
    const kube = connectKube({ kind: "kubeconfig-text", text: await readFile(kubeconfig, "utf8") }, "default");

    // localkube keeps a deleted Pod's events for 60 s: collect the Scheduled events every 2 s meanwhile.
    const pods = new ScheduledPods(kube);
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await pods.poll();
        await sleep(2000);
      }
    })();

    const port = await freePort();
    const env = {
      DATABASE_URL: db.url,
      FERRY_DATA_DIR: path.join(dir, "ferry"),
      FERRY_PORT: String(port),
      FERRY_KUBE: "kubeconfig",
      KUBECONFIG: kubeconfig,
      FERRY_API_TOKEN: TEST_TOKEN,
      FERRY_LOG_STORE: `file://${path.join(dir, "logs")}`,
      FERRY_LOG_FORMAT: "json",
      FERRY_LOG_LEVEL: "info",
      FERRY_MAX_RUNNING_TASKS: "64",
    };
    const api = apiClient(`http://127.0.0.1:${port}`);
    const allOutput = () => ferries.map((f, i) => `--- ferry ${i} (pid ${f.child.pid}) ---\n${f.output()}`).join("\n");
    /** Keeps every process's output in a file outside the test's folder (removed at the end); returns its path. */
    const keepOutput = async () => {
      const file = path.join(os.tmpdir(), `ferry-chaos-${SEED}-${Date.now()}.log`);
      await writeFile(file, `${allOutput()}\n--- localkube ---\n${localkube!.output()}`);
      return file;
    };
    /** What the Ferrys said about these Pods, each line prefixed by the number of the Ferry that said it. */
    const saidAbout = (names: string[]) =>
      ferries
        .flatMap((f, i) => f.output().split("\n").filter((l) => names.some((n) => l.includes(n))).map((l) => `[${i}] ${l}`))
        .slice(-80)
        .join("\n");
    const startFerry = () => {
      const f = startProc(bin, ["start"], env);
      ferries.push(f);
      return f;
    };

    let ferry = startFerry();
    await waitFor("Ferry to start", async () => ferry.output().includes("Ferry is running") || ferry.child.exitCode !== null, 120_000);
    assert.match(ferry.output(), /Ferry is running/, ferry.output());
    const specs = taskSpecs();
    const posted = await api("POST", "/api/v1/dags", dagSource(specs));
    assert.equal(posted.status, 201, posted.text);
    console.log(`${elapsed()}: Ferry is running and has the DAG`);
    const workStart = Date.now();
    const runIds = Array.from({ length: RUNS }, (_, r) => `run${r + 1}`);

    // The runs are triggered one by one, RUN_EVERY apart, so work goes on through every kill; the API
    // may be down meanwhile (Ferry restarting): a trigger is sent again until it is answered.
    const triggers = (async () => {
      for (const [r, runId] of runIds.entries()) {
        await sleep(Math.max(0, workStart + r * RUN_EVERY - Date.now()));
        for (;;) {
          const res = await api("POST", "/api/v1/dags/chaos/runs", { runId }).catch(() => null);
          // 409: an earlier trigger made the run, but Ferry was killed before it answered.
          if (res?.status === 201 || res?.status === 409) break;
          if (res && res.status < 500) throw new Error(`trigger ${runId}: ${res.status} ${res.text}`);
          await sleep(500);
        }
        console.log(`${elapsed()}: triggered ${runId}`);
      }
    })();

    /** Tries not done yet (outcome, log or Pod), and whether every run was triggered and has ended. */
    let triggered = false;
    // (A failed trigger is reported where `triggers` is awaited, below, not as an unhandled rejection.)
    triggers.then(() => (triggered = true), () => {});
    const work = async () => {
      const [w] = await db.db.query<{ open: number; runs: number; ended: number }>(
        `SELECT (SELECT count(*)::int FROM task_tries WHERE ended_at IS NULL OR NOT pod_reclaimed OR log_finished_at IS NULL) AS open,
                (SELECT count(*)::int FROM dag_runs) AS runs,
                (SELECT count(*)::int FROM dag_runs WHERE state IN ('success', 'failed', 'cancelled')) AS ended`,
      );
      return { open: w!.open, allDone: triggered && w!.runs === RUNS && w!.ended === RUNS };
    };

    // Kill at random moments, each 10-25 s after the Ferry it kills was started, and start a new one. A
    // kill whose moment comes while no try is in flight (the machine is fast, the next run is not
    // triggered yet) waits for one, so each kill catches work; none is left once all the work is done.
    const crashed: string[] = [];
    let kills = 0;
    let startedAt = Date.now();
    for (let k = 1; k <= KILLS; k++) {
      const wait = KILL_AFTER[0] + Math.floor(random() * (KILL_AFTER[1] - KILL_AFTER[0]));
      await sleep(Math.max(0, startedAt + wait - Date.now()));
      let w = await work();
      while (w.open === 0 && !w.allDone) {
        await sleep(100);
        w = await work();
      }
      if (w.allDone) break;
      if (ferry.child.exitCode !== null) crashed.push(`Ferry ${ferries.length - 1} exited by itself (code ${ferry.child.exitCode}) before kill ${k}`);
      ferry.child.kill("SIGKILL");
      await exited(ferry.child);
      kills++;
      const [progress] = await db.db.query<{ done: number; tries: number }>(
        `SELECT (SELECT count(*)::int FROM task_instances WHERE state = 'success') AS done, (SELECT count(*)::int FROM task_tries) AS tries`,
      );
      console.log(
        `${elapsed()}: kill ${k} of ${KILLS}, ${Date.now() - startedAt} ms after its start (drawn: ${wait} ms), ${w.open} tries in flight ` +
          `(${progress!.done} tasks done, ${progress!.tries} tries so far)`,
      );
      ferry = startFerry();
      startedAt = Date.now();
    }
    await triggers;

    await waitFor(
      "every run to finish and every try to be done with its log and its Pod",
      async () => {
        const [r] = await db.db.query<{ runs: number; done: number; open: number }>(
          `SELECT (SELECT count(*)::int FROM dag_runs) AS runs,
                  (SELECT count(*)::int FROM dag_runs WHERE state IN ('success', 'failed', 'cancelled')) AS done,
                  (SELECT count(*)::int FROM task_tries WHERE ended_at IS NULL OR NOT pod_reclaimed OR log_finished_at IS NULL) AS open`,
        );
        return r!.runs === RUNS && r!.done === RUNS && r!.open === 0;
      },
      420_000,
    ).catch(async (err: Error) => {
      const open = await db.db.query<{ pod_name: string }>(
        `SELECT pod_name, state, reason, ended_at, log_complete, log_finished_at, pod_reclaimed, executor_id, lease_until FROM task_tries
          WHERE ended_at IS NULL OR NOT pod_reclaimed OR log_finished_at IS NULL`,
      );
      const runs = await db.db.query(`SELECT run_id, state FROM dag_runs ORDER BY run_id`);
      const file = await keepOutput();
      throw new Error(`${err.message}\nruns: ${JSON.stringify(runs)}\nopen tries: ${JSON.stringify(open, null, 1)}\n${saidAbout(open.map((t) => t.pod_name))}\n(all output: ${file})`);
    });
    console.log(`${elapsed()}: every run finished`);
    await sleep(2500); // one more poll of the events, after the last Pod was deleted
    polling = false;
    await poller;
    await pods.poll();

    const problems: string[] = [...crashed];
    if (kills < 3) problems.push(`only ${kills} kills landed before the work was done`);

    // Every run and every task succeeded.
    const runs = await db.db.query<{ run_id: string; state: string }>(`SELECT run_id, state FROM dag_runs WHERE dag_id = 'chaos' ORDER BY run_id`);
    assert.deepEqual(runs.map((r) => r.run_id), runIds);
    for (const r of runs) if (r.state !== "success") problems.push(`run ${r.run_id} ended ${r.state}`);
    const tasks = await db.db.query<{ run_id: string; task_id: string; state: string; try_number: number }>(
      `SELECT r.run_id, ti.task_id, ti.state, ti.try_number FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk ORDER BY 1, 2`,
    );
    assert.equal(tasks.length, RUNS * specs.length, "every task of every run");
    for (const t of tasks) if (t.state !== "success") problems.push(`task ${t.run_id}/${t.task_id} ended ${t.state}`);

    // Each try: ended; a failure only for a reason outside the task (not counted), with a later try.
    const tries = await db.db.query<{
      run_id: string; task_id: string; try_number: number; state: string; reason: string | null; message: string | null;
      counted: boolean; pod_name: string; log_complete: boolean; log_bytes: string | null; started_at: Date | null;
    }>(
      `SELECT r.run_id, ti.task_id, t.try_number, t.state, t.reason, t.message, t.counted, t.pod_name, t.log_complete, t.log_bytes, t.started_at
         FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk ORDER BY 1, 2, 3`,
    );
    const lastTry = new Map<string, number>();
    for (const t of tries) lastTry.set(`${t.run_id}/${t.task_id}`, Math.max(lastTry.get(`${t.run_id}/${t.task_id}`) ?? 0, t.try_number));
    const retried: string[] = [];
    for (const t of tries) {
      const where = `${t.run_id}/${t.task_id} try ${t.try_number}`;
      if (t.state === "success") continue;
      if (t.state === "failed" && !t.counted && t.try_number < lastTry.get(`${t.run_id}/${t.task_id}`)!) {
        retried.push(`${where}: ${t.reason}`);
        continue;
      }
      problems.push(`${where} ended ${t.state} (${t.reason}: ${t.message}; counted ${t.counted})`);
    }
    if (tries.length < RUNS * specs.length) problems.push(`only ${tries.length} tries for ${RUNS * specs.length} tasks`);

    // One Pod per try, for tries only: each Pod name scheduled with one uid, once.
    const podNames = new Set(tries.map((t) => t.pod_name));
    for (const [name, uids] of pods.uids) {
      if (uids.size !== 1) problems.push(`Pod ${name} was created ${uids.size} times (uids ${[...uids].join(", ")})`);
      if (!podNames.has(name)) problems.push(`Pod ${name} belongs to no try`);
    }
    const podUids = [...pods.uids.values()].reduce((n, u) => n + u.size, 0);
    if (pods.scheduled !== podUids) problems.push(`${pods.scheduled} Scheduled events for ${podUids} Pods`);
    // The count is only as good as the events it saw: every try whose Pod started must be among them.
    for (const t of tries) if (t.started_at && !pods.uids.has(t.pod_name)) problems.push(`the Pod of ${t.run_id}/${t.task_id} try ${t.try_number} started, but its Scheduled event was not seen`);
    const left = await kube.core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR });
    assert.deepEqual(left.items.map((p) => p.metadata?.name), [], "no Ferry Pod is left");

    // Every log: complete, and through the API the exact bytes the task printed (a prefix of them for a
    // try that failed for the cluster's reasons).
    const byId = new Map(specs.map((s) => [s.id, s]));
    for (const t of tries) {
      const where = `${t.run_id}/${t.task_id} try ${t.try_number}`;
      if (!t.log_complete) problems.push(`${where}: logComplete is false`);
      let res;
      for (let attempt = 0; ; attempt++) {
        try {
          res = await fetch(`http://127.0.0.1:${port}/api/v1/dags/chaos/runs/${t.run_id}/tasks/${t.task_id}/logs?try=${t.try_number}`, {
            headers: { authorization: `Bearer ${TEST_TOKEN}` },
          });
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
          await sleep(500);
        }
      }
      const served = Buffer.from(await res.arrayBuffer());
      const want = expectedLog(byId.get(t.task_id)!, t.run_id, t.try_number);
      if (res.status !== 200) problems.push(`${where}: the log answered ${res.status}: ${served.toString()}`);
      else if (t.state === "success" && !served.equals(want)) {
        problems.push(`${where}: the log is ${JSON.stringify(served.toString())}, the task printed ${JSON.stringify(want.toString())}`);
      } else if (t.state !== "success" && !want.subarray(0, served.length).equals(served)) {
        problems.push(`${where} (${t.state}): the log ${JSON.stringify(served.toString())} is not the start of ${JSON.stringify(want.toString())}`);
      }
      if (t.log_bytes !== null && Number(t.log_bytes) !== served.length) problems.push(`${where}: logBytes ${t.log_bytes}, served ${served.length}`);
    }

    // The kills landed on work in flight: later Ferrys adopted tries the killed ones held.
    const adopted = ferries.reduce((n, f) => n + f.output().split("\n").filter((l) => l.includes('"msg":"adopted try"')).length, 0);
    if (adopted === 0) problems.push("no Ferry adopted a try: the kills never caught one in flight");
    console.log(
      `${elapsed()}: ${tasks.length} tasks, ${tries.length} tries, ${podUids} Pods scheduled, ${adopted} tries adopted after kills; ` +
        `${pods.polls} event polls (${pods.failedPolls} failed); retried for the cluster: ${retried.length ? retried.join("; ") : "none"}`,
    );
    if (problems.length) {
      const names = tries
        .filter((t) => problems.some((p) => p.startsWith(`${t.run_id}/${t.task_id} try ${t.try_number}`) || p.includes(t.pod_name)))
        .map((t) => t.pod_name);
      console.log(`what the Ferrys said about the Pods of those tries:\n${saidAbout(names)}\n(all output: ${await keepOutput()})`);
    }
    assert.deepEqual(problems, [], `chaos seed ${SEED}: every task succeeded once with its whole log`);

    // The last Ferry stops cleanly.
    ferry.child.kill("SIGTERM");
    await exited(ferry.child);
    assert.equal(ferry.child.exitCode, 0, `a clean shutdown on SIGTERM: ${ferry.output().slice(-2000)}`);
  });
});
