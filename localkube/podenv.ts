// The environment a container process gets: the host's PATH and HOME (so host commands resolve),
// HOSTNAME, and the pod's `env` with `$(VAR)` expansion and the downward-API fields that make sense
// for a host process.

import { HOST_IP, NODE_NAME } from "./podstatus.ts";
import { expandVars } from "./process.ts";
import type { KObject } from "./store.ts";

export function containerEnv(pod: KObject, c: any): Record<string, string> {
  const env: Record<string, string> = { HOSTNAME: pod.metadata.name };
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  for (const e of c.env ?? []) {
    if (typeof e.value === "string") env[e.name] = expandVars(e.value, env);
    else if (e.valueFrom?.fieldRef?.fieldPath) {
      const v = fieldRef(pod, e.valueFrom.fieldRef.fieldPath);
      if (v !== undefined) env[e.name] = v;
    } else if (!e.valueFrom) env[e.name] = "";
  }
  return env;
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
    "status.podIP": HOST_IP,
  };
  const v = simple[path];
  return v === undefined ? undefined : String(v);
}
