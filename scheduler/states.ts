// The states runs and task instances move through (listed in the README under "States"), and which
// are final. This is their one definition: SQL names a set of states by interpolating these lists
// with sqlStates() (as pg-boss does with its job states), never by spelling them out again.

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
/** Runs that hold a DAG back (it cannot be deleted) and count as active in the metrics. */
export const ACTIVE_RUN_STATES: readonly RunState[] = ["queued", "running"];

export function isTaskFinished(state: TaskState): boolean {
  return FINISHED_TASK_STATES.includes(state);
}

/** States in which a task may have a Pod: the executor owns it until it finishes. */
export const ACTIVE_TASK_STATES: readonly TaskState[] = ["queued", "running"];
/**
 * Every finished state but the two a task ends in without anything having gone wrong (success,
 * skipped): failed, upstream_failed and cancelled. What trigger rules count as failed, what fails a
 * run at a leaf, and what a run clear with "only failed" starts from. Derived from FINISHED_TASK_STATES
 * so a new finished state is weighed here too.
 */
export const UNSUCCESSFUL_TASK_STATES: readonly TaskState[] = FINISHED_TASK_STATES.filter((s) => s !== "success" && s !== "skipped");

/**
 * A list of states as SQL literals, for `state IN (${sqlStates(ACTIVE_TASK_STATES)})`. Only ever given
 * the constant lists above (never input), and each name is checked to be a plain identifier.
 */
export function sqlStates(states: readonly (RunState | TaskState)[]): string {
  return states
    .map((s) => {
      if (!/^[a-z_]+$/.test(s)) throw new Error(`not a state name: ${JSON.stringify(s)}`);
      return `'${s}'`;
    })
    .join(", ");
}
