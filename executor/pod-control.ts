// The executor's writes and reads of one try's Pod through the Kubernetes API: create, read, stop,
// delete. Each turns the server's answers (404, 409, 429 with Retry-After, 5xx) into a plain outcome;
// the executor decides what the outcome means for the try.
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import { isNotFound, isTransient, kubeFailure, type Kube } from "./kube.ts";
import { RetryAttempts } from "./kube-retry.ts";

export interface PodRef {
  namespace: string;
  name: string;
}

export type CreateOutcome =
  | { kind: "created"; pod: V1Pod }
  /** It existed already (made by us before a crash, or by a create whose answer was lost). */
  | { kind: "exists" }
  | { kind: "retry"; afterMs: number }
  | { kind: "refused"; reason: string; message: string };

export type ReadOutcome = { kind: "found"; pod: V1Pod } | { kind: "absent" } | { kind: "unknown" };

/** `later`: the server could not take it now (429, 5xx, a timeout); ask again on a later pass. */
export type DeleteOutcome = "deleted" | "absent" | "later";

export type StopOutcome =
  /** Its deadline was lowered: the kubelet ends it and the Pod stays until its log is stored. */
  | "deadlineLowered"
  /** It had ended on its own already. */
  | "alreadyEnded"
  | DeleteOutcome;

export class PodControl {
  /** Each try's failed creates in a row (by Pod name), which its next retry backs off from. */
  private readonly createFailures = new RetryAttempts();

  constructor(
    private readonly kube: Kube,
    private readonly log: Logger,
  ) {}

  async create(ref: PodRef, pod: V1Pod): Promise<CreateOutcome> {
    const key = `${ref.namespace}/${ref.name}`;
    try {
      const created = await this.kube.core.createNamespacedPod({ namespace: ref.namespace, body: pod });
      this.createFailures.settled(key);
      this.log.info("pod created", { pod: ref.name });
      return { kind: "created", pod: created };
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 409) {
        this.createFailures.settled(key);
        return { kind: "exists" };
      }
      if (isTransient(err)) {
        // Backoff with jitter from this try's failures in a row, never sooner than the server's
        // Retry-After (a 429 under API priority and fairness). The client does not retry a create
        // itself: if this one's answer was lost, the next one's 409 says the Pod exists.
        const afterMs = this.createFailures.failed(key, f.retryAfterMs);
        this.log.warn("pod create failed; will retry", { pod: ref.name, code: f.code, message: f.message, retryInMs: afterMs });
        return { kind: "retry", afterMs };
      }
      this.createFailures.settled(key);
      return { kind: "refused", reason: f.reason ?? "PodCreateFailed", message: f.message };
    }
  }

  async read(ref: PodRef): Promise<ReadOutcome> {
    try {
      return { kind: "found", pod: await this.kube.core.readNamespacedPod({ name: ref.name, namespace: ref.namespace }) };
    } catch (err) {
      return isNotFound(err) ? { kind: "absent" } : { kind: "unknown" };
    }
  }

  /**
   * Stops a cancelled try's Pod. A running Pod is not deleted, which could take its log with it before
   * the copy has it all: its activeDeadlineSeconds is lowered to 1, so the kubelet ends it as
   * DeadlineExceeded and the Pod stays until its log is stored. A Pod not running yet is just deleted.
   */
  async stop(ref: PodRef, seen: V1Pod): Promise<StopOutcome> {
    const phase = seen.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return "alreadyEnded";
    if (phase !== "Running") return this.delete(ref, 10);
    try {
      await this.kube.core.patchNamespacedPod(
        { name: ref.name, namespace: ref.namespace, body: { spec: { activeDeadlineSeconds: 1 } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return "deadlineLowered";
    } catch (err) {
      if (isNotFound(err)) return "absent";
      if (isTransient(err)) return "later";
      // A cluster that refuses the change: delete instead (the open log copy drains what it can).
      const f = kubeFailure(err);
      this.log.warn("could not stop the pod by its deadline; deleting it", { pod: ref.name, code: f.code, message: f.message });
      return this.delete(ref, 10);
    }
  }

  async delete(ref: PodRef, gracePeriodSeconds: number): Promise<DeleteOutcome> {
    try {
      await this.kube.core.deleteNamespacedPod({ name: ref.name, namespace: ref.namespace, gracePeriodSeconds });
      return "deleted";
    } catch (err) {
      if (isNotFound(err)) return "absent";
      if (!isTransient(err)) throw err;
      const f = kubeFailure(err);
      this.log.warn("pod delete failed; will retry", { pod: ref.name, code: f.code, message: f.message });
      return "later";
    }
  }
}
