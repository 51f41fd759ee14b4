// Pod status shapes as the kubelet writes them (pkg/kubelet/status/generate.go, kubelet_pods.go).
// Each function mutates a private copy handed out by Store.update, so every step is one write.

import type { KObject } from "./store.ts";
import { parseQuantity } from "./quantity.ts";

/** By value, not spelling: "0.01" is "10m" and "16777216" is "16Mi". */
function sameQuantity(a: unknown, b: unknown): boolean {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  return x && y ? x.nano === y.nano : String(a) === String(b);
}

export const NODE_NAME = "localkube";
export const HOST_IP = "127.0.0.1";

/** RFC3339 at second precision, as metav1.Time serialises. */
export const rfc3339 = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

type Cond = { type: string; status: "True" | "False"; reason?: string; message?: string; lastProbeTime: null; lastTransitionTime: string };

function setCondition(pod: KObject, type: string, status: "True" | "False", reason?: string, message?: string): void {
  const conds: Cond[] = (pod.status.conditions ??= []);
  const now = rfc3339();
  const existing = conds.find((c) => c.type === type);
  const next: Cond = { type, status, lastProbeTime: null, lastTransitionTime: now };
  if (reason) next.reason = reason;
  if (message) next.message = message;
  if (existing) {
    if (existing.status === status) next.lastTransitionTime = existing.lastTransitionTime;
    Object.keys(existing).forEach((k) => delete (existing as any)[k]);
    Object.assign(existing, next);
  } else conds.push(next);
  // Keep the kubelet's order so diffs between versions stay readable.
  const order = ["DisruptionTarget", "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];
  conds.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}

/** QoS class from requests/limits (pkg/apis/core/helper/qos). */
export function qosClass(pod: KObject): "Guaranteed" | "Burstable" | "BestEffort" {
  const containers: any[] = pod.spec?.containers ?? [];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ["cpu", "memory"]) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && !sameQuantity(req[r], lim[r])) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

function container(pod: KObject): any {
  return pod.spec.containers[0];
}

function baseContainerStatus(pod: KObject): any {
  const c = container(pod);
  return { name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false, lastState: {} };
}

/** The scheduler's bind: nodeName + PodScheduled. */
export function markScheduled(pod: KObject): void {
  pod.spec.nodeName = NODE_NAME;
  setCondition(pod, "PodScheduled", "True");
}

/** The kubelet has accepted the pod and is "creating" the container. */
export function markCreating(pod: KObject): void {
  const names = `[${container(pod).name}]`;
  pod.status.phase = "Pending";
  pod.status.hostIP = HOST_IP;
  pod.status.hostIPs = [{ ip: HOST_IP }];
  pod.status.startTime ??= rfc3339();
  setCondition(pod, "PodReadyToStartContainers", "False");
  setCondition(pod, "Initialized", "True");
  setCondition(pod, "Ready", "False", "ContainersNotReady", `containers with unready status: ${names}`);
  setCondition(pod, "ContainersReady", "False", "ContainersNotReady", `containers with unready status: ${names}`);
  pod.status.containerStatuses = [{ ...baseContainerStatus(pod), state: { waiting: { reason: "ContainerCreating" } } }];
}

export function markRunning(pod: KObject, containerID: string, startedAt: string): void {
  pod.status.phase = "Running";
  pod.status.podIP = HOST_IP;
  pod.status.podIPs = [{ ip: HOST_IP }];
  setCondition(pod, "PodReadyToStartContainers", "True");
  setCondition(pod, "Ready", "True");
  setCondition(pod, "ContainersReady", "True");
  const c = container(pod);
  pod.status.containerStatuses = [
    { ...baseContainerStatus(pod), imageID: `localkube://${c.image}`, containerID, ready: true, started: true, state: { running: { startedAt } } },
  ];
}

export interface Termination {
  exitCode: number;
  reason: string; // Completed | Error | StartError | OOMKilled | ContainerStatusUnknown
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

export function markTerminated(pod: KObject, t: Termination): void {
  const failedPodLevel = pod.status.phase === "Failed"; // e.g. DeadlineExceeded already decided
  const phase = failedPodLevel || t.exitCode !== 0 ? "Failed" : "Succeeded";
  pod.status.phase = phase;
  const reason = phase === "Failed" ? "PodFailed" : "PodCompleted";
  setCondition(pod, "PodReadyToStartContainers", "False");
  setCondition(pod, "Ready", "False", reason);
  setCondition(pod, "ContainersReady", "False", reason);
  const c = container(pod);
  const terminated: any = { exitCode: t.exitCode, reason: t.reason };
  if (t.message) terminated.message = t.message;
  terminated.startedAt = t.startedAt ?? t.finishedAt;
  terminated.finishedAt = t.finishedAt;
  if (t.containerID) terminated.containerID = t.containerID;
  const cs: any = { ...baseContainerStatus(pod), state: { terminated } };
  if (t.containerID) {
    cs.containerID = t.containerID;
    cs.imageID = `localkube://${c.image}`;
  }
  pod.status.containerStatuses = [cs];
}

/** Pod-level failure decided by the kubelet before the container has stopped (activeDeadlineSeconds). */
export function markPodFailed(pod: KObject, reason: string, message: string): void {
  pod.status.phase = "Failed";
  pod.status.reason = reason;
  pod.status.message = message;
  setCondition(pod, "Ready", "False", "PodFailed");
  setCondition(pod, "ContainersReady", "False", "PodFailed");
}

export const isTerminal = (pod: KObject) => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

/** The scheduler could not place the pod: it stays Pending with no nodeName. */
export function markUnschedulable(pod: KObject, message: string): void {
  pod.status.phase = "Pending";
  setCondition(pod, "PodScheduled", "False", "Unschedulable", message);
}

/** A container that cannot start yet, e.g. ErrImagePull / ImagePullBackOff. */
export function markWaiting(pod: KObject, reason: string, message: string): void {
  const cs = pod.status.containerStatuses?.[0] ?? baseContainerStatus(pod);
  pod.status.containerStatuses = [{ ...cs, state: { waiting: { reason, message } } }];
}

/** Set with a pod-level failure the kubelet or a controller decided (eviction, node loss), as since 1.26. */
export function markDisruption(pod: KObject, reason: string, message: string): void {
  setCondition(pod, "DisruptionTarget", "True", reason, message);
}
