// How Pod fields merge, layer over layer: the DAG's podDefaults under a task's fields here, and in the
// executor the pod template under those, and Ferry's own fields over everything (README.md, "Pod spec").
// The same rules serve both shapes (a task's, with env as an object, and Kubernetes', with env as a list).
import { isPlainObject } from "./check.ts";

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
