// What a pending task does once its upstream tasks have (partly) finished: run, or be skipped /
// marked upstream_failed. Semantics follow Airflow's trigger rules.
import type { TriggerRule } from "../sdk/definition.ts";
import { isTaskFinished, UNSUCCESSFUL_TASK_STATES, type TaskState } from "./states.ts";

export type TriggerDecision = "wait" | "run" | "skip" | "upstream_failed";

export function decide(rule: TriggerRule, upstream: readonly TaskState[]): TriggerDecision {
  if (upstream.length === 0) return "run";
  const done = upstream.filter(isTaskFinished);
  const allDone = done.length === upstream.length;
  const succeeded = done.filter((s) => s === "success").length;
  const failed = done.filter((s) => UNSUCCESSFUL_TASK_STATES.includes(s)).length;
  const skipped = done.filter((s) => s === "skipped").length;

  switch (rule) {
    case "all_success":
      if (failed > 0) return "upstream_failed";
      if (skipped > 0) return "skip";
      return allDone ? "run" : "wait";
    case "all_done":
      return allDone ? "run" : "wait";
    case "all_failed":
      if (succeeded > 0 || skipped > 0) return "skip";
      return allDone ? "run" : "wait";
    case "one_success":
      if (succeeded > 0) return "run";
      if (!allDone) return "wait";
      return failed > 0 ? "upstream_failed" : "skip";
    case "one_failed":
      if (failed > 0) return "run";
      return allDone ? "skip" : "wait";
    case "none_failed":
      if (failed > 0) return "upstream_failed";
      return allDone ? "run" : "wait";
  }
}
