// Checks one task's options and pod spec. Graph-level checks (dependsOn targets, cycles, template
// references) need every task and live in validate.ts.
import { TRIGGER_RULES } from "../sdk/definition.ts";
import type { PodTaskSpec, ResourceList, RetryBackoff, TriggerRule } from "../sdk/definition.ts";
import {
  checkJson,
  checkString,
  checkStringArray,
  checkStringRecord,
  describe,
  isPlainObject,
  joinPath,
  type Problems,
} from "./check.ts";
import { parseDuration } from "./duration.ts";
import type { SourcePosition } from "./types.ts";

export const TASK_DEFAULT_KEYS = ["retries", "infraRetries", "retryDelay", "retryBackoff", "timeout", "triggerRule", "pool", "priority"] as const;
/** What a pool may be called (the API's `PUT /api/v1/pools/{name}` checks the same). */
export const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export const TASK_OPTION_KEYS = ["dependsOn", ...TASK_DEFAULT_KEYS] as const;
export const FUNCTION_TASK_KEYS = [...TASK_OPTION_KEYS, "resources"] as const;
export const POD_SPEC_KEYS = [
  "image",
  "command",
  "args",
  "env",
  "resources",
  "volumes",
  "volumeMounts",
  "nodeSelector",
  "tolerations",
  "affinity",
  "serviceAccountName",
  "imagePullPolicy",
  "labels",
  "annotations",
] as const;
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
}

export function checkTaskOptionValues(
  problems: Problems,
  path: string,
  options: Record<string, unknown>,
  at?: SourcePosition,
): PartialTaskOptions {
  const out: PartialTaskOptions = {};
  const { retries, infraRetries, retryDelay, retryBackoff, timeout, triggerRule, pool, priority } = options;
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

function checkResourceList(problems: Problems, path: string, value: unknown, at?: SourcePosition): ResourceList | undefined {
  const list = checkStringRecord(problems, path, value, at);
  if (list === undefined) return undefined;
  for (const [name, quantity] of Object.entries(list)) {
    // Kubernetes quantities: "100m", "0.5", "64Mi", "1e3", "2G".
    if (!/^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/.test(quantity ?? "")) {
      problems.add(joinPath(path, name), `"${quantity}" is not a Kubernetes quantity, e.g. "100m", "0.5", "64Mi", "1Gi"`, at);
    }
  }
  return list;
}

export function checkResources(
  problems: Problems,
  path: string,
  value: unknown,
  at?: SourcePosition,
): { requests?: ResourceList; limits?: ResourceList } | undefined {
  if (!isPlainObject(value) || "$unsupported" in value) {
    problems.add(path, `must be an object like { requests: { cpu: "100m" }, limits: { memory: "256Mi" } }, got ${describe(value)}`, at);
    return undefined;
  }
  const out: { requests?: ResourceList; limits?: ResourceList } = {};
  for (const key of Object.keys(value)) {
    if (key !== "requests" && key !== "limits") {
      problems.add(joinPath(path, key), `unknown field "${key}"; resources have "requests" and "limits"`, at);
    }
  }
  if (value.requests !== undefined) out.requests = checkResourceList(problems, joinPath(path, "requests"), value.requests, at);
  if (value.limits !== undefined) out.limits = checkResourceList(problems, joinPath(path, "limits"), value.limits, at);
  return out;
}

function checkArray(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown[] | undefined {
  if (Array.isArray(value)) return checkJson(problems, path, value, at) ? value : undefined;
  problems.add(path, `must be an array, got ${describe(value)}`, at);
  return undefined;
}

/** Checks the Pod fields of a pod task; the result keeps only the fields that were given. */
export function checkPodSpec(
  problems: Problems,
  path: string,
  options: Record<string, unknown>,
  at?: SourcePosition,
): PodTaskSpec {
  const spec: Record<string, unknown> = {};
  const field = (key: string) => joinPath(path, key);
  const image = options.image;
  if (image === undefined) problems.add(field("image"), 'is required: the container image to run, e.g. "alpine:3.20"', at);
  else if (checkString(problems, field("image"), image, at) !== undefined) {
    if ((image as string).trim() === "") problems.add(field("image"), "must not be empty", at);
    else spec.image = image;
  }
  for (const key of ["command", "args"] as const) {
    if (options[key] !== undefined) spec[key] = checkStringArray(problems, field(key), options[key], at);
  }
  for (const key of ["env", "nodeSelector", "labels", "annotations"] as const) {
    if (options[key] !== undefined) spec[key] = checkStringRecord(problems, field(key), options[key], at);
  }
  if (options.resources !== undefined) spec.resources = checkResources(problems, field("resources"), options.resources, at);
  for (const key of ["volumes", "volumeMounts", "tolerations"] as const) {
    if (options[key] !== undefined) spec[key] = checkArray(problems, field(key), options[key], at);
  }
  if (options.affinity !== undefined) {
    if (isPlainObject(options.affinity) && checkJson(problems, field("affinity"), options.affinity, at)) spec.affinity = options.affinity;
    else if (!isPlainObject(options.affinity)) problems.add(field("affinity"), `must be an object, got ${describe(options.affinity)}`, at);
  }
  if (options.serviceAccountName !== undefined) {
    spec.serviceAccountName = checkString(problems, field("serviceAccountName"), options.serviceAccountName, at);
  }
  const pull = options.imagePullPolicy;
  if (pull !== undefined) {
    if (pull === "Always" || pull === "IfNotPresent" || pull === "Never") spec.imagePullPolicy = pull;
    else problems.add(field("imagePullPolicy"), `must be "Always", "IfNotPresent" or "Never", got ${describe(pull)}`, at);
  }
  for (const key of Object.keys(spec)) if (spec[key] === undefined) delete spec[key];
  return spec as unknown as PodTaskSpec;
}
