// Reads what a Pod's status means for its task try. Pure, so every status shape a cluster reports
// through a Pod's life (pending and stuck, running, terminated, evicted, OOM-killed) is unit-tested
// without a cluster; test/conformance/ checks that localkube reports the same shapes as a real one.
import type { V1Pod } from "@kubernetes/client-node";

export type PodProgress =
  | { kind: "pending" }
  | { kind: "running"; startedAt: Date | null }
  | { kind: "finished"; outcome: PodOutcome }
  /**
   * The Pod cannot start and will not on its own. `fatal`: its spec is wrong (a bad image name, a
   * missing Secret), so it fails at once; otherwise the cluster could not start it in time (the image
   * would not pull, no node fits, stuck creating the container), which is not the task's fault.
   */
  | { kind: "stuck"; reason: string; message: string; fatal: boolean };

export interface PodOutcome {
  succeeded: boolean;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  /** The container's termination message, when it exited 0 (the task's result, if any). */
  terminationMessage: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Ended by the cluster, not by the task: evicted, its node lost or shut down, preempted, refused on admission. */
  disrupted: boolean;
}

/** Waiting reasons that never resolve without a change to the Pod spec. */
const FATAL_WAITING = new Set(["InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError"]);
/** Waiting reasons that might resolve (a registry hiccup), so they fail only after `pendingTimeoutMs`. */
const SLOW_WAITING = new Set(["ErrImagePull", "ImagePullBackOff", "RunContainerError"]);

/**
 * Pod-level reasons for a Pod the cluster ended: eviction (node pressure, the Eviction API), a lost or
 * shut-down node, preemption, and the kubelet refusing it on admission (OutOfcpu, OutOfmemory, ...).
 * Since Kubernetes 1.26 a DisruptionTarget condition says the same, and is checked too.
 */
const DISRUPTION_REASONS = new Set(["Evicted", "NodeLost", "Preempting", "Shutdown", "Terminated", "NodeShutdown", "UnexpectedAdmissionError", "NodeAffinity"]);

function disrupted(pod: V1Pod): boolean {
  const reason = pod.status?.reason ?? "";
  if (DISRUPTION_REASONS.has(reason) || reason.startsWith("OutOf")) return true;
  return (pod.status?.conditions ?? []).some((c) => c.type === "DisruptionTarget" && c.status === "True");
}

function toDate(v: unknown): Date | null {
  if (!v) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** An init container (not a sidecar) that ended with an error: with restartPolicy Never it fails the Pod before the task's container starts. */
function failedInit(pod: V1Pod): { reason: string; message: string } | null {
  const sidecars = new Set((pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always").map((c) => c.name));
  for (const s of pod.status?.initContainerStatuses ?? []) {
    const t = s.state?.terminated;
    if (!t || t.exitCode === 0 || sidecars.has(s.name)) continue;
    // As `kubectl get pods` shows it: Init:Error, Init:OOMKilled, ...
    return { reason: `Init:${t.reason ?? "Error"}`, message: `init container "${s.name}" failed with exit code ${t.exitCode}${t.message ? `: ${t.message.trim()}` : ""}` };
  }
  return null;
}

/** Why the Pod's containers wait: an init container's reason first (the task's container waits behind it, PodInitializing). */
function waitingOf(status: NonNullable<V1Pod["status"]>): { reason?: string; message?: string } | undefined {
  for (const s of status.initContainerStatuses ?? []) {
    const w = s.state?.waiting;
    if (w?.reason && w.reason !== "PodInitializing") return { reason: w.reason, message: `init container "${s.name}": ${w.message ?? w.reason}` };
  }
  return status.containerStatuses?.[0]?.state?.waiting;
}

export function assessPod(pod: V1Pod, now: Date, pendingTimeoutMs: number): PodProgress {
  const status = pod.status ?? {};
  const container = status.containerStatuses?.[0];
  const phase = status.phase ?? "Pending";
  if (phase === "Succeeded" || phase === "Failed") {
    const term = container?.state?.terminated;
    const succeeded = phase === "Succeeded";
    const init = !term && !succeeded && !status.reason ? failedInit(pod) : null;
    return {
      kind: "finished",
      outcome: {
        succeeded,
        exitCode: term?.exitCode ?? null,
        // A Pod-level reason (DeadlineExceeded, Evicted) explains more than the container's own.
        reason: status.reason ?? term?.reason ?? init?.reason ?? null,
        message: status.message ?? (succeeded ? null : term?.message ?? init?.message ?? null),
        terminationMessage: succeeded ? (term?.message ?? null) : null,
        startedAt: toDate(term?.startedAt) ?? toDate(status.startTime),
        finishedAt: toDate(term?.finishedAt),
        disrupted: !succeeded && disrupted(pod),
      },
    };
  }
  if (phase === "Running") return { kind: "running", startedAt: toDate(container?.state?.running?.startedAt) ?? toDate(status.startTime) };
  if (phase === "Unknown") return { kind: "pending" };

  const waiting = waitingOf(status);
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
    return { kind: "stuck", reason: waiting.reason, message: waiting.message ?? waiting.reason, fatal: true };
  }
  const created = toDate(pod.metadata?.creationTimestamp);
  const pendingFor = created ? now.getTime() - created.getTime() : 0;
  if (pendingFor > pendingTimeoutMs) {
    const unschedulable = status.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
    if (waiting?.reason && SLOW_WAITING.has(waiting.reason)) {
      return { kind: "stuck", reason: waiting.reason, message: waiting.message ?? waiting.reason, fatal: false };
    }
    if (unschedulable) {
      return { kind: "stuck", reason: unschedulable.reason ?? "Unschedulable", message: unschedulable.message ?? "the Pod could not be scheduled", fatal: false };
    }
    // Anything else that keeps a container from starting (ContainerCreating on a volume that never
    // mounts, a sandbox that never comes up) ends at the same start timeout.
    const waitingFor = waiting?.reason ? ` (still ${waiting.reason})` : "";
    return { kind: "stuck", reason: "StartTimeout", message: `the Pod did not start within ${Math.round(pendingTimeoutMs / 1000)} s${waitingFor}`, fatal: false };
  }
  return { kind: "pending" };
}

/** A task's result from its termination message: JSON when it parses, the text itself otherwise. */
export function parseResult(message: string | null): unknown {
  if (message === null || message.trim() === "") return null;
  try {
    return JSON.parse(message);
  } catch {
    return message;
  }
}

export interface TryVerdict {
  tryState: "success" | "failed" | "cancelled";
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  result: unknown;
  startedAt: Date | null;
  logComplete: boolean;
  logBytes: number;
  /** False for endings a retry cannot change (a cancellation). */
  retryable: boolean;
  /**
   * The try failed for a reason outside the task (the cluster could not start or keep its Pod): it is
   * retried without using up the task's retries, up to its infraRetries.
   */
  infra: boolean;
}

/** How a try ended, from what the executor saw of its Pod and how much of its log it stored. */
export function judgeTry(seen: {
  cancelled: boolean;
  /** The Pod's terminal status, when it reached one. */
  pod: PodOutcome | null;
  /** Why the Pod could not start, when it could not. */
  stuck: { reason: string; message: string; fatal: boolean } | null;
  /** Ferry stopped the Pod itself because it ran past its timeout (the cluster did not). */
  timedOut: { timeoutMs: number } | null;
  log: { complete: boolean; bytes: number };
}): TryVerdict {
  const base = { logComplete: seen.log.complete, logBytes: seen.log.bytes, startedAt: seen.pod?.startedAt ?? null, result: null, exitCode: seen.pod?.exitCode ?? null };
  if (seen.cancelled) {
    return { ...base, tryState: "cancelled", reason: "Cancelled", message: "the task was cancelled or cleared", retryable: false, infra: false };
  }
  if (seen.timedOut && !seen.pod?.succeeded) {
    const message = `the try ran past its timeout of ${Math.round(seen.timedOut.timeoutMs / 1000)} s and was stopped by Ferry (the cluster did not end it)`;
    return { ...base, tryState: "failed", reason: "DeadlineExceeded", message, retryable: true, infra: false };
  }
  if (seen.pod) {
    const p = seen.pod;
    return {
      ...base,
      tryState: p.succeeded ? "success" : "failed",
      reason: p.reason,
      message: p.message,
      result: p.succeeded ? parseResult(p.terminationMessage) : null,
      retryable: true,
      infra: p.disrupted,
    };
  }
  if (seen.stuck) return { ...base, tryState: "failed", reason: seen.stuck.reason, message: seen.stuck.message, retryable: true, infra: !seen.stuck.fatal };
  return {
    ...base,
    tryState: "failed",
    reason: "PodLost",
    message: "the Pod disappeared before it finished (deleted by someone else, or its node was lost)",
    retryable: true,
    infra: true,
  };
}
