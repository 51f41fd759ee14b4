// What the executor writes into a try's account beside its log (task_try_events): its own notes (how
// the container ended, a log copy that could not finish, the store being down) and the Pod's Kubernetes
// Events. Best effort throughout: the account explains a try, it never decides one, so a failure to
// write it is logged and the try goes on.
import type { Db } from "../db/db.ts";
import type { Logger } from "../lib/logger.ts";
import type { Kube } from "./kube.ts";
import { captureKubeEvents } from "./pod-events.ts";
import type { TryVerdict } from "./pod-outcome.ts";
import { addTryEvents, type TryEventInput } from "./try-events.repository.ts";
import type { TryHandle } from "./try-handle.ts";

export class TryAccount {
  constructor(
    private readonly db: Db,
    private readonly kube: Kube,
    private readonly log: Logger,
    /** Where background writes go, so shutdown waits for them. */
    private readonly track: (p: Promise<unknown>) => void,
  ) {}

  /** Adds one of Ferry's own events; returns at once. */
  note(h: TryHandle, type: "Normal" | "Warning", reason: string, message: string): void {
    const write = addTryEvents(this.db, h.t.taskInstanceId, h.t.tryNumber, [{ source: "ferry", type, reason, message }]);
    this.track(write.catch((err) => this.log.warn("could not record a try event", { pod: h.t.podName, reason, err })));
  }

  /**
   * The note that says how a try ended. It is written with the outcome, in one transaction, so that a
   * reader who sees the try ended also sees why.
   */
  static endNote(o: TryVerdict): TryEventInput {
    const parts = [`the try ended: ${o.tryState}`];
    if (o.exitCode !== null) parts.push(`exit code ${o.exitCode}`);
    if (o.message) parts.push(o.message);
    return { source: "ferry", type: o.tryState === "success" ? "Normal" : "Warning", reason: o.reason ?? "Ended", message: parts.join("; ") };
  }

  /** Copies the Pod's Kubernetes Events (they outlive the Pod here, not on the cluster). */
  async captureEvents(h: TryHandle): Promise<void> {
    try {
      await captureKubeEvents(this.kube, this.db, {
        taskInstanceId: h.t.taskInstanceId,
        tryNumber: h.t.tryNumber,
        namespace: h.t.namespace,
        podName: h.t.podName,
        podUid: h.pod?.metadata?.uid ?? null,
      });
    } catch (err) {
      this.log.warn("could not copy the Pod's events", { pod: h.t.podName, err });
    }
  }
}
