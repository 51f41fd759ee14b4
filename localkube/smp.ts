// Strategic merge patch (apimachinery/pkg/util/strategicpatch) for the Pod type: lists with a patch
// merge key (containers by name, env by name, ...) are merged element by element instead of replaced,
// and the patch directives kubectl generates are honoured ($patch: replace/delete, $setElementOrder,
// $deleteFromPrimitiveList, $retainKeys). `kubectl apply` depends on this: its second apply of a
// manifest sends e.g. {"spec":{"$setElementOrder/containers":[{"name":"main"}],"containers":[{"name":"main",...}]}}.

const CONTAINER_KEYS: Record<string, string> = { env: "name", ports: "containerPort", volumeMounts: "mountPath", volumeDevices: "devicePath", resizePolicy: "resourceName" };

/** Patch merge keys by path (list indexes left out), from the `patchMergeKey` tags of core/v1. */
const MERGE_KEYS: Record<string, string> = {
  "metadata.ownerReferences": "uid",
  "spec.volumes": "name",
  "spec.imagePullSecrets": "name",
  "spec.hostAliases": "ip",
  "spec.topologySpreadConstraints": "topologyKey",
  "spec.resourceClaims": "name",
  "spec.schedulingGates": "name",
  "status.conditions": "type",
};
for (const list of ["spec.containers", "spec.initContainers", "spec.ephemeralContainers"]) {
  MERGE_KEYS[list] = "name";
  for (const [field, key] of Object.entries(CONTAINER_KEYS)) MERGE_KEYS[`${list}.${field}`] = key;
}

/** Lists of scalars with the "merge" strategy: a patch adds to them instead of replacing. */
const MERGED_SCALAR_LISTS = new Set(["metadata.finalizers"]);

const isMap = (v: unknown): v is Record<string, any> => v !== null && typeof v === "object" && !Array.isArray(v);

export function strategicMerge(target: unknown, patch: unknown, path = ""): any {
  if (!isMap(patch)) return patch;
  if (patch.$patch === "delete") return undefined;
  if (patch.$patch === "replace") return stripDirectives(patch);
  const out: Record<string, any> = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys" || k.startsWith("$setElementOrder/")) continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = out[field].filter((x: unknown) => !v.includes(x));
      continue;
    }
    const child = path ? `${path}.${k}` : k;
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(out[k], v, child);
    else {
      const merged = strategicMerge(out[k], v, child);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  for (const [k, order] of Object.entries(patch)) {
    if (!k.startsWith("$setElementOrder/") || !Array.isArray(order)) continue;
    const field = k.slice("$setElementOrder/".length);
    if (Array.isArray(out[field])) out[field] = reorder(out[field], order, MERGE_KEYS[path ? `${path}.${field}` : field]);
  }
  if (Array.isArray(patch.$retainKeys)) for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k)) delete out[k];
  return out;
}

function mergeList(current: unknown, patch: unknown[], path: string): unknown[] {
  const cur = Array.isArray(current) ? current : [];
  if (MERGED_SCALAR_LISTS.has(path)) return [...cur, ...patch.filter((x) => !cur.includes(x))];
  const key = MERGE_KEYS[path];
  if (!key || patch.some((x) => isMap(x) && x.$patch === "replace")) return patch.filter((x) => !(isMap(x) && x.$patch === "replace")).map(stripDirectives);
  const out = [...cur];
  for (const item of patch) {
    if (!isMap(item)) continue;
    const i = out.findIndex((e) => isMap(e) && e[key] === item[key]);
    if (item.$patch === "delete") {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = strategicMerge(out[i], item, path);
    else out.push(strategicMerge({}, item, path));
  }
  return out;
}

/** Orders a merged list as `$setElementOrder` says; elements it does not name keep their place after. */
function reorder(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const id = (x: unknown) => (key && isMap(x) ? x[key] : x);
  const wanted = order.map(id);
  const named = wanted.map((w) => list.find((x) => id(x) === w)).filter((x) => x !== undefined);
  return [...named, ...list.filter((x) => !wanted.includes(id(x)))];
}

function stripDirectives(v: unknown): any {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isMap(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith("$")).map(([k, x]) => [k, stripDirectives(x)]));
}
