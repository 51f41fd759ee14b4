// `ferry runs clear` (run a task again, or a whole run's failed tasks, or all of them, with what depends
// on them) and `ferry tasks show` (a task of a run and its tries).
import { flag, UsageError, type ParsedArgs } from "./args.ts";
import type { FerryClient } from "./client.ts";
import { table } from "./commands.ts";

type Out = (line: string) => void;
const enc = encodeURIComponent;

interface ClearAnswer {
  runId: string;
  dagId: string;
  state: string;
  cleared: string[];
}

/**
 * `runs clear DAG RUN TASK` clears that task (POST .../tasks/{taskId}/clear). Without TASK, the run is
 * cleared in one request (POST .../runs/{runId}/clear): its failed, upstream_failed and cancelled tasks
 * and what is downstream of them, or with --all every task; all of them or, when one is refused (a task
 * still runs, nothing failed), none.
 */
export async function runsClear(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, runId, taskId] = args.positional;
  const all = flag(args, "all");
  const runPath = `/api/v1/dags/${enc(dagId!)}/runs/${enc(runId!)}`;
  if (taskId !== undefined) {
    if (all) throw new UsageError("--all clears a whole run: give it without TASK\nusage: ferry runs clear DAG RUN [TASK] [--all] [--json]");
    const res = await client.json<ClearAnswer>("POST", `${runPath}/tasks/${enc(taskId)}/clear`);
    if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
    const downstream = res.cleared.filter((t) => t !== taskId);
    out(`cleared ${taskId}${downstream.length > 0 ? ` and downstream ${downstream.join(", ")}` : ""} in ${res.dagId} ${res.runId}; the run is ${res.state}`);
    return;
  }
  const res = await client.json<ClearAnswer>("POST", `${runPath}/clear`, { json: { onlyFailed: !all } });
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`cleared ${all ? "every task" : `${res.cleared.length} task${res.cleared.length === 1 ? "" : "s"}`} in ${res.dagId} ${res.runId} (${res.cleared.join(", ")}); the run is ${res.state}`);
}

export async function tasksShow(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, runId, taskId] = args.positional;
  const t = await client.json("GET", `/api/v1/dags/${enc(dagId!)}/runs/${enc(runId!)}/tasks/${enc(taskId!)}`);
  if (flag(args, "json")) return out(JSON.stringify(t, null, 2));
  out(`${t.dagId} ${t.runId} ${t.taskId}: ${t.state} (try ${t.tryNumber} of at most ${t.maxTries})`);
  if (t.result !== null) out(`  result: ${JSON.stringify(t.result)}`);
  if (t.reason && t.state !== "success") out(`  reason: ${t.reason}${t.message ? `: ${t.message}` : ""}`);
  if (t.retryAt) out(`  retry at: ${t.retryAt}`);
  if (t.tries.length === 0) return out("no try yet");
  table(
    [
      ["TRY", "STATE", "EXIT", "STARTED", "ENDED", "LOG", "POD", "LAST WARNING"],
      ...t.tries.map((r: any) => [
        String(r.tryNumber),
        r.state,
        r.exitCode === null ? "-" : String(r.exitCode),
        r.startedAt ?? "-",
        r.endedAt ?? "-",
        r.logComplete ? `${r.logBytes} B` : r.logBytes === null ? "-" : `${r.logBytes} B so far`,
        r.podName ?? "-",
        r.events.lastWarning ? `${r.events.lastWarning.reason}: ${String(r.events.lastWarning.message).replace(/\s+/g, " ")}` : "-",
      ]),
    ],
    out,
  );
}
