// What the executor does next for one task try, decided from what it knows: the try's phase, the Pod
// as last seen, and the requests still on their way. Pure, so every ordering the cluster can produce
// (a create answered after the Pod finished, a cancel during a create, a Pod deleted by someone else,
// a log copy that broke) is a unit test rather than a race to reproduce.
//
// A try moves through one phase at a time, and never back:
//   unborn ─▶ createSent ─▶ live ─▶ ended ─▶ logSafe ─▶ (reclaimed: the executor lets go of it)
// A try that never gets a Pod (cancelled before its create, a template that does not render, a Pod the
// API server refuses) is recorded and let go of from unborn or createSent.
import type { PodProgress } from "./pod-outcome.ts";

export type TryPhase =
  /** No create has been sent: its Pod does not exist. */
  | "unborn"
  /** A create was sent and its answer is still on its way or was lost: a Pod may exist. */
  | "createSent"
  /** The Pod exists or existed: its sightings move the try on. */
  | "live"
  /** The try's outcome is in Postgres, so the run has moved on; its log copy is being finished. */
  | "ended"
  /** The log copy has ended and Postgres knows: only the Pod is left to delete. */
  | "logSafe";

/** Everything nextStep may look at. Built from the try's handle at one instant. */
export interface TrySituation {
  phase: TryPhase;
  /** A create request is on its way. */
  creating: boolean;
  /** A create may be sent now (none was refused for a while by a transient failure). */
  createDue: boolean;
  /** The API server refused the create for good (the spec is invalid, a quota, admission). */
  createRefused: boolean;
  /** The Pod's last sighting, read; null before any. */
  pod: PodProgress | null;
  /** The Pod was deleted, or the API server says it does not exist. */
  gone: boolean;
  /** The try was cancelled or cleared. */
  stopRequested: boolean;
  /** The API server took the stop (the deadline lowered) of the running Pod. */
  stopIssued: boolean;
  /** The API server took a delete of the Pod. */
  deleteIssued: boolean;
  /** Why the Pod cannot start has been noted (and its events copied). */
  stuckNoted: boolean;
  /** Postgres knows the container started. */
  runningRecorded: boolean;
  /**
   * The container runs well past its timeout (the cluster should have ended it by its
   * activeDeadlineSeconds), or past Ferry's own stop for that; see `timedOut`.
   */
  overdue: boolean;
  /** Ferry has stopped the Pod itself for running past its timeout. */
  timedOut: boolean;
  /** The log copy: not running here, running, or ended with a result. */
  log: "none" | "copying" | "copied";
}

export type TryStep =
  | { kind: "wait" }
  /** Build the Pod and send its create (the answer comes back on its own). */
  | { kind: "create" }
  /** Record the try cancelled before it had a Pod, and let go of it. */
  | { kind: "endCancelledUnborn" }
  /** Record the try failed because its create was refused, and let go of it. */
  | { kind: "endRefused" }
  /** Cancelled after a create whose answer was lost: delete the Pod that may exist. */
  | { kind: "deleteUnseen" }
  /** The Pod exists or existed but has not been seen here (adopted, answered 409): read it. */
  | { kind: "readPod" }
  | { kind: "startLogCopy" }
  | { kind: "recordRunning" }
  /** Cancel a Pod that exists: lower a running Pod's deadline (its log stays), delete one not started. */
  | { kind: "stopPod" }
  /** The backstop for a lost deadline: lower it again, as a cancel does, so the log stays whole. */
  | { kind: "stopOverdue" }
  /** Still running past that: delete the Pod (its log copy drains what it can). */
  | { kind: "killOverdue" }
  /** The Pod cannot start: say why and copy its events, before it is deleted. */
  | { kind: "noteStuck" }
  | { kind: "deleteStuck" }
  /** The Pod finished or is gone: record the try's outcome now, before its log is finished. */
  | { kind: "recordOutcome" }
  /** No copy can run here (the container never started, or the Pod is gone): what is stored is the log. */
  | { kind: "countStoredLog" }
  /** Record in Postgres that the log copy ended (complete or not). */
  | { kind: "recordLogDone" }
  /** Delete the Pod (unless gone), record the try reclaimed and let go of it. */
  | { kind: "reclaim" };

const WAIT: TryStep = { kind: "wait" };

export function nextStep(s: TrySituation): TryStep {
  switch (s.phase) {
    case "unborn":
      if (s.creating) return WAIT;
      if (s.stopRequested) return { kind: "endCancelledUnborn" };
      return s.createDue ? { kind: "create" } : WAIT;
    case "createSent":
      // Whatever the create's answer says decides: acting now could race it.
      if (s.creating) return WAIT;
      if (s.createRefused) return { kind: "endRefused" };
      if (s.stopRequested) return { kind: "deleteUnseen" };
      // Sent again: a Pod made by the lost create answers 409 and is then followed.
      return s.createDue ? { kind: "create" } : WAIT;
    case "live":
      return liveStep(s);
    case "ended":
      if (s.log === "copied") return { kind: "recordLogDone" };
      if (s.log === "copying") return WAIT;
      if (s.gone || !s.runningRecorded) return { kind: "countStoredLog" };
      // An adopted try: the copy resumes once the Pod is seen (a finished Pod sends no more events).
      if (!s.pod) return { kind: "readPod" };
      return { kind: "startLogCopy" };
    case "logSafe":
      return { kind: "reclaim" };
  }
}

function liveStep(s: TrySituation): TryStep {
  if (s.gone) return { kind: "recordOutcome" };
  // Adopted, or answered 409: a finished Pod sends no more events, so it is read.
  if (!s.pod) return { kind: "readPod" };
  const started = s.pod.kind === "running" || s.pod.kind === "finished";
  // The copy starts before anything is recorded: the container is printing now.
  if (started && s.log === "none") return { kind: "startLogCopy" };
  if (started && !s.runningRecorded) return { kind: "recordRunning" };
  if (s.pod.kind === "finished") return { kind: "recordOutcome" };
  if (s.overdue && s.pod.kind === "running") {
    if (!s.timedOut) return { kind: "stopOverdue" };
    if (!s.deleteIssued) return { kind: "killOverdue" };
  }
  if (s.stopRequested && !s.stopIssued && !s.deleteIssued) return { kind: "stopPod" };
  if (s.pod.kind === "stuck" && !s.stuckNoted) return { kind: "noteStuck" };
  // Its DELETED event then records the outcome, with the reason it could not start.
  if (s.stuckNoted && !s.deleteIssued && !started) return { kind: "deleteStuck" };
  return WAIT;
}
