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

/** The Pod's init containers; those with restartPolicy Always are sidecars (Kubernetes' native sidecars). */
export const initContainers = (pod: KObject): any[] => (Array.isArray(pod.spec.initContainers) ? pod.spec.initContainers : []);
export const isSidecar = (c: any): boolean => c?.restartPolicy === "Always";

function baseStatus(c: any): any {
  return { name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false, lastState: {} };
}

function baseContainerStatus(pod: KObject): any {
  return baseStatus(container(pod));
}

/** A container's status entry by name (main or init), creating the list entry if it is missing. */
function statusOf(pod: KObject, name: string): any {
  const init = initContainers(pod).find((c) => c.name === name);
  if (init) {
    const list: any[] = (pod.status.initContainerStatuses ??= initContainers(pod).map((c) => ({ ...baseStatus(c), state: { waiting: { reason: "PodInitializing" } } })));
    return list.find((cs) => cs.name === name);
  }
  const list: any[] = (pod.status.containerStatuses ??= [{ ...baseContainerStatus(pod), state: { waiting: { reason: "ContainerCreating" } } }]);
  return list[0];
}

function setStatus(pod: KObject, name: string, next: any): void {
  const cur = statusOf(pod, name);
  for (const k of Object.keys(cur)) delete cur[k];
  Object.assign(cur, next);
}

/** `[a b]`, as the kubelet formats a list of container names in a condition's message. */
const names = (xs: string[]) => `[${xs.join(" ")}]`;

/**
 * Initialized, as the kubelet computes it (GeneratePodInitializedCondition): init containers that have
 * not completed, and sidecars that have not started, keep it False. It is not computed again once True.
 */
function refreshInitialized(pod: KObject): void {
  const init = initContainers(pod);
  if (init.length === 0) return setCondition(pod, "Initialized", "True");
  if (pod.status.conditions?.some((c: Cond) => c.type === "Initialized" && c.status === "True")) return;
  const statuses: any[] = pod.status.initContainerStatuses ?? [];
  const incomplete = init
    .filter((c) => {
      const cs = statuses.find((s) => s.name === c.name);
      return isSidecar(c) ? !cs?.started : !cs?.ready;
    })
    .map((c) => c.name);
  if (incomplete.length === 0) setCondition(pod, "Initialized", "True");
  else setCondition(pod, "Initialized", "False", "ContainersNotInitialized", `containers with incomplete status: ${names(incomplete)}`);
}

/** Ready and ContainersReady while the Pod runs: sidecars then the main container, each ready while running. */
function refreshReady(pod: KObject): void {
  const sidecars = initContainers(pod).filter(isSidecar);
  const unready = [
    ...sidecars.filter((c) => !(pod.status.initContainerStatuses ?? []).find((s: any) => s.name === c.name)?.ready).map((c) => c.name),
    ...(pod.status.containerStatuses?.[0]?.ready ? [] : [container(pod).name]),
  ];
  for (const type of ["Ready", "ContainersReady"]) {
    if (unready.length === 0) setCondition(pod, type, "True");
    else setCondition(pod, type, "False", "ContainersNotReady", `containers with unready status: ${names(unready)}`);
  }
}

/** The scheduler's bind: nodeName + PodScheduled. */
export function markScheduled(pod: KObject): void {
  pod.spec.nodeName = NODE_NAME;
  setCondition(pod, "PodScheduled", "True");
}

/**
 * The kubelet has accepted the pod and is "creating" the container. With init containers every
 * container waits PodInitializing (the kubelet's default waiting reason then), else ContainerCreating.
 */
export function markCreating(pod: KObject): void {
  const init = initContainers(pod);
  pod.status.phase = "Pending";
  pod.status.hostIP = HOST_IP;
  pod.status.hostIPs = [{ ip: HOST_IP }];
  pod.status.startTime ??= rfc3339();
  setCondition(pod, "PodReadyToStartContainers", "False");
  const waiting = init.length > 0 ? "PodInitializing" : "ContainerCreating";
  if (init.length > 0) pod.status.initContainerStatuses = init.map((c) => ({ ...baseStatus(c), state: { waiting: { reason: waiting } } }));
  pod.status.containerStatuses = [{ ...baseContainerStatus(pod), state: { waiting: { reason: waiting } } }];
  refreshInitialized(pod);
  refreshReady(pod);
}

/** An init container or a sidecar started. A sidecar (no readiness probe here) is ready at once. */
export function markInitRunning(pod: KObject, name: string, containerID: string, startedAt: string): void {
  const c = initContainers(pod).find((x) => x.name === name);
  setCondition(pod, "PodReadyToStartContainers", "True");
  setStatus(pod, name, {
    ...baseStatus(c),
    imageID: `localkube://${c.image}`,
    containerID,
    ready: isSidecar(c),
    started: true,
    state: { running: { startedAt } },
  });
  refreshInitialized(pod);
  refreshReady(pod);
}

/** An init container or a sidecar ended. An init container that exited 0 is ready (it completed). */
export function markInitTerminated(pod: KObject, name: string, t: Termination): void {
  const c = initContainers(pod).find((x) => x.name === name);
  const cs: any = { ...baseStatus(c), ready: !isSidecar(c) && t.exitCode === 0, state: { terminated: terminatedState(t) } };
  if (t.containerID) {
    cs.containerID = t.containerID;
    cs.imageID = `localkube://${c.image}`;
  }
  setStatus(pod, name, cs);
  refreshInitialized(pod);
  if (!isTerminal(pod)) refreshReady(pod);
}

/** With restartPolicy Never an init container that failed fails the Pod; the containers after it never start. */
export function markInitFailed(pod: KObject): void {
  pod.status.phase = "Failed";
  setCondition(pod, "Ready", "False", "PodFailed");
  setCondition(pod, "ContainersReady", "False", "PodFailed");
}

/** A container that cannot start yet (ErrImagePull, CreateContainerConfigError, ...); `name` defaults to the main one. */
export function markWaiting(pod: KObject, reason: string, message: string, name: string = container(pod).name): void {
  const cs = statusOf(pod, name);
  setStatus(pod, name, { ...cs, state: { waiting: { reason, message } } });
}

export function markRunning(pod: KObject, containerID: string, startedAt: string): void {
  pod.status.phase = "Running";
  pod.status.podIP = HOST_IP;
  pod.status.podIPs = [{ ip: HOST_IP }];
  setCondition(pod, "PodReadyToStartContainers", "True");
  refreshInitialized(pod);
  const c = container(pod);
  pod.status.containerStatuses = [
    { ...baseContainerStatus(pod), imageID: `localkube://${c.image}`, containerID, ready: true, started: true, state: { running: { startedAt } } },
  ];
  refreshReady(pod);
}

export interface Termination {
  exitCode: number;
  reason: string; // Completed | Error | StartError | OOMKilled | ContainerStatusUnknown
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

function terminatedState(t: Termination): any {
  const terminated: any = { exitCode: t.exitCode, reason: t.reason };
  if (t.message) terminated.message = t.message;
  terminated.startedAt = t.startedAt ?? t.finishedAt;
  terminated.finishedAt = t.finishedAt;
  if (t.containerID) terminated.containerID = t.containerID;
  return terminated;
}

/**
 * The main container ended. With `keepPhase` (sidecars still to stop) the Pod stays Running, not
 * ready, until markFinished; otherwise this is the Pod's final phase too.
 */
export function markTerminated(pod: KObject, t: Termination, keepPhase = false): void {
  const c = container(pod);
  const cs: any = { ...baseContainerStatus(pod), state: { terminated: terminatedState(t) } };
  if (t.containerID) {
    cs.containerID = t.containerID;
    cs.imageID = `localkube://${c.image}`;
  }
  pod.status.containerStatuses = [cs];
  if (keepPhase) refreshReady(pod);
  else markFinished(pod, t.exitCode === 0);
}

/** The Pod's final phase: Failed when decided already (a deadline, an init container) or `succeeded` is false. */
export function markFinished(pod: KObject, succeeded: boolean): void {
  const phase = pod.status.phase === "Failed" || !succeeded ? "Failed" : "Succeeded";
  pod.status.phase = phase;
  const reason = phase === "Failed" ? "PodFailed" : "PodCompleted";
  setCondition(pod, "PodReadyToStartContainers", "False");
  setCondition(pod, "Ready", "False", reason);
  setCondition(pod, "ContainersReady", "False", reason);
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


/** Set with a pod-level failure the kubelet or a controller decided (eviction, node loss), as since 1.26. */
export function markDisruption(pod: KObject, reason: string, message: string): void {
  setCondition(pod, "DisruptionTarget", "True", reason, message);
}
