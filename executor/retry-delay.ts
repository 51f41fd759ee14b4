import type { TaskDefinition } from "../sdk/definition.ts";

/** Longest wait between tries, whatever the backoff says (Airflow's max_retry_delay default). */
export const MAX_RETRY_DELAY_MS = 24 * 60 * 60 * 1000;

/** How long to wait after try `tryNumber` failed before the next one. */
export function retryDelayMs(task: Pick<TaskDefinition, "retryDelayMs" | "retryBackoff">, tryNumber: number): number {
  const base = task.retryDelayMs;
  const delay = task.retryBackoff === "exponential" ? base * 2 ** Math.max(0, tryNumber - 1) : base;
  return Math.min(delay, MAX_RETRY_DELAY_MS);
}
