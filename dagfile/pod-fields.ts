// Checks the Pod fields a task may set (and a DAG's podDefaults, and an init container or a sidecar),
// keeping each as given when it is valid. How podDefaults merge under a task's fields is pod-layers.ts.
import { isIP } from "node:net";
import { TASK_CONTAINER_NAME } from "../lib/pod-contract.ts";
import type { ExtraContainer, PodTaskSpec, ResourceList, Resources } from "../sdk/definition.ts";
import {
  checkArray,
  checkBoolean,
  checkKeyedList,
  checkKnownKeys,
  checkObject,
  checkString,
  checkStringArray,
  checkStringRecord,
  describe,
  didYouMean,
  isPlainObject,
  joinPath,
  passThroughObject,
  type Problems,
} from "./check.ts";
import { checkLabels, checkName, templated } from "./kube-names.ts";
import { checkEnv, checkEnvFrom } from "./pod-env.ts";
import { checkSecurityContext } from "./pod-security.ts";
import type { SourcePosition } from "./types.ts";

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

const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];

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
      return passThroughObject(problems, at)(path, value);
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

