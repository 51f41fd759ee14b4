// What a task does after a failed try: retried (counting against its `retries`, or not, for a failure
// outside the task), or failed. Pure; recordOutcome applies it inside the transaction that records
// the try, from the task's row locked there.
import { BUILT_IN_TASK_DEFAULTS } from "../dagfile/validate.ts";
import type { TaskDefinition } from "../sdk/definition.ts";

/** Longest wait between tries, whatever the backoff says (Airflow's max_retry_delay default). */
export const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000;
/** The first retry after an infrastructure failure; each further one doubles, up to the cap below. */
export const INFRA_RETRY_DELAY_MS = 10_000;
export const MAX_INFRA_RETRY_DELAY_MS = 5 * 60 * 1000;
/** infraRetries for a DAG version stored before the option existed. */
export const DEFAULT_INFRA_RETRIES = BUILT_IN_TASK_DEFAULTS.infraRetries ?? 3;

/** How long to wait after try `tryNumber` failed before the next one. */
export function retryDelayMs(task: Pick<TaskDefinition, "retryDelayMs" | "retryBackoff">, tryNumber: number): number {
  const base = task.retryDelayMs;
  const delay = task.retryBackoff === "exponential" ? base * 2 ** Math.max(0, tryNumber - 1) : base;
  return Math.min(delay, MAX_RETRY_DELAY_MS);
}

/** How long to wait after the `used`-th infrastructure failure (1 for the first). */
export function infraRetryDelayMs(used: number, firstMs = INFRA_RETRY_DELAY_MS): number {
  return Math.min(firstMs * 2 ** Math.max(0, used - 1), MAX_INFRA_RETRY_DELAY_MS);
}

export interface TaskAfterFailure {
  state: "up_for_retry" | "failed";
  /** When the retry may start (up_for_retry only). */
  retryAt: Date | null;
  /** False when the try does not use up one of the task's retries (an infrastructure failure). */
  counted: boolean;
}

/** What a failed try means for its task, given the task's tries so far. */
export function afterFailure(f: {
  now: Date;
  /** The try that failed. */
  tryNumber: number;
  /** The task's last try number its retries allow (tries not counted push it further). */
  maxTries: number;
  /** A retry could change the ending (false for a cancellation). */
  retryable: boolean;
  /** The failure came from outside the task. */
  infra: boolean;
  /** Tries of this task not counted so far, and how many it allows. */
  infraUsed: number;
  infraRetries: number;
  /** The delay a counted retry waits (the task's retryDelay and backoff). */
  retryDelayMs: number;
  /** The first infrastructure retry's delay. @default INFRA_RETRY_DELAY_MS */
  infraRetryDelayMs?: number;
}): TaskAfterFailure {
  if (!f.retryable) return { state: "failed", retryAt: null, counted: true };
  if (f.infra && f.infraUsed < f.infraRetries) {
    return { state: "up_for_retry", retryAt: new Date(f.now.getTime() + infraRetryDelayMs(f.infraUsed + 1, f.infraRetryDelayMs)), counted: false };
  }
  if (f.tryNumber < f.maxTries) return { state: "up_for_retry", retryAt: new Date(f.now.getTime() + f.retryDelayMs), counted: true };
  return { state: "failed", retryAt: null, counted: true };
}
