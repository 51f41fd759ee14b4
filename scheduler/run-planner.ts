// Decides, from a run's task states alone, which tasks move next and whether the run is over. Pure, so
// the state machine is unit-tested without a database; the scheduler applies each move as a
// compare-and-set in Postgres.
import type { DagDefinition } from "../sdk/definition.ts";
import { decide } from "./trigger-rules.ts";
import { isTaskFinished, UNSUCCESSFUL_TASK_STATES, type RunState, type TaskState } from "./states.ts";

export interface TaskSnapshot {
  state: TaskState;
  retryAt: Date | null;
}

export interface TaskMove {
  taskId: string;
  from: TaskState;
  to: TaskState;
}

export interface RunPlan {
  moves: TaskMove[];
  /** Set when every task has finished (after the moves): how the run ends. */
  runOutcome: Extract<RunState, "success" | "failed"> | null;
}

export function planRun(definition: DagDefinition, tasks: ReadonlyMap<string, TaskSnapshot>, now: Date): RunPlan {
  const states = new Map<string, TaskState>();
  for (const [id, t] of tasks) states.set(id, t.state);
  const moves: TaskMove[] = [];
  const move = (taskId: string, to: TaskState) => {
    moves.push({ taskId, from: states.get(taskId)!, to });
    states.set(taskId, to);
  };

  // Tasks are in topological order, so a skip or upstream failure flows down the whole DAG in one pass.
  for (const task of definition.tasks) {
    const state = states.get(task.taskId);
    if (state === "up_for_retry") {
      const retryAt = tasks.get(task.taskId)?.retryAt;
      if (!retryAt || retryAt <= now) move(task.taskId, "scheduled");
      continue;
    }
    if (state !== "pending") continue;
    const decision = decide(
      task.triggerRule,
      task.dependsOn.map((d) => states.get(d) ?? "pending"),
    );
    if (decision === "run") move(task.taskId, "scheduled");
    else if (decision === "skip") move(task.taskId, "skipped");
    else if (decision === "upstream_failed") move(task.taskId, "upstream_failed");
  }

  const all = definition.tasks.map((t) => states.get(t.taskId) ?? "pending");
  if (!all.every(isTaskFinished)) return { moves, runOutcome: null };
  // As in Airflow, the leaves decide: a failure that a downstream `all_done` task handled is not a run failure.
  const hasDownstream = new Set(definition.tasks.flatMap((t) => t.dependsOn));
  const leaves = definition.tasks.filter((t) => !hasDownstream.has(t.taskId));
  const failedLeaf = leaves.some((t) => UNSUCCESSFUL_TASK_STATES.includes(states.get(t.taskId)!));
  return { moves, runOutcome: failedLeaf ? "failed" : "success" };
}

/** Task ids downstream of `taskId` (transitively), in topological order. */
export function downstreamOf(definition: DagDefinition, taskId: string): string[] {
  const affected = new Set([taskId]);
  const result: string[] = [];
  for (const t of definition.tasks) {
    if (t.dependsOn.some((d) => affected.has(d))) {
      affected.add(t.taskId);
      result.push(t.taskId);
    }
  }
  return result;
}
