// Every Pod is findable from the database and back: its name is derived from the task try alone (so a
// second create of the same try gets 409 and is adopted), and its labels carry the ids.
import { createHash } from "node:crypto";
import type { TryIdentity } from "../lib/pod-contract.ts";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "ferry";
export const DAG_LABEL = "ferry.dev/dag";
export const RUN_LABEL = "ferry.dev/run";
export const TASK_LABEL = "ferry.dev/task";
export const TRY_LABEL = "ferry.dev/try";
export const POD_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

function slug(s: string, max: number): string {
  const cleaned = s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return cleaned.slice(0, max).replace(/-+$/, "") || "x";
}

/** A DNS-1123 name of at most 63 characters, unique per (dag, run, task, try). */
export function podNameFor(t: TryIdentity): string {
  const hash = createHash("sha256").update(`${t.dagId}\n${t.runId}\n${t.taskId}`).digest("hex").slice(0, 10);
  return `${slug(t.dagId, 18)}-${slug(t.taskId, 18)}-${hash}-${t.tryNumber}`;
}

/** A label value (at most 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends); exact ids go in annotations. */
export function labelValue(s: string): string {
  let v = s.replace(/[^A-Za-z0-9_.-]+/g, "_");
  if (v.length > 63) v = v.slice(0, 52) + "_" + createHash("sha256").update(s).digest("hex").slice(0, 10);
  return v.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

export function podLabels(t: TryIdentity): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [DAG_LABEL]: labelValue(t.dagId),
    [RUN_LABEL]: labelValue(t.runId),
    [TASK_LABEL]: labelValue(t.taskId),
    [TRY_LABEL]: String(t.tryNumber),
  };
}

export function podAnnotations(t: TryIdentity): Record<string, string> {
  return { [DAG_LABEL]: t.dagId, [RUN_LABEL]: t.runId, [TASK_LABEL]: t.taskId, [TRY_LABEL]: String(t.tryNumber) };
}
