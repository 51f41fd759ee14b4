// The orphan-Pod sweeper at a short interval while a few hundred tries start, run and finish. Its
// safety rests on one rule: a try's row is committed before its Pod is created, and the sweeper reads
// the rows only after it listed the Pods, so every Pod it sees that a live try owns finds that try.
// Two executors claim tries and each sweeps every 150 ms, so sweeps land in every window a try goes
// through (Pod created but the try still queued, running, finished with its log draining, being
// deleted); a sweeper that ignored the rows, or took a queued try's Pod for no try's, kills tries
// here within seconds. (Reading the rows before listing is also wrong, but its window is a few ms,
// shorter than a claim-to-create here, so this test seldom meets it.) Meanwhile genuine orphans
// (Ferry-labelled Pods no try owns: a bare one, one shaped exactly like a try's Pod but for a try that
// never existed, one that already finished) are made through the Kubernetes client and must be
// removed. At the end: every task ended as its script says, each in exactly the tries it was written
// to take (a Pod swept from under its try would end PodLost and be retried uncounted, or be killed
// mid-way with another exit code), no try has an event saying its Pod vanished, every try's log read
// through the API is byte for byte what it printed, and no Ferry-labelled Pod is left.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, POD_SELECTOR, podLabels, podNameFor } from "../../executor/pod-names.ts";
import { createWakeup, type Wakeup } from "../../db/wakeup.ts";
import { Executor } from "../../executor/executor.ts";
import { createMetrics, type Metrics } from "../../lib/metrics.ts";
import { silentLogger } from "../../lib/logger.ts";
import { FINISHED_TASK_STATES } from "../../scheduler/states.ts";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";

const SWEEP_MS = 150;
const DAG = "sweep_load";
const RUNS = 5;
/** The fan-out between `root` and `join`. */
const WIDE = 45;
const ORPHANS = 6;
/** Reasons that say a try's Pod was taken from it, on the try or among its events. */
const VANISHED = new Set(["PodLost", "LogIncomplete", "Killing"]);

interface TaskSpec {
  id: string;
  /** The lines between the first and the last. */
  body: string[];
  /** Sleeps between its lines, so its Pod is running through several sweeps. */
  slow: boolean;
  /** Tries that fail (exit 3) before one succeeds; `retries` is set to match. Infinity: every try fails. */
  failing: number;
  dependsOn: string[];
}

function taskSpecs(): TaskSpec[] {
  const lines = (id: string, n: number) => Array.from({ length: n }, (_, k) => `${id} line ${k + 1} ${"y".repeat((id.length * 11 + k * 7) % 50)}`);
  const wide: TaskSpec[] = Array.from({ length: WIDE }, (_, i) => {
    const id = `w${i}`;
    return { id, body: lines(id, 1 + (i % 4)), slow: i % 5 === 2, failing: i % 13 === 6 ? 1 : 0, dependsOn: ["root"] };
  });
  return [
    { id: "root", body: lines("root", 2), slow: false, failing: 0, dependsOn: [] },
    ...wide,
    { id: "doomed", body: lines("doomed", 1), slow: false, failing: Infinity, dependsOn: ["root"] },
    { id: "join", body: lines("join", 1), slow: false, failing: 0, dependsOn: wide.map((w) => w.id) },
  ];
}

const retriesOf = (t: TaskSpec) => (t.failing === Infinity ? 1 : t.failing);
/** How many tries the task takes: its failing ones and then the one that succeeds, or all it has. */
const triesOf = (t: TaskSpec) => (t.failing === Infinity ? retriesOf(t) + 1 : t.failing + 1);
const failsTry = (t: TaskSpec, tryNumber: number) => tryNumber <= t.failing;
const firstLine = (runId: string, taskId: string, tryNumber: number | string) => `sweep ${runId} ${taskId} try ${tryNumber}`;
const failLine = (taskId: string, tryNumber: number | string) => `${taskId} fails try ${tryNumber} on purpose`;
const lastLine = (taskId: string) => `${taskId} done`;

/** What the task prints in the given try. */
function expectedLog(t: TaskSpec, runId: string, tryNumber: number): string {
  const lines = [firstLine(runId, t.id, tryNumber), ...t.body, failsTry(t, tryNumber) ? failLine(t.id, tryNumber) : lastLine(t.id)];
  return lines.map((l) => `${l}\n`).join("");
}

function dagSource(specs: TaskSpec[]): string {
  const echo = (s: string) => `echo '${s}'`;
  const tasks = specs.map((t) => {
    const body = t.body.flatMap((l, j) => (t.slow && j > 0 ? ["sleep 0.4", echo(l)] : [echo(l)]));
    const fail = `${echo(failLine(t.id, "{{ tryNumber }}"))}; exit 3`;
    const ending =
      t.failing === Infinity ? [fail] : t.failing > 0 ? [`if [ {{ tryNumber }} -le ${t.failing} ]; then ${fail}; fi`, echo(lastLine(t.id))] : [echo(lastLine(t.id))];
    const script = [echo(firstLine("{{ runId }}", t.id, "{{ tryNumber }}")), ...body, ...(t.slow ? ["sleep 0.4"] : []), ...ending].join("; ");
    const deps = t.dependsOn.length ? `, dependsOn: [${t.dependsOn.map((d) => `t_${d}`).join(", ")}]` : "";
    const retries = retriesOf(t) > 0 ? `, retries: ${retriesOf(t)}, retryDelay: "1s"` : "";
    return `  const t_${t.id} = podTask(${JSON.stringify(t.id)}, { image: "busybox", command: ["sh", "-c", ${JSON.stringify(script)}]${deps}${retries} });`;
  });
  return `import { dag, podTask } from "ferry";
export default dag(${JSON.stringify(DAG)}, { schedule: null }, () => {
${tasks.join("\n")}
});
`;
}

describe("the pod sweeper at a short interval under load", { timeout: 300_000 }, () => {
  let f: TestFerry;
  // Every executor sweeps: a second one, as a second replica would be, claims tries beside the
  // Ferry's own and sweeps at the same interval, so each sweeper also meets the other's fresh Pods.
  let second: { executor: Executor; metrics: Metrics; wakeup: Wakeup } | null = null;
  before(async () => {
    f = await startTestFerry({ s3: false, executor: { sweepIntervalMs: SWEEP_MS, maxRunningTasks: 40 } });
    const wakeup = await createWakeup(f.ferry.db);
    const metrics = createMetrics({ processMetrics: false });
    const executor = new Executor(f.ferry.db, f.ferry.kube, f.ferry.logStore, wakeup, silentLogger, {
      maxRunningTasks: 16,
      workerImage: "unused", // pod tasks only
      workerApiUrl: () => f.url,
      workerSecret: "unused",
      pollIntervalMs: 200,
      logFlushIntervalMs: 200,
      sweepIntervalMs: SWEEP_MS,
      metrics,
    });
    executor.start();
    second = { executor, metrics, wakeup };
  });
  after(async () => {
    await second?.executor.stop();
    await second?.wakeup.close();
    await f?.close();
  });

  it("never sweeps a live try's Pod, removes the orphans made meanwhile, and every log is exact", async () => {
    const specs = taskSpecs();
    const runIds = Array.from({ length: RUNS }, (_, r) => `r${r + 1}`);
    const core = f.ferry.kube.core;
    const ferryPods = async () => (await core.listNamespacedPod({ namespace: "default", labelSelector: POD_SELECTOR })).items.map((p) => p.metadata!.name!);
    const tryPodNames = async () =>
      new Set((await f.testDb.db.query<{ pod_name: string }>(`SELECT pod_name FROM task_tries`)).map((r) => r.pod_name));
    const endedTries = async () => (await f.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_tries WHERE ended_at IS NOT NULL`))[0]!.n;
    const unfinishedTasks = async () =>
      (await f.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_instances WHERE state <> ALL($1)`, [FINISHED_TASK_STATES]))[0]!.n;
    const openTries = async () => (await f.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_tries WHERE NOT pod_reclaimed`))[0]!.n;
    /**
     * Fails the test as soon as a try shows a Pod swept from under it, instead of waiting for the
     * uncounted retries that would follow: a try ended PodLost or uncounted, killed (any exit code but
     * the script's 0 and 3), or with a PodLost, LogIncomplete or Killing event.
     */
    const noPodTaken = async () => {
      const hurt = await f.testDb.db.query<{ run_id: string; task_id: string; try_number: number; reason: string | null; exit_code: number | null; events: string | null }>(
        `SELECT r.run_id, ti.task_id, t.try_number, t.reason, t.exit_code,
                (SELECT string_agg(e.reason || ': ' || e.message, ' | ') FROM task_try_events e
                  WHERE e.task_instance_id = t.task_instance_id AND e.try_number = t.try_number) AS events
           FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk
          WHERE t.reason = ANY($1) OR NOT t.counted OR t.exit_code NOT IN (0, 3)
             OR EXISTS (SELECT 1 FROM task_try_events e WHERE e.task_instance_id = t.task_instance_id AND e.try_number = t.try_number AND e.reason = ANY($1))`,
        [[...VANISHED]],
      );
      if (hurt.length > 0) {
        const said = hurt.slice(0, 5).map((h) => `${h.run_id}/${h.task_id} try ${h.try_number}: ${h.reason} exit ${h.exit_code}; events: ${h.events}`);
        assert.fail(`${hurt.length} tries lost their Pod while the sweeper ran, e.g.\n${said.join("\n")}`);
      }
    };
    /** What is unfinished, for a wait that timed out. */
    const diagnose = async () => {
      const tasks = await f.testDb.db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM task_instances GROUP BY 1 ORDER BY 1`);
      const open = await f.testDb.db.query(
        `SELECT r.run_id, ti.task_id, t.try_number, t.state, t.reason, t.ended_at IS NOT NULL AS ended, t.log_finished_at IS NOT NULL AS log_done, t.pod_reclaimed
           FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk
          WHERE t.ended_at IS NULL OR t.log_finished_at IS NULL OR NOT t.pod_reclaimed ORDER BY t.created_at LIMIT 10`,
      );
      const pods = await ferryPods();
      return `tasks: ${tasks.map((t) => `${t.state} ${t.n}`).join(", ")}; first open tries: ${JSON.stringify(open)}; Ferry-labelled Pods: ${pods.length} ${pods.slice(0, 10).join(" ")}`;
    };
    /** waitFor that fails at once when a try lost its Pod, and says what was unfinished when it times out. */
    const waitUntil = async <T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> => {
      try {
        return await waitFor(
          what,
          async () => {
            await noPodTaken();
            return fn();
          },
          timeoutMs,
        );
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        throw new Error(`${(err as Error).message}\n${await diagnose()}`);
      }
    };

    const pushed = await f.api("POST", "/api/v1/dags", dagSource(specs));
    assert.equal(pushed.status, 201, pushed.text);
    for (const runId of runIds) assert.equal((await f.api("POST", `/api/v1/dags/${DAG}/runs`, { runId })).status, 201);

    // Orphans, one at a time, spread over the load: each is made once more tries have ended, while
    // tries' Pods are live, and must be gone before the next is made.
    const orphan = (k: number): V1Pod => {
      const kinds = ["bare", "lookalike", "finished"] as const;
      const kind = kinds[k % kinds.length]!;
      // Shaped exactly like the Pod of a try that was never claimed (no task here reaches try 9).
      const ghost = { dagId: DAG, runId: runIds[k % RUNS]!, taskId: `w${k}`, tryNumber: 9 };
      return {
        metadata:
          kind === "lookalike" ? { name: podNameFor(ghost), labels: podLabels(ghost) } : { name: `stray-${kind}-${k}`, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
        spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: kind === "finished" ? ["true"] : ["sleep", "60"] }] },
      };
    };
    const removedAmidLoad: number[] = [];
    for (let k = 0; k < ORPHANS; k++) {
      await waitUntil(`${k * 20} tries to end before orphan ${k} is made`, async () => (await endedTries()) >= k * 20, 120_000);
      assert.ok((await unfinishedTasks()) > 0, `the load was still running when orphan ${k} was made`);
      const body = orphan(k);
      const name = body.metadata!.name!;
      assert.ok(!(await tryPodNames()).has(name), `orphan ${name} is no try's Pod`);
      await core.createNamespacedPod({ namespace: "default", body });
      // Seen gone: how many tries' Pods were there beside it, as a witness that sweeps ran amid the load.
      const beside = await waitUntil(
        `orphan ${name} to be swept`,
        async () => {
          const names = await ferryPods();
          if (names.includes(name)) return null;
          const owned = await tryPodNames();
          return { n: names.filter((n) => owned.has(n)).length };
        },
        30_000,
      );
      removedAmidLoad.push(beside.n);
    }

    await waitUntil(
      "every run to finish",
      async () => {
        const runs = (await f.api("GET", `/api/v1/dags/${DAG}/runs?limit=100`)).body.runs as any[];
        return runs.every((r) => ["success", "failed", "cancelled"].includes(r.state));
      },
      240_000,
    );
    await waitUntil("every try to be reclaimed", async () => (await openTries()) === 0, 60_000);
    for (const runId of runIds) {
      const run = await f.waitForRun(DAG, runId, 60_000);
      assert.equal(run.state, "failed", `${runId}: ${JSON.stringify(run)}`); // `doomed` fails every run; all else succeeds
    }
    const left = await waitFor("no Ferry-labelled Pod to be left", async () => ((await ferryPods()).length === 0 ? [] : null), 30_000).catch(
      async () => ferryPods(),
    );
    assert.deepEqual(left, [], "no Ferry-labelled Pod is left");

    const problems: string[] = [];
    let tries = 0;
    for (const runId of runIds) {
      const run = (await f.api("GET", `/api/v1/dags/${DAG}/runs/${runId}`)).body;
      for (const t of specs) {
        const where = `${runId}/${t.id}`;
        const wantState = t.failing === Infinity ? "failed" : "success";
        const task = (await f.api("GET", `/api/v1/dags/${DAG}/runs/${runId}/tasks/${t.id}`)).body;
        if (run.tasks.find((x: any) => x.taskId === t.id)?.state !== wantState) problems.push(`${where}: ${task.state}, expected ${wantState}`);
        const want = triesOf(t);
        const got = task.tries as any[];
        if (got.length !== want) {
          problems.push(`${where}: ${got.length} tries, expected ${want}: ${got.map((x) => `${x.state} ${x.reason} (exit ${x.exitCode}, counted ${x.counted})`).join(", ")}`);
        }
        for (const x of got) {
          tries++;
          const at = `${where} try ${x.tryNumber}`;
          const fails = failsTry(t, x.tryNumber);
          const [state, exitCode] = fails ? ["failed", 3] : ["success", 0];
          if (x.state !== state || x.exitCode !== exitCode || !x.counted) problems.push(`${at}: ${x.state} ${x.reason} exit ${x.exitCode} counted ${x.counted}, expected ${state} exit ${exitCode}`);
          if (VANISHED.has(x.reason)) problems.push(`${at}: ended ${x.reason}: ${x.message}`);
          if (!x.logComplete) problems.push(`${at}: log not complete`);
          const events = (await f.api("GET", `/api/v1/dags/${DAG}/runs/${runId}/tasks/${t.id}/events?try=${x.tryNumber}`)).body.events as any[];
          for (const e of events) if (VANISHED.has(e.reason)) problems.push(`${at}: event ${e.reason}: ${e.message}`);
          const res = await fetch(`${f.url}/api/v1/dags/${DAG}/runs/${runId}/tasks/${t.id}/logs?try=${x.tryNumber}`, {
            headers: { authorization: `Bearer ${TEST_TOKEN}` },
          });
          const served = Buffer.from(await res.arrayBuffer());
          const expected = Buffer.from(expectedLog(t, runId, x.tryNumber));
          if (!served.equals(expected)) problems.push(`${at}: the API served ${JSON.stringify(served.toString())}, expected ${JSON.stringify(expected.toString())}`);
        }
      }
    }
    assert.deepEqual(problems, [], "every task ended as written, in its own tries, with its exact log");
    assert.ok(tries >= 250, `a few hundred tries ran (${tries})`);

    const executors = await f.testDb.db.query<{ n: number }>(`SELECT count(DISTINCT executor_id)::int AS n FROM task_tries`);
    assert.equal(executors[0]!.n, 2, "both executors ran tries");
    // Only a sweeper deletes a Pod no try owns: between them the two counted every orphan.
    const served = await (await fetch(`${f.url}/metrics`)).text();
    const byFerry = Number(/^ferry_orphan_pods_removed_total (\d+)/m.exec(served)?.[1] ?? NaN);
    const bySecond = (await second!.metrics.orphanPods.get()).values[0]?.value ?? 0;
    const removed = byFerry + bySecond;
    assert.ok(removed >= ORPHANS, `the sweepers counted the orphans they removed (${byFerry} + ${bySecond})`);
    console.log(`${tries} tries in ${RUNS} runs; the sweepers removed ${byFerry} + ${bySecond} Pods; tries' Pods beside each orphan when it was seen gone: ${removedAmidLoad.join(", ")}`);
    assert.ok(
      removedAmidLoad.some((n) => n > 0),
      `orphans were swept while tries' Pods were live (tries' Pods beside each orphan when it was seen gone: ${removedAmidLoad.join(", ")})`,
    );
  });
});
