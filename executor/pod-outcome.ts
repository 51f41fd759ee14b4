// Reads what a Pod's status means for its task try. Pure, so every status shape a cluster reports
// through a Pod's life (pending and stuck, running, terminated, evicted, OOM-killed) is unit-tested
// without a cluster; test/conformance/ checks that localkube reports the same shapes as a real one.
import type { V1Pod } from "@kubernetes/client-node";

export type PodProgress =
  | { kind: "pending" }
  | { kind: "running"; startedAt: Date | null }
  | { kind: "finished"; outcome: PodOutcome }
  /** The Pod cannot start and will not on its own (bad image, bad config, unschedulable too long). */
  | { kind: "stuck"; reason: string; message: string };

export interface PodOutcome {
  succeeded: boolean;
  exitCode: number | null;
  reason: string | null;
  message: string | null;
  /** The container's termination message, when it exited 0 (the task's result, if any). */
  terminationMessage: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Waiting reasons that never resolve without a change to the Pod spec. */
const FATAL_WAITING = new Set(["InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError"]);
/** Waiting reasons that might resolve (a registry hiccup), so they fail only after `pendingTimeoutMs`. */
const SLOW_WAITING = new Set(["ErrImagePull", "ImagePullBackOff", "RunContainerError"]);

function toDate(v: unknown): Date | null {
  if (!v) return null;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? null : d;
}

export function assessPod(pod: V1Pod, now: Date, pendingTimeoutMs: number): PodProgress {
  const status = pod.status ?? {};
  const container = status.containerStatuses?.[0];
  const phase = status.phase ?? "Pending";
  if (phase === "Succeeded" || phase === "Failed") {
    const term = container?.state?.terminated;
    const succeeded = phase === "Succeeded";
    return {
      kind: "finished",
      outcome: {
        succeeded,
        exitCode: term?.exitCode ?? null,
        // A Pod-level reason (DeadlineExceeded, Evicted) explains more than the container's own.
        reason: status.reason ?? term?.reason ?? null,
        message: status.message ?? (succeeded ? null : term?.message ?? null),
        terminationMessage: succeeded ? (term?.message ?? null) : null,
        startedAt: toDate(term?.startedAt) ?? toDate(status.startTime),
        finishedAt: toDate(term?.finishedAt),
      },
    };
  }
  if (phase === "Running") return { kind: "running", startedAt: toDate(container?.state?.running?.startedAt) ?? toDate(status.startTime) };
  if (phase === "Unknown") return { kind: "pending" };

  const waiting = container?.state?.waiting;
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
    return { kind: "stuck", reason: waiting.reason, message: waiting.message ?? waiting.reason };
  }
  const created = toDate(pod.metadata?.creationTimestamp);
  const pendingFor = created ? now.getTime() - created.getTime() : 0;
  if (pendingFor > pendingTimeoutMs) {
    const unschedulable = status.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
    if (waiting?.reason && SLOW_WAITING.has(waiting.reason)) {
      return { kind: "stuck", reason: waiting.reason, message: waiting.message ?? waiting.reason };
    }
    if (unschedulable) {
      return { kind: "stuck", reason: unschedulable.reason ?? "Unschedulable", message: unschedulable.message ?? "the Pod could not be scheduled" };
    }
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
}

/** How a try ended, from what the executor saw of its Pod and how much of its log it stored. */
export function judgeTry(seen: {
  cancelled: boolean;
  /** The Pod's terminal status, when it reached one. */
  pod: PodOutcome | null;
  /** Why the Pod could not start, when it could not. */
  stuck: { reason: string; message: string } | null;
  log: { complete: boolean; bytes: number };
}): TryVerdict {
  const base = { logComplete: seen.log.complete, logBytes: seen.log.bytes, startedAt: seen.pod?.startedAt ?? null, result: null, exitCode: seen.pod?.exitCode ?? null };
  if (seen.cancelled) {
    return { ...base, tryState: "cancelled", reason: "Cancelled", message: "the task was cancelled or cleared", retryable: false };
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
    };
  }
  if (seen.stuck) return { ...base, tryState: "failed", reason: seen.stuck.reason, message: seen.stuck.message, retryable: true };
  return {
    ...base,
    tryState: "failed",
    reason: "PodLost",
    message: "the Pod disappeared before it finished (deleted, or its node was lost)",
    retryable: true,
  };
}
