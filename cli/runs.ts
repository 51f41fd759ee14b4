// `ferry runs clear` (run a task again, or every failed task of a run, with what depends on them) and
// `ferry tasks show` (a task of a run and its tries).
import { flag, type ParsedArgs } from "./args.ts";
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
 * `runs clear DAG RUN TASK` clears that task (POST .../tasks/{taskId}/clear). Without TASK, every task of
 * the run that failed is cleared, upstream ones first (the DAG's task order), skipping a task an earlier
 * clear already took along as downstream; the API has no route to clear a whole run, so these are
 * several requests, and one that is refused stops the rest (what was cleared stays cleared).
 */
export async function runsClear(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, runId, taskId] = args.positional;
  const runPath = `/api/v1/dags/${enc(dagId!)}/runs/${enc(runId!)}`;
  const clear = (id: string) => client.json<ClearAnswer>("POST", `${runPath}/tasks/${enc(id)}/clear`);
  if (taskId !== undefined) {
    const res = await clear(taskId);
    if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
    const downstream = res.cleared.filter((t) => t !== taskId);
    out(`cleared ${taskId}${downstream.length > 0 ? ` and downstream ${downstream.join(", ")}` : ""} in ${res.dagId} ${res.runId}; the run is ${res.state}`);
    return;
  }
  const run = await client.json("GET", runPath);
  const failed: string[] = run.tasks.filter((t: any) => t.state === "failed").map((t: any) => t.taskId);
  const order = await taskOrder(client, dagId!);
  failed.sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity));
  const cleared: string[] = [];
  let state: string = run.state;
  for (const id of failed) {
    if (cleared.includes(id)) continue;
    const res = await clear(id);
    cleared.push(...res.cleared.filter((t) => !cleared.includes(t)));
    state = res.state;
  }
  if (flag(args, "json")) return out(JSON.stringify({ runId: run.runId, dagId: run.dagId, state, cleared }, null, 2));
  if (failed.length === 0) return out(`${run.dagId} ${run.runId} has no failed task (it is ${run.state}): nothing cleared`);
  out(`cleared ${failed.join(", ")}${cleared.length > failed.length ? ` and downstream ${cleared.filter((t) => !failed.includes(t)).join(", ")}` : ""} in ${run.dagId} ${run.runId}; the run is ${state}`);
}

/** Each task's place in the DAG's (topological) task order; empty when the DAG cannot be read (deleted). */
async function taskOrder(client: FerryClient, dagId: string): Promise<Map<string, number>> {
  try {
    const dag = await client.json("GET", `/api/v1/dags/${enc(dagId)}`);
    return new Map(dag.tasks.map((t: any, i: number) => [t.taskId as string, i]));
  } catch {
    return new Map();
  }
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
