// What one executor knows about one task try it holds: its phase (try-step.ts), the Pod as last seen,
// the requests on their way and the log copy. Only the executor changes a handle; what to do next is
// decided from it by the pure nextStep, through situationOf.
import type { V1Pod } from "@kubernetes/client-node";
import type { TaskDefinition } from "../sdk/definition.ts";
import type { LogShipper, ShipResult } from "./log-shipper.ts";
import { assessPod } from "./pod-outcome.ts";
import { isLaterView } from "./pod-view.ts";
import type { TryPhase, TrySituation } from "./try-step.ts";
import type { ActiveTry } from "./tries.repository.ts";

export interface TryHandle {
  t: ActiveTry;
  phase: TryPhase;
  task: TaskDefinition | null;
  /** The Pod's latest sighting (see pod-view.ts: late answers never replace later ones). */
  pod: V1Pod | null;
  gone: boolean;
  creating: boolean;
  /** Earliest time (ms) the next create may be sent. */
  nextCreateAt: number;
  createRefusal: { reason: string; message: string } | null;
  stopRequested: boolean;
  stopIssued: boolean;
  deleteIssued: boolean;
  stuck: { reason: string; message: string; fatal: boolean } | null;
  runningRecorded: boolean;
  /** When Ferry stopped the Pod itself for running past its timeout (ms), and that timeout. */
  timedOut: { atMs: number; timeoutMs: number } | null;
  shipper: LogShipper | null;
  shipping: Promise<ShipResult> | null;
  shipped: ShipResult | null;
  /** A step of this try is being taken: steps of one try never overlap. */
  busy: boolean;
  /** Something changed while a step was being taken: decide again when it is done. */
  again: boolean;
}

/** A handle for a try this executor just claimed or adopted, in the phase Postgres implies. */
export function newHandle(t: ActiveTry, origin: "claimed" | "adopted"): TryHandle {
  return {
    t,
    phase: initialPhase(t, origin),
    task: null,
    pod: null,
    gone: false,
    creating: false,
    nextCreateAt: 0,
    createRefusal: null,
    stopRequested: false,
    stopIssued: false,
    deleteIssued: false,
    stuck: null,
    timedOut: null,
    runningRecorded: t.startedAt !== null || t.state === "running",
    shipper: null,
    shipping: null,
    shipped: null,
    busy: false,
    again: false,
  };
}

/**
 * A claimed try has no Pod yet. An adopted one that is still queued may have one: the executor before
 * us may have sent its create and died before seeing it run, so it is treated as a create whose answer
 * was lost. A started one has (or had) a Pod: it is looked for, never created again, so a Pod that
 * vanished is reported lost instead of silently running the task a second time.
 */
function initialPhase(t: ActiveTry, origin: "claimed" | "adopted"): TryPhase {
  if (t.endedAt) return t.logComplete ? "logSafe" : "ended";
  if (t.state === "queued") return origin === "claimed" ? "unborn" : "createSent";
  return "live";
}

/** Takes a sighting of the try's Pod unless an answer that arrived earlier already showed it further on. */
export function observePod(h: TryHandle, pod: V1Pod): void {
  if (isLaterView(h.pod, pod)) h.pod = pod;
  h.shipper?.poke();
  // A Pod seen is a Pod that exists: whatever the create's answer will say, the try follows it now.
  if (h.phase === "unborn" || h.phase === "createSent") h.phase = "live";
}

/** The Pod was deleted, or the API server says there is no such Pod. */
export function podGone(h: TryHandle): void {
  h.gone = true;
  if (h.phase === "createSent") h.phase = "live";
  h.shipper?.poke();
}

export interface SituationLimits {
  /** A Pod not started after this long is stuck. */
  pendingTimeoutMs: number;
  /** How far past its timeout a container may run before Ferry stops it, and then kills it. */
  timeoutGraceMs: number;
}

export function situationOf(h: TryHandle, now: Date, limits: SituationLimits): TrySituation {
  const pod = h.pod ? assessPod(h.pod, now, limits.pendingTimeoutMs) : null;
  return {
    phase: h.phase,
    creating: h.creating,
    createDue: now.getTime() >= h.nextCreateAt,
    createRefused: h.createRefusal !== null,
    pod,
    gone: h.gone,
    stopRequested: h.stopRequested,
    stopIssued: h.stopIssued,
    deleteIssued: h.deleteIssued,
    stuckNoted: h.stuck !== null,
    runningRecorded: h.runningRecorded,
    overdue: overdue(h, pod, now.getTime(), limits.timeoutGraceMs),
    timedOut: h.timedOut !== null,
    log: h.shipped ? "copied" : h.shipping ? "copying" : "none",
  };
}

/** The try's timeout: the task's, or (an adopted try whose task is not loaded) the Pod's own deadline. */
export function timeoutOf(h: TryHandle): number | null {
  if (h.task) return h.task.timeoutMs;
  const deadline = h.pod?.spec?.activeDeadlineSeconds;
  return typeof deadline === "number" ? deadline * 1000 : null;
}

function overdue(h: TryHandle, pod: TrySituation["pod"], nowMs: number, graceMs: number): boolean {
  if (pod?.kind !== "running" || !pod.startedAt) return false;
  if (h.timedOut) return nowMs > h.timedOut.atMs + graceMs;
  const timeoutMs = timeoutOf(h);
  return timeoutMs !== null && nowMs > pod.startedAt.getTime() + timeoutMs + graceMs;
}
