// What one executor knows and has done about one task try it holds: the Pod as last seen, the log
// copy, and which steps were taken. Only the executor (and its PodControl) change these fields.
import type { V1Pod } from "@kubernetes/client-node";
import type { TaskDefinition } from "../sdk/definition.ts";
import type { LogShipper, ShipResult } from "./log-shipper.ts";
import { isLaterView } from "./pod-view.ts";
import type { ActiveTry } from "./tries.repository.ts";

export interface TryHandle {
  t: ActiveTry;
  task: TaskDefinition | null;
  pod: V1Pod | null;
  gone: boolean;
  created: boolean;
  nextCreateAt: number;
  shipper: LogShipper | null;
  shipping: Promise<ShipResult> | null;
  markedRunning: boolean;
  stopRequested: boolean;
  stuck: { reason: string; message: string } | null;
  finalizing: boolean;
  /** The log copy is being ended (after the outcome was recorded). */
  logFinishing: boolean;
  /** The log copy has ended and Postgres knows: only the Pod is left to delete. */
  logDone: boolean;
  /** The API server accepted a delete of the Pod. */
  deleteIssued: boolean;
  /** The API server accepted a stop of the running Pod (its deadline lowered to end it now). */
  stopIssued: boolean;
  /** A create request is on its way. */
  creating: boolean;
  /** A create was sent at least once (its answer may have been lost, so a Pod may exist). */
  createAttempted: boolean;
}

export function newHandle(t: ActiveTry, created: boolean): TryHandle {
  return {
    t,
    task: null,
    pod: null,
    gone: false,
    created,
    nextCreateAt: 0,
    shipper: null,
    shipping: null,
    markedRunning: t.state === "running",
    stopRequested: false,
    stuck: null,
    finalizing: false,
    logFinishing: false,
    logDone: false,
    deleteIssued: false,
    stopIssued: false,
    creating: false,
    createAttempted: false,
  };
}

/** Takes a sighting of the try's Pod unless an answer that arrived earlier already showed it further on. */
export function observePod(h: TryHandle, pod: V1Pod): void {
  if (isLaterView(h.pod, pod)) h.pod = pod;
}
