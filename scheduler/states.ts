// The states runs and task instances move through (DESIGN.md section 3), and which are final.

export const RUN_STATES = ["queued", "running", "success", "failed", "cancelled"] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TASK_STATES = [
  "pending",
  "scheduled",
  "queued",
  "running",
  "success",
  "failed",
  "up_for_retry",
  "upstream_failed",
  "skipped",
  "cancelled",
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const FINISHED_TASK_STATES: readonly TaskState[] = ["success", "failed", "upstream_failed", "skipped", "cancelled"];
export const FINISHED_RUN_STATES: readonly RunState[] = ["success", "failed", "cancelled"];

export function isTaskFinished(state: TaskState): boolean {
  return FINISHED_TASK_STATES.includes(state);
}

/** States in which a task may have a Pod: the executor owns it until it finishes. */
export const ACTIVE_TASK_STATES: readonly TaskState[] = ["queued", "running"];
