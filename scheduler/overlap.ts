// The overlap policy (README.md, "Scheduling rules"): what a schedule tick that comes due does while
// runs of its DAG are queued or running. Pure; the scheduler applies the answer in the transaction
// that creates the tick's run.
import type { OverlapPolicy } from "../sdk/definition.ts";

export interface ActiveRun {
  runId: string;
  state: string;
}

export type OverlapAction<R extends ActiveRun> =
  | { kind: "create"; replace: R[] }
  | { kind: "skip"; reason: string };

/**
 * `active` are the DAG's queued and running runs the policy weighs (its scheduled and manual runs; a
 * live backfill's runs stand apart). "allow" creates the run (maxActiveRuns then bounds how many run),
 * "forbid" skips the tick while any is active, "replace" creates it and cancels them.
 */
export function overlapAction<R extends ActiveRun>(policy: OverlapPolicy, active: readonly R[]): OverlapAction<R> {
  if (active.length === 0 || policy === "allow") return { kind: "create", replace: [] };
  if (policy === "replace") return { kind: "create", replace: [...active] };
  const listed = active.slice(0, 3).map((r) => `${r.runId} (${r.state})`).join(", ");
  const more = active.length > 3 ? ` and ${active.length - 3} more` : "";
  return { kind: "skip", reason: `overlap is "forbid" and ${active.length === 1 ? "a run was" : "runs were"} active: ${listed}${more}` };
}
