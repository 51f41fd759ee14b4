// Checks one task's options and Pod fields, and says how Pod fields merge layer over layer
// (mergePodLayers). Graph-level checks (dependsOn targets, cycles, template references) need every
// task and live in validate.ts.
import { isIP } from "node:net";
import { TASK_CONTAINER_NAME } from "../lib/pod-contract.ts";
import { TRIGGER_RULES } from "../sdk/definition.ts";
import type { EnvValue, ExtraContainer, PodTaskSpec, ResourceList, Resources, RetryBackoff, TriggerRule } from "../sdk/definition.ts";
import {
  checkJson,
  checkKnownKeys,
  checkString,
  checkStringArray,
  checkStringRecord,
  describe,
  didYouMean,
  isPlainObject,
  joinPath,
  type Problems,
} from "./check.ts";
import { parseDuration } from "./duration.ts";
import type { SourcePosition } from "./types.ts";

export const TASK_DEFAULT_KEYS = ["retries", "infraRetries", "retryDelay", "retryBackoff", "timeout", "triggerRule", "pool", "priority", "namespace"] as const;
/** What a pool may be called (the API's `PUT /api/v1/pools/{name}` checks the same). */
export const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const TASK_OPTION_KEYS = ["dependsOn", ...TASK_DEFAULT_KEYS] as const;
/** The Pod fields every task may set (and a DAG's podDefaults), besides a pod task's image. */
export const POD_FIELD_KEYS = [
  "command",
  "args",
  "env",
  "envFrom",
  "resources",
  "volumes",
  "volumeMounts",
  "nodeSelector",
  "tolerations",
  "affinity",
  "serviceAccountName",
  "automountServiceAccountToken",
  "imagePullPolicy",
  "imagePullSecrets",
  "securityContext",
  "podSecurityContext",
  "priorityClassName",
  "runtimeClassName",
  "hostAliases",
  "initContainers",
  "sidecars",
  "labels",
  "annotations",
] as const;
export const POD_SPEC_KEYS = ["image", ...POD_FIELD_KEYS] as const;
/** A function task's container is the worker's: its image, command and args are Ferry's. */
export const FUNCTION_POD_KEYS = POD_FIELD_KEYS.filter((k) => k !== "command" && k !== "args");
export const FUNCTION_TASK_KEYS = [...TASK_OPTION_KEYS, ...FUNCTION_POD_KEYS] as const;
export const POD_TASK_KEYS = [...POD_SPEC_KEYS, ...TASK_OPTION_KEYS] as const;
/** The fields of an init container or a sidecar. */
export const CONTAINER_KEYS = [
  "name",
  "image",
  "command",
  "args",
  "workingDir",
  "env",
  "envFrom",
  "resources",
  "volumeMounts",
  "securityContext",
  "imagePullPolicy",
] as const;
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

// Kubernetes' name rules (apimachinery/pkg/util/validation), with their wording where it helps.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;
/** The downward-API fields an env var can read (Kubernetes' validEnvDownwardAPIFieldPathExpressions). */
const FIELD_PATHS = [
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.serviceAccountName",
  "status.hostIP",
  "status.hostIPs",
  "status.podIP",
  "status.podIPs",
];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const SECCOMP_TYPES = ["RuntimeDefault", "Localhost", "Unconfined"];

/** A string holding a template is checked when it is rendered (by the cluster), not here. */
const templated = (value: string) => value.includes("{{");

function checkName(problems: Problems, path: string, value: unknown, rule: "label" | "subdomain", what: string, at?: SourcePosition): string | undefined {
  const name = checkString(problems, path, value, at);
  if (name === undefined || templated(name)) return name;
  const ok = rule === "label" ? DNS_LABEL.test(name) && name.length <= 63 : DNS_SUBDOMAIN.test(name) && name.length <= 253;
  if (!ok) {
    const shape = rule === "label" ? "a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)" : "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)";
    problems.add(path, `${JSON.stringify(name)} is not a valid ${what}: it must be ${shape}`, at);
    return undefined;
  }
  return name;
}

function checkBoolean(problems: Problems, path: string, value: unknown, at?: SourcePosition): boolean | undefined {
  if (typeof value === "boolean") return value;
  problems.add(path, `must be true or false, got ${describe(value)}`, at);
  return undefined;
}

function checkObject(problems: Problems, path: string, value: unknown, shape: string, at?: SourcePosition): Record<string, unknown> | undefined {
  if (isPlainObject(value) && !("$unsupported" in value)) return value;
  problems.add(path, `must be an object like ${shape}, got ${describe(value)}`, at);
  return undefined;
}

/** Checks an object's keys and each known field; unknown keys are problems with a suggestion. */
function checkFields(
  problems: Problems,
  path: string,
  value: Record<string, unknown>,
  checks: Record<string, (path: string, value: unknown) => unknown>,
  what: string,
  at?: SourcePosition,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = Object.keys(checks);
  for (const [key, item] of Object.entries(value)) {
    if (!known.includes(key)) problems.add(joinPath(path, key), `unknown ${what} field "${key}"; it has ${known.join(", ")}.${didYouMean(key, known)}`, at);
    else if (item !== undefined) {
      const checked = checks[key]!(joinPath(path, key), item);
      if (checked !== undefined) out[key] = checked;
    }
  }
  return out;
}

function checkResourceList(problems: Problems, path: string, value: unknown, at?: SourcePosition): ResourceList | undefined {
  const list = checkStringRecord(problems, path, value, at);
  if (list === undefined) return undefined;
  for (const [name, quantity] of Object.entries(list)) {
    if (!["cpu", "memory", "ephemeral-storage"].includes(name) && !name.startsWith("hugepages-") && !name.includes("/")) {
      problems.add(
        joinPath(path, name),
        `unknown resource "${name}": Kubernetes knows cpu, memory, ephemeral-storage, hugepages-<size> and extended resources with a domain, like "nvidia.com/gpu".${didYouMean(name, ["cpu", "memory", "ephemeral-storage"])}`,
        at,
      );
    }
    // Kubernetes quantities: "100m", "0.5", "64Mi", "1e3", "2G".
    else if (!QUANTITY.test(quantity ?? "")) {
      problems.add(joinPath(path, name), `"${quantity}" is not a Kubernetes quantity, e.g. "100m", "0.5", "64Mi", "1Gi"`, at);
    }
  }
  return list;
}

export function checkResources(problems: Problems, path: string, value: unknown, at?: SourcePosition): Resources | undefined {
  if (!isPlainObject(value) || "$unsupported" in value) {
    problems.add(path, `must be an object like { requests: { cpu: "100m" }, limits: { memory: "256Mi" } }, got ${describe(value)}`, at);
    return undefined;
  }
  const out: Resources = {};
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

/** A list of Kubernetes objects passed through as given, each with the string field `key` it merges by, unique. */
function checkKeyedList(problems: Problems, path: string, value: unknown, key: string, example: string, at?: SourcePosition): unknown[] | undefined {
  const list = checkArray(problems, path, value, at);
  if (list === undefined) return undefined;
  const seen = new Set<string>();
  let ok = true;
  list.forEach((item, i) => {
    const itemPath = joinPath(path, i);
    if (!isPlainObject(item)) {
      problems.add(itemPath, `must be an object like ${example}, got ${describe(item)}`, at);
      ok = false;
    } else if (typeof item[key] !== "string" || item[key] === "") {
      problems.add(joinPath(itemPath, key), `is required: a string (entries are merged by ${key})`, at);
      ok = false;
    } else if (seen.has(item[key])) {
      problems.add(joinPath(itemPath, key), `${JSON.stringify(item[key])} is given twice; each ${key} must be unique`, at);
      ok = false;
    } else seen.add(item[key]);
  });
  return ok ? list : undefined;
}

function checkRefName(problems: Problems, path: string, value: unknown, kind: "Secret" | "ConfigMap", at?: SourcePosition): string | undefined {
  return checkName(problems, path, value, "subdomain", `${kind} name`, at);
}

function checkKeyRef(problems: Problems, path: string, value: unknown, kind: "Secret" | "ConfigMap", at?: SourcePosition): unknown {
  const ref = checkObject(problems, path, value, `{ name: "db", key: "password" }`, at);
  if (ref === undefined) return undefined;
  const out = checkFields(
    problems,
    path,
    ref,
    {
      name: (p, v) => checkRefName(problems, p, v, kind, at),
      key: (p, v) => {
        const k = checkString(problems, p, v, at);
        if (k !== undefined && !templated(k) && (!CONFIG_KEY.test(k) || k.length > 253)) {
          problems.add(p, `${JSON.stringify(k)} is not a valid ${kind} key: letters, digits, '-', '_' and '.'`, at);
          return undefined;
        }
        return k;
      },
      optional: (p, v) => checkBoolean(problems, p, v, at),
    },
    kind === "Secret" ? "secretKeyRef" : "configMapKeyRef",
    at,
  );
  for (const key of ["name", "key"]) if (ref[key] === undefined) problems.add(joinPath(path, key), "is required", at);
  return out;
}

function checkFieldRef(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown {
  const ref = checkObject(problems, path, value, `{ fieldPath: "metadata.name" }`, at);
  if (ref === undefined) return undefined;
  const out = checkFields(
    problems,
    path,
    ref,
    {
      fieldPath: (p, v) => {
        const fp = checkString(problems, p, v, at);
        if (fp === undefined || FIELD_PATHS.includes(fp) || /^metadata\.(labels|annotations)\['[^']+'\]$/.test(fp)) return fp;
        problems.add(p, `${JSON.stringify(fp)} is not a field an env var can read: use one of ${FIELD_PATHS.join(", ")}, metadata.labels['<key>'] or metadata.annotations['<key>']`, at);
        return undefined;
      },
      apiVersion: (p, v) => (v === "v1" ? v : problems.add(p, `must be "v1", got ${describe(v)}`, at)),
    },
    "fieldRef",
    at,
  );
  if (ref.fieldPath === undefined) problems.add(joinPath(path, "fieldPath"), "is required", at);
  return out;
}

/** `{ valueFrom: { secretKeyRef | configMapKeyRef | fieldRef } }`, exactly one source. */
function checkEnvSource(problems: Problems, path: string, value: Record<string, unknown>, at?: SourcePosition): unknown {
  const out = checkFields(
    problems,
    path,
    value,
    {
      valueFrom: (p, v) => {
        const from = checkObject(problems, p, v, `{ secretKeyRef: { name: "db", key: "password" } }`, at);
        if (from === undefined) return undefined;
        const sources = Object.keys(from);
        if (sources.length !== 1) {
          problems.add(p, `must name exactly one source: secretKeyRef, configMapKeyRef or fieldRef; got ${sources.length === 0 ? "none" : sources.join(", ")}`, at);
        }
        return checkFields(
          problems,
          p,
          from,
          {
            secretKeyRef: (q, x) => checkKeyRef(problems, q, x, "Secret", at),
            configMapKeyRef: (q, x) => checkKeyRef(problems, q, x, "ConfigMap", at),
            fieldRef: (q, x) => checkFieldRef(problems, q, x, at),
          },
          "valueFrom",
          at,
        );
      },
    },
    "env value",
    at,
  );
  if (value.valueFrom === undefined) problems.add(joinPath(path, "valueFrom"), "is required: an env value is a string or { valueFrom: { ... } }", at);
  return out;
}

/** `{ NAME: "value" | { valueFrom: ... } }`. */
function checkEnv(problems: Problems, path: string, value: unknown, at?: SourcePosition): Record<string, EnvValue> | undefined {
  if (!isPlainObject(value) || "$unsupported" in value) {
    problems.add(path, `must be an object of env vars like { NAME: "value", TOKEN: { valueFrom: { secretKeyRef: { name: "s", key: "k" } } } }, got ${describe(value)}`, at);
    return undefined;
  }
  let ok = true;
  for (const [name, item] of Object.entries(value)) {
    const itemPath = joinPath(path, name);
    if (!ENV_NAME.test(name)) {
      problems.add(itemPath, `"${name}" is not a valid env var name: letters, digits, '_', '-' and '.', not starting with a digit`, at);
      ok = false;
    }
    if (typeof item === "string") continue;
    if (isPlainObject(item) && !("$unsupported" in item)) {
      const before = problems.list.length;
      checkEnvSource(problems, itemPath, item, at);
      ok = ok && problems.list.length === before;
    } else {
      problems.add(itemPath, `must be a string or { valueFrom: ... }, got ${describe(item)} (convert it with String())`, at);
      ok = false;
    }
  }
  return ok ? (value as Record<string, EnvValue>) : undefined;
}

function checkEnvFrom(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown[] | undefined {
  if (!Array.isArray(value)) {
    problems.add(path, `must be an array like [{ secretRef: { name: "creds" } }, { configMapRef: { name: "settings" }, prefix: "APP_" }], got ${describe(value)}`, at);
    return undefined;
  }
  const before = problems.list.length;
  value.forEach((item, i) => {
    const itemPath = joinPath(path, i);
    const entry = checkObject(problems, itemPath, item, `{ secretRef: { name: "creds" } }`, at);
    if (entry === undefined) return;
    const ref = (kind: "Secret" | "ConfigMap") => (p: string, v: unknown) => {
      const r = checkObject(problems, p, v, `{ name: "x" }`, at);
      if (r === undefined) return undefined;
      if (r.name === undefined) problems.add(joinPath(p, "name"), "is required", at);
      return checkFields(problems, p, r, { name: (q, x) => checkRefName(problems, q, x, kind, at), optional: (q, x) => checkBoolean(problems, q, x, at) }, kind === "Secret" ? "secretRef" : "configMapRef", at);
    };
    checkFields(
      problems,
      itemPath,
      entry,
      {
        secretRef: ref("Secret"),
        configMapRef: ref("ConfigMap"),
        prefix: (p, v) => {
          const prefix = checkString(problems, p, v, at);
          if (prefix !== undefined && prefix !== "" && !templated(prefix) && !ENV_NAME.test(prefix)) problems.add(p, `${JSON.stringify(prefix)} is not a valid env var name prefix`, at);
          return prefix;
        },
      },
      "envFrom",
      at,
    );
    if ((entry.secretRef === undefined) === (entry.configMapRef === undefined)) problems.add(itemPath, "must name exactly one of secretRef and configMapRef", at);
  });
  return problems.list.length === before ? value : undefined;
}

function checkInt(problems: Problems, path: string, value: unknown, min: number, at?: SourcePosition): number | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= 2147483647) return value;
  problems.add(path, `must be an integer of at least ${min}, got ${describe(value)}`, at);
  return undefined;
}

function checkSeccomp(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown {
  const profile = checkObject(problems, path, value, `{ type: "RuntimeDefault" }`, at);
  if (profile === undefined) return undefined;
  const out = checkFields(
    problems,
    path,
    profile,
    {
      type: (p, v) => (SECCOMP_TYPES.includes(v as string) ? v : problems.add(p, `must be one of ${SECCOMP_TYPES.join(", ")}, got ${describe(v)}`, at)),
      localhostProfile: (p, v) => checkString(problems, p, v, at),
    },
    "seccompProfile",
    at,
  );
  if (profile.type === undefined) problems.add(joinPath(path, "type"), `is required: ${SECCOMP_TYPES.join(", ")}`, at);
  else if ((profile.type === "Localhost") !== (profile.localhostProfile !== undefined)) {
    problems.add(joinPath(path, "localhostProfile"), 'is required with type "Localhost", and only then', at);
  }
  return out;
}

const json = (problems: Problems, at?: SourcePosition) => (p: string, v: unknown) => (isPlainObject(v) && checkJson(problems, p, v, at) ? v : isPlainObject(v) ? undefined : problems.add(p, `must be an object, got ${describe(v)}`, at));

function checkSecurityContext(problems: Problems, path: string, value: unknown, level: "container" | "pod", at?: SourcePosition): unknown {
  const sc = checkObject(problems, path, value, level === "pod" ? "{ runAsUser: 1000, fsGroup: 2000 }" : "{ runAsUser: 1000, readOnlyRootFilesystem: true }", at);
  if (sc === undefined) return undefined;
  const int = (p: string, v: unknown) => checkInt(problems, p, v, 0, at);
  const bool = (p: string, v: unknown) => checkBoolean(problems, p, v, at);
  const shared = {
    runAsUser: int,
    runAsGroup: int,
    runAsNonRoot: bool,
    seccompProfile: (p: string, v: unknown) => checkSeccomp(problems, p, v, at),
    seLinuxOptions: json(problems, at),
    appArmorProfile: json(problems, at),
    windowsOptions: json(problems, at),
  };
  const checks =
    level === "container"
      ? {
          ...shared,
          readOnlyRootFilesystem: bool,
          allowPrivilegeEscalation: bool,
          privileged: bool,
          procMount: (p: string, v: unknown) => (v === "Default" || v === "Unmasked" ? v : problems.add(p, `must be "Default" or "Unmasked", got ${describe(v)}`, at)),
          capabilities: (p: string, v: unknown) => {
            const caps = checkObject(problems, p, v, `{ drop: ["ALL"], add: ["NET_BIND_SERVICE"] }`, at);
            if (caps === undefined) return undefined;
            const list = (q: string, x: unknown) => checkStringArray(problems, q, x, at);
            return checkFields(problems, p, caps, { add: list, drop: list }, "capabilities", at);
          },
        }
      : {
          ...shared,
          fsGroup: int,
          fsGroupChangePolicy: (p: string, v: unknown) => (v === "Always" || v === "OnRootMismatch" ? v : problems.add(p, `must be "Always" or "OnRootMismatch", got ${describe(v)}`, at)),
          supplementalGroups: (p: string, v: unknown) => {
            if (Array.isArray(v) && v.every((g) => typeof g === "number" && Number.isInteger(g) && g >= 0)) return v;
            return problems.add(p, `must be an array of group ids (non-negative integers), got ${describe(v)}`, at);
          },
          supplementalGroupsPolicy: (p: string, v: unknown) => (v === "Merge" || v === "Strict" ? v : problems.add(p, `must be "Merge" or "Strict", got ${describe(v)}`, at)),
          sysctls: (p: string, v: unknown) => checkKeyedList(problems, p, v, "name", `{ name: "net.ipv4.ip_local_port_range", value: "1024 65535" }`, at),
        };
  const out = checkFields(problems, path, sc, checks, level === "pod" ? "podSecurityContext" : "securityContext", at);
  if (sc.privileged === true && sc.allowPrivilegeEscalation === false) {
    problems.add(joinPath(path, "allowPrivilegeEscalation"), "cannot be false with privileged: true (Kubernetes refuses the Pod)", at);
  }
  return out;
}

function checkLabels(problems: Problems, path: string, value: unknown, kind: "label" | "annotation", at?: SourcePosition): Record<string, string> | undefined {
  const map = checkStringRecord(problems, path, value, at);
  if (map === undefined) return undefined;
  for (const [key, item] of Object.entries(map)) {
    const parts = key.split("/");
    const name = parts[parts.length - 1]!;
    const prefixOk = parts.length === 1 || (parts.length === 2 && DNS_SUBDOMAIN.test(parts[0]!) && parts[0]!.length <= 253);
    if (!prefixOk || !QUALIFIED_NAME.test(name) || name.length > 63) {
      problems.add(joinPath(path, key), `"${key}" is not a valid ${kind} key: an optional DNS subdomain and "/", then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`, at);
    } else if (kind === "label" && !templated(item) && (item.length > 63 || !LABEL_VALUE.test(item))) {
      problems.add(joinPath(path, key), `${JSON.stringify(item)} is not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`, at);
    }
  }
  return map;
}

/** Checks one Pod field (of a task, a DAG's podDefaults or an extra container) and returns it as kept. */
function checkPodField(problems: Problems, key: string, path: string, value: unknown, at?: SourcePosition): unknown {
  switch (key) {
    case "image": {
      const image = checkString(problems, path, value, at);
      if (image !== undefined && image.trim() === "") return problems.add(path, "must not be empty", at);
      return image;
    }
    case "command":
    case "args":
      return checkStringArray(problems, path, value, at);
    case "workingDir":
      return checkString(problems, path, value, at);
    case "env":
      return checkEnv(problems, path, value, at);
    case "envFrom":
      return checkEnvFrom(problems, path, value, at);
    case "resources":
      return checkResources(problems, path, value, at);
    case "volumes":
      return checkKeyedList(problems, path, value, "name", `{ name: "data", emptyDir: {} }`, at);
    case "volumeMounts": {
      const mounts = checkKeyedList(problems, path, value, "mountPath", `{ name: "data", mountPath: "/data" }`, at);
      mounts?.forEach((m, i) => {
        if (typeof (m as Record<string, unknown>).name !== "string") problems.add(joinPath(joinPath(path, i), "name"), "is required: the volume to mount", at);
      });
      return mounts;
    }
    case "tolerations":
      return checkArray(problems, path, value, at);
    case "affinity":
      return json(problems, at)(path, value);
    case "nodeSelector":
      return checkStringRecord(problems, path, value, at);
    case "labels":
      return checkLabels(problems, path, value, "label", at);
    case "annotations":
      return checkLabels(problems, path, value, "annotation", at);
    case "serviceAccountName":
      return checkName(problems, path, value, "subdomain", "service account name", at);
    case "priorityClassName":
      return checkName(problems, path, value, "subdomain", "priority class name", at);
    case "runtimeClassName":
      return checkName(problems, path, value, "subdomain", "runtime class name", at);
    case "automountServiceAccountToken":
      return checkBoolean(problems, path, value, at);
    case "imagePullPolicy":
      if (PULL_POLICIES.includes(value as string)) return value;
      return problems.add(path, `must be "Always", "IfNotPresent" or "Never", got ${describe(value)}`, at);
    case "imagePullSecrets": {
      const names = checkStringArray(problems, path, value, at);
      names?.forEach((n, i) => checkName(problems, joinPath(path, i), n, "subdomain", "Secret name", at));
      return names;
    }
    case "securityContext":
      return checkSecurityContext(problems, path, value, "container", at);
    case "podSecurityContext":
      return checkSecurityContext(problems, path, value, "pod", at);
    case "hostAliases": {
      const aliases = checkKeyedList(problems, path, value, "ip", `{ ip: "10.0.0.5", hostnames: ["db.internal"] }`, at);
      aliases?.forEach((a, i) => {
        const itemPath = joinPath(path, i);
        const alias = a as Record<string, unknown>;
        for (const k of Object.keys(alias)) if (k !== "ip" && k !== "hostnames") problems.add(joinPath(itemPath, k), `unknown field "${k}"; a host alias has ip and hostnames`, at);
        if (!templated(String(alias.ip)) && isIP(String(alias.ip)) === 0) problems.add(joinPath(itemPath, "ip"), `${JSON.stringify(alias.ip)} is not an IP address`, at);
        if (alias.hostnames === undefined) problems.add(joinPath(itemPath, "hostnames"), "is required: the names that resolve to ip", at);
        else checkStringArray(problems, joinPath(itemPath, "hostnames"), alias.hostnames, at);
      });
      return aliases;
    }
    default:
      return undefined;
  }
}

/**
 * Checks a list of init containers or sidecars. `names` collects the names across both lists of one
 * Pod fields object, which must be unique and not the task container's.
 */
function checkContainers(problems: Problems, path: string, value: unknown, names: Set<string>, at?: SourcePosition): ExtraContainer[] | undefined {
  if (!Array.isArray(value)) {
    problems.add(path, `must be an array of containers like [{ name: "setup", image: "alpine:3.20", command: ["sh", "-c", "..."] }], got ${describe(value)}`, at);
    return undefined;
  }
  const before = problems.list.length;
  const out = value.map((item, i) => {
    const itemPath = joinPath(path, i);
    const c = checkObject(problems, itemPath, item, `{ name: "setup", image: "alpine:3.20" }`, at);
    if (c === undefined) return undefined;
    checkKnownKeys(problems, itemPath, c, CONTAINER_KEYS, "container field", at);
    const kept: Record<string, unknown> = {};
    for (const key of CONTAINER_KEYS) {
      if (c[key] === undefined || key === "name") continue;
      const checked = checkPodField(problems, key, joinPath(itemPath, key), c[key], at);
      if (checked !== undefined) kept[key] = checked;
    }
    const name = c.name === undefined ? problems.add(joinPath(itemPath, "name"), "is required: a DNS-1123 label, unique in the Pod", at) : checkName(problems, joinPath(itemPath, "name"), c.name, "label", "container name", at);
    if (typeof name === "string") {
      if (name === TASK_CONTAINER_NAME) problems.add(joinPath(itemPath, "name"), `"${TASK_CONTAINER_NAME}" is the task's own container; give this one another name`, at);
      else if (names.has(name)) problems.add(joinPath(itemPath, "name"), `"${name}" is given twice; container names must be unique in the Pod (init containers and sidecars together)`, at);
      names.add(name);
    }
    if (c.image === undefined) problems.add(joinPath(itemPath, "image"), 'is required: the container image to run, e.g. "alpine:3.20"', at);
    return { name, ...kept } as ExtraContainer;
  });
  return problems.list.length === before ? (out as ExtraContainer[]) : undefined;
}

/**
 * Checks the Pod fields among `options` (those of `keys`, which the caller has checked for unknown
 * keys); the result keeps only the fields that were given and are valid.
 */
export function checkPodFields(
  problems: Problems,
  path: string,
  options: Record<string, unknown>,
  keys: readonly string[],
  at?: SourcePosition,
): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  const containerNames = new Set<string>();
  for (const key of keys) {
    if (options[key] === undefined) continue;
    const field = joinPath(path, key);
    const checked =
      key === "initContainers" || key === "sidecars" ? checkContainers(problems, field, options[key], containerNames, at) : checkPodField(problems, key, field, options[key], at);
    if (checked !== undefined) spec[key] = checked;
  }
  return spec;
}

/** Checks the Pod fields of a pod task (its image is checked once the DAG's podDefaults are merged). */
export function checkPodSpec(problems: Problems, path: string, options: Record<string, unknown>, at?: SourcePosition): Partial<PodTaskSpec> {
  return checkPodFields(problems, path, options, POD_SPEC_KEYS, at) as Partial<PodTaskSpec>;
}

// How Pod fields merge, layer over layer: the DAG's podDefaults under a task's fields here, and in the
// executor the pod template under those, and Ferry's own fields over everything (README.md, "Pod spec").
// The same rules serve both shapes (a task's, with env as an object, and Kubernetes', with env as a list).

/** Lists merged by a key: an entry with a key already there replaces it in place (or, for containers, is merged into it); new ones are appended. */
const KEYED_LISTS: Record<string, { key: string; entries: "replace" | "merge" }> = {
  env: { key: "name", entries: "replace" },
  volumes: { key: "name", entries: "replace" },
  volumeMounts: { key: "mountPath", entries: "replace" },
  imagePullSecrets: { key: "name", entries: "replace" },
  hostAliases: { key: "ip", entries: "replace" },
  sysctls: { key: "name", entries: "replace" },
  containers: { key: "name", entries: "merge" },
  initContainers: { key: "name", entries: "merge" },
  sidecars: { key: "name", entries: "merge" },
};
/** Objects replaced whole: their fields depend on each other (a profile's type and its path). */
const ATOMIC_OBJECTS = new Set(["seccompProfile", "appArmorProfile", "valueFrom"]);
/** Objects whose entries each replace whole (a task's env: a value or a valueFrom). */
const MAPS_OF_ATOMIC = new Set(["env"]);

const clone = <T>(value: T): T => (value === undefined ? value : structuredClone(value));

/**
 * `over` laid over `base`: objects merge field by field, keyed lists (KEYED_LISTS) by their key, other
 * lists and scalars are replaced, and an undefined field leaves the base's. Neither input is changed.
 */
export function mergePodLayers<T>(base: T, over: unknown, field = ""): T {
  if (over === undefined) return clone(base);
  if (base === undefined || base === null || ATOMIC_OBJECTS.has(field)) return clone(over) as T;
  if (Array.isArray(base) && Array.isArray(over)) {
    const rule = KEYED_LISTS[field];
    return (rule ? mergeKeyed(base, over, rule) : clone(over)) as T;
  }
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = clone(base);
    for (const [key, item] of Object.entries(over)) {
      if (item === undefined) continue;
      out[key] = MAPS_OF_ATOMIC.has(field) ? clone(item) : mergePodLayers(out[key], item, key);
    }
    return out as T;
  }
  return clone(over) as T;
}

function mergeKeyed(base: unknown[], over: unknown[], rule: { key: string; entries: "replace" | "merge" }): unknown[] {
  const keyOf = (item: unknown) => (typeof item === "string" ? item : isPlainObject(item) ? item[rule.key] : undefined);
  const out = base.map(clone);
  for (const item of over) {
    const key = keyOf(item);
    const i = key === undefined ? -1 : out.findIndex((x) => keyOf(x) === key);
    if (i < 0) out.push(clone(item));
    else out[i] = rule.entries === "merge" ? mergePodLayers(out[i], item) : clone(item);
  }
  return out;
}
