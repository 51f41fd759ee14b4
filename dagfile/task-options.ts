// A task's options besides its Pod fields (retries, timeout, trigger rule, pool, ...): the keys a task
// of each kind takes, and the options' values checked. Graph-level checks (dependsOn targets, cycles,
// template references) need every task and live in validate.ts.
import { TRIGGER_RULES } from "../sdk/definition.ts";
import type { RetryBackoff, TriggerRule } from "../sdk/definition.ts";
import { describe, joinPath, type Problems } from "./check.ts";
import { parseDuration } from "./duration.ts";
import { FUNCTION_POD_KEYS, POD_SPEC_KEYS } from "./pod-fields.ts";
import type { SourcePosition } from "./types.ts";

export const TASK_DEFAULT_KEYS = ["retries", "infraRetries", "retryDelay", "retryBackoff", "timeout", "triggerRule", "pool", "priority", "namespace"] as const;
/** What a pool may be called (the API's `PUT /api/v1/pools/{name}` checks the same). */
export const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const TASK_OPTION_KEYS = ["dependsOn", ...TASK_DEFAULT_KEYS] as const;
export const FUNCTION_TASK_KEYS = [...TASK_OPTION_KEYS, ...FUNCTION_POD_KEYS] as const;
export const POD_TASK_KEYS = [...POD_SPEC_KEYS, ...TASK_OPTION_KEYS] as const;

/** Options as given (task or DAG defaults), checked and normalised; unset ones stay undefined. */
export interface PartialTaskOptions {
  retries?: number;
  infraRetries?: number;
  retryDelayMs?: number;
  retryBackoff?: RetryBackoff;
  timeoutMs?: number | null;
  triggerRule?: TriggerRule;
  pool?: string;
  priority?: number;
  namespace?: string;
}

export function checkTaskOptionValues(
  problems: Problems,
  path: string,
  options: Record<string, unknown>,
  at?: SourcePosition,
): PartialTaskOptions {
  const out: PartialTaskOptions = {};
  const { retries, infraRetries, retryDelay, retryBackoff, timeout, triggerRule, pool, priority, namespace } = options;
  if (namespace !== undefined) {
    if (typeof namespace === "string" && NAMESPACE_NAME.test(namespace)) out.namespace = namespace;
    else problems.add(joinPath(path, "namespace"), `must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63), got ${describe(namespace)}`, at);
  }
  if (pool !== undefined) {
    if (typeof pool === "string" && POOL_NAME.test(pool)) out.pool = pool;
    else problems.add(joinPath(path, "pool"), `must be a pool name (1 to 64 letters, digits, "_", "-" or "."), got ${describe(pool)}`, at);
  }
  if (priority !== undefined) {
    if (typeof priority === "number" && Number.isInteger(priority) && Math.abs(priority) <= 1_000_000) out.priority = priority;
    else problems.add(joinPath(path, "priority"), `must be an integer from -1000000 to 1000000, got ${describe(priority)}`, at);
  }
  if (retries !== undefined) {
    if (typeof retries === "number" && Number.isInteger(retries) && retries >= 0) out.retries = retries;
    else problems.add(joinPath(path, "retries"), `must be a non-negative integer, got ${describe(retries)}`, at);
  }
  if (infraRetries !== undefined) {
    if (typeof infraRetries === "number" && Number.isInteger(infraRetries) && infraRetries >= 0 && infraRetries <= 100) out.infraRetries = infraRetries;
    else problems.add(joinPath(path, "infraRetries"), `must be an integer from 0 to 100, got ${describe(infraRetries)}`, at);
  }
  if (retryDelay !== undefined) {
    const parsed = parseDuration(retryDelay);
    if (parsed.ok) out.retryDelayMs = parsed.ms;
    else problems.add(joinPath(path, "retryDelay"), parsed.message, at);
  }
  if (retryBackoff !== undefined) {
    if (retryBackoff === "fixed" || retryBackoff === "exponential") out.retryBackoff = retryBackoff;
    else problems.add(joinPath(path, "retryBackoff"), `must be "fixed" or "exponential", got ${describe(retryBackoff)}`, at);
  }
  if (timeout === null) out.timeoutMs = null;
  else if (timeout !== undefined) {
    const parsed = parseDuration(timeout);
    if (parsed.ok && parsed.ms >= 1000) out.timeoutMs = parsed.ms;
    else if (parsed.ok) problems.add(joinPath(path, "timeout"), "must be at least 1s (Pods are timed in whole seconds), or null for no timeout", at);
    else problems.add(joinPath(path, "timeout"), `${parsed.message}, or null for no timeout`, at);
  }
  if (triggerRule !== undefined) {
    if ((TRIGGER_RULES as readonly unknown[]).includes(triggerRule)) out.triggerRule = triggerRule as TriggerRule;
    else problems.add(joinPath(path, "triggerRule"), `must be one of ${TRIGGER_RULES.join(", ")}; got ${describe(triggerRule)}`, at);
  }
  return out;
}
