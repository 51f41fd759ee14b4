// What kubectl asks before it does anything: version, API discovery, and server-side Tables for `get`.

import { authorizationGroup } from "./authorization.ts";
import type { KObject, Resource } from "./store.ts";

export const MINOR = "31";
export function versionInfo() {
  return {
    major: "1",
    minor: MINOR,
    gitVersion: `v1.${MINOR}.0-localkube`,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2024-08-13T00:00:00Z",
    goVersion: "go1.22.5",
    compiler: "gc",
    platform: `${process.platform === "darwin" ? "darwin" : "linux"}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}

export function apiVersions(serverAddress: string) {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

/** The named groups: only authorization.k8s.io, for SelfSubjectAccessReview (authorization.ts). */
export const apiGroupList = () => ({ kind: "APIGroupList", apiVersion: "v1", groups: [authorizationGroup()] });

export function apiResourceList() {
  return {
    kind: "APIResourceList",
    groupVersion: "v1",
    resources: [
      { name: "events", singularName: "event", namespaced: true, kind: "Event", verbs: ["get", "list", "watch"], shortNames: ["ev"] },
      { name: "configmaps", singularName: "configmap", namespaced: true, kind: "ConfigMap", verbs: ["create", "delete", "get", "list", "watch"], shortNames: ["cm"] },
      { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", verbs: ["create", "delete", "get", "list", "watch"], shortNames: ["ns"] },
      {
        name: "pods",
        singularName: "pod",
        namespaced: true,
        kind: "Pod",
        verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        shortNames: ["po"],
        categories: ["all"],
      },
      { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
      { name: "pods/status", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
      { name: "secrets", singularName: "secret", namespaced: true, kind: "Secret", verbs: ["create", "delete", "get", "list", "watch"] },
    ],
  };
}

/** kubectl asks for `as=Table` to get server-side columns; anything else gets plain JSON. */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

/** kubectl's HumanDuration (apimachinery/pkg/util/duration). */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  const y = Math.floor(h / (24 * 365));
  return y < 8 ? `${y}y${Math.floor((h % (24 * 365)) / 24)}d` : `${y}y`;
}

const age = (o: KObject) => humanDuration(Date.now() - Date.parse(o.metadata.creationTimestamp));

/** The STATUS column as kubectl's pod printer computes it. */
function podStatusText(pod: KObject): string {
  let reason: string = pod.status?.reason || pod.status?.phase || "Unknown";
  for (const cs of pod.status?.containerStatuses ?? []) {
    if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
    else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
    else if (cs.state?.terminated) reason = cs.state.terminated.signal ? `Signal:${cs.state.terminated.signal}` : `ExitCode:${cs.state.terminated.exitCode}`;
  }
  if (pod.status?.reason) reason = pod.status.reason;
  if (pod.metadata.deletionTimestamp) reason = pod.status?.reason === "NodeLost" ? "Unknown" : "Terminating";
  return reason;
}

const col = (name: string, type: string, description: string, priority = 0, format = "") => ({ name, type, format, description, priority });

const COLUMNS: Record<Resource, ReturnType<typeof col>[]> = {
  pods: [
    col("Name", "string", "Name must be unique within a namespace.", 0, "name"),
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
    col("IP", "string", "podIP address allocated to the pod.", 1),
    col("Node", "string", "NodeName is a request to schedule this pod onto a specific node.", 1),
    col("Nominated Node", "string", "nominatedNodeName is set when this pod preempts other pods on the node.", 1),
    col("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.", 1),
  ],
  namespaces: [
    col("Name", "string", "Name must be unique within a namespace.", 0, "name"),
    col("Status", "string", "The status of the namespace"),
    col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
  ],
  secrets: [
    col("Name", "string", "Name must be unique within a namespace.", 0, "name"),
    col("Type", "string", "The type of the secret"),
    col("Data", "string", "The number of data entries in the secret"),
    col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
  ],
  configmaps: [
    col("Name", "string", "Name must be unique within a namespace.", 0, "name"),
    col("Data", "string", "The number of data entries in the configmap"),
    col("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
  ],
  events: [
    col("Last Seen", "string", "Time when last seen"),
    col("Type", "string", "Type of this event"),
    col("Reason", "string", "Reason of this event"),
    col("Object", "string", "The object this event is about"),
    col("Message", "string", "A human-readable description"),
  ],
};

function cells(resource: Resource, o: KObject): unknown[] {
  if (resource === "namespaces") return [o.metadata.name, o.status?.phase ?? "", age(o)];
  if (resource === "secrets") return [o.metadata.name, o.type ?? "", Object.keys(o.data ?? {}).length, age(o)];
  if (resource === "configmaps") return [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o)];
  if (resource === "events") return [age(o), o.type ?? "", o.reason ?? "", `${o.involvedObject?.kind ?? ""}/${o.involvedObject?.name ?? ""}`, o.message ?? ""];
  const statuses: any[] = o.status?.containerStatuses ?? [];
  const ready = statuses.filter((c) => c.ready).length;
  const total = o.spec?.containers?.length ?? 0;
  const restarts = statuses.reduce((n, c) => n + (c.restartCount ?? 0), 0);
  return [o.metadata.name, `${ready}/${total}`, podStatusText(o), String(restarts), age(o), o.status?.podIP ?? "<none>", o.spec?.nodeName || "<none>", o.status?.nominatedNodeName || "<none>", "<none>"];
}

export function toTable(resource: Resource, objects: KObject[], listMeta: Record<string, unknown>, includeObject: string | null) {
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions: COLUMNS[resource],
    rows: objects.map((o) => ({
      cells: cells(resource, o),
      object:
        includeObject === "Object"
          ? o
          : includeObject === "None"
            ? null
            : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
    })),
  };
}
