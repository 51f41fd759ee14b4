// The executor's writes and reads of one try's Pod through the Kubernetes API: create, look up, stop,
// delete. Each records on the try's handle what the API server said, and turns the server's answers
// (404, 409, 429 with Retry-After, 5xx) into what the executor does next.
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import { isNotFound, isTransient, kubeFailure, type Kube } from "./kube.ts";
import { observePod, type TryHandle } from "./try-handle.ts";

export type CreateOutcome =
  | { kind: "created" }
  /** It existed already (made by us before a crash, or by a create whose answer was lost). */
  | { kind: "exists" }
  | { kind: "retry"; afterMs: number }
  | { kind: "refused"; reason: string; message: string };

export class PodControl {
  constructor(
    private readonly kube: Kube,
    private readonly log: Logger,
  ) {}

  async create(h: TryHandle, pod: V1Pod): Promise<CreateOutcome> {
    h.creating = true;
    h.createAttempted = true;
    try {
      observePod(h, await this.kube.core.createNamespacedPod({ namespace: this.kube.namespace, body: pod }));
      h.created = true;
      this.log.info("pod created", { pod: h.t.podName });
      return { kind: "created" };
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 409) {
        h.created = true;
        return { kind: "exists" };
      }
      if (isTransient(err)) {
        // Honour the server's Retry-After (429 under API priority and fairness), else back off 2 s.
        const afterMs = f.retryAfterMs ?? 2000;
        this.log.warn("pod create failed; will retry", { pod: h.t.podName, code: f.code, message: f.message, retryInMs: afterMs });
        return { kind: "retry", afterMs };
      }
      return { kind: "refused", reason: f.reason ?? "PodCreateFailed", message: f.message };
    } finally {
      h.creating = false;
    }
  }

  /** Reads the Pod into the handle; marks it gone on 404. Other failures leave the handle as it was. */
  async read(h: TryHandle): Promise<void> {
    try {
      observePod(h, await this.kube.core.readNamespacedPod({ name: h.t.podName, namespace: this.kube.namespace }));
    } catch (err) {
      if (!isNotFound(err)) return;
      h.gone = true;
      h.shipper?.poke();
    }
  }

  /**
   * Stops a cancelled try's Pod. A running Pod is not deleted, which could take its log with it before
   * the copy has it all: its activeDeadlineSeconds is lowered to 1, so the kubelet ends it as
   * DeadlineExceeded and the Pod stays until its log is stored. A Pod not running yet is just deleted.
   */
  async stop(h: TryHandle): Promise<void> {
    // Not seen yet (an adopted try, before its Pod is read): whether it runs decides how to stop it.
    if (!h.pod) return;
    const phase = h.pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      // It has ended on its own: its log is being stored and the Pod is reclaimed after that, as usual.
      h.stopIssued = true;
      return;
    }
    if (phase !== "Running") {
      await this.delete(h, 10);
      return;
    }
    try {
      await this.kube.core.patchNamespacedPod(
        { name: h.t.podName, namespace: this.kube.namespace, body: { spec: { activeDeadlineSeconds: 1 } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      h.stopIssued = true;
    } catch (err) {
      if (isNotFound(err)) {
        h.gone = true;
        return;
      }
      if (isTransient(err)) return; // asked again on the next pass
      // A cluster that refuses the change: delete instead (the open log copy drains what it can).
      const f = kubeFailure(err);
      this.log.warn("could not stop the pod by its deadline; deleting it", { pod: h.t.podName, code: f.code, message: f.message });
      await this.delete(h, 10);
    }
  }

  /** Returns false when the API server could not take the delete now (it is retried later). */
  async delete(h: TryHandle, gracePeriodSeconds: number): Promise<boolean> {
    try {
      await this.kube.core.deleteNamespacedPod({ name: h.t.podName, namespace: this.kube.namespace, gracePeriodSeconds });
      h.deleteIssued = true;
      return true;
    } catch (err) {
      if (isNotFound(err)) {
        h.gone = true;
        return true;
      }
      if (!isTransient(err)) throw err;
      const f = kubeFailure(err);
      this.log.warn("pod delete failed; will retry", { pod: h.t.podName, code: f.code, message: f.message });
      return false;
    }
  }
}
