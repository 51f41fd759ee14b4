// The environment a container process gets: the host's PATH and HOME (so host commands resolve),
// HOSTNAME, then the container's `envFrom` and `env` in the kubelet's order (envFrom first, each `env`
// entry after it, `$(VAR)` expanded over what came before), with the downward-API fields that make sense
// for a host process and the Secrets and ConfigMaps localkube stores. A reference that does not resolve
// is the kubelet's error, which it reports as the container's CreateContainerConfigError.

import { HOST_IP, NODE_NAME } from "./podstatus.ts";
import { expandVars } from "./process.ts";
import type { KObject } from "./store.ts";

/** Reads a stored Secret or ConfigMap of the pod's namespace. */
export type ConfigLookup = (resource: "secrets" | "configmaps", name: string) => KObject | undefined;

export type EnvResult = { env: Record<string, string> } | { error: string };

const KIND = { secrets: "Secret", configmaps: "ConfigMap" } as const;
// The kubelet's secret and configmap managers answer NotFound for the singular resource.
const SINGULAR = { secrets: "secret", configmaps: "configmap" } as const;

/** A Secret's or ConfigMap's values as strings (a Secret's data, and a ConfigMap's binaryData, are base64). */
function values(resource: "secrets" | "configmaps", o: KObject): Record<string, string> {
  const out: Record<string, string> = {};
  if (resource === "configmaps") {
    for (const [k, v] of Object.entries(o.binaryData ?? {})) out[k] = Buffer.from(String(v), "base64").toString("utf8");
    Object.assign(out, o.data ?? {});
  } else for (const [k, v] of Object.entries(o.data ?? {})) out[k] = Buffer.from(String(v), "base64").toString("utf8");
  return out;
}

export function containerEnv(pod: KObject, c: any, lookup: ConfigLookup = () => undefined): EnvResult {
  const env: Record<string, string> = { HOSTNAME: pod.metadata.name };
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  const ns = String(pod.metadata.namespace);
  const cache = new Map<string, Record<string, string> | null>();
  const read = (resource: "secrets" | "configmaps", name: string) => {
    const key = `${resource}/${name}`;
    if (!cache.has(key)) {
      const o = lookup(resource, name);
      cache.set(key, o ? values(resource, o) : null);
    }
    return cache.get(key)!;
  };
  for (const from of Array.isArray(c.envFrom) ? c.envFrom : []) {
    const resource = from?.secretRef ? "secrets" : from?.configMapRef ? "configmaps" : null;
    if (!resource) continue;
    const ref = from.secretRef ?? from.configMapRef;
    const data = read(resource, String(ref.name));
    if (!data) {
      if (ref.optional === true) continue;
      return { error: `${SINGULAR[resource]} "${ref.name}" not found` };
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ""}${k}`] = v;
  }
  for (const e of Array.isArray(c.env) ? c.env : []) {
    if (typeof e.value === "string") env[e.name] = expandVars(e.value, env);
    else if (e.valueFrom?.fieldRef?.fieldPath) {
      const v = fieldRef(pod, e.valueFrom.fieldRef.fieldPath);
      if (v !== undefined) env[e.name] = v;
    } else if (e.valueFrom?.secretKeyRef || e.valueFrom?.configMapKeyRef) {
      const resource = e.valueFrom.secretKeyRef ? "secrets" : "configmaps";
      const ref = e.valueFrom.secretKeyRef ?? e.valueFrom.configMapKeyRef;
      const data = read(resource, String(ref.name));
      if (!data) {
        if (ref.optional === true) continue;
        return { error: `${SINGULAR[resource]} "${ref.name}" not found` };
      }
      if (!Object.prototype.hasOwnProperty.call(data, ref.key)) {
        if (ref.optional === true) continue;
        return { error: `couldn't find key ${ref.key} in ${KIND[resource]} ${ns}/${ref.name}` };
      }
      env[e.name] = data[ref.key]!;
    } else if (!e.valueFrom) env[e.name] = "";
  }
  return { env };
}

/** The downward-API fields a host process can meaningfully get. */
function fieldRef(pod: KObject, path: string): string | undefined {
  const m = path.match(/^metadata\.(labels|annotations)\['(.+)'\]$/);
  if (m) return pod.metadata[m[1]]?.[m[2]];
  const simple: Record<string, unknown> = {
    "metadata.name": pod.metadata.name,
    "metadata.namespace": pod.metadata.namespace,
    "metadata.uid": pod.metadata.uid,
    "spec.nodeName": NODE_NAME,
    "spec.serviceAccountName": pod.spec.serviceAccountName,
    "status.hostIP": HOST_IP,
    "status.hostIPs": HOST_IP,
    "status.podIP": HOST_IP,
    "status.podIPs": HOST_IP,
  };
  const v = simple[path];
  return v === undefined ? undefined : String(v);
}
