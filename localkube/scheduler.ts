// The "scheduler": binds each new pod to the single node, `localkube`, or leaves it Pending with
// PodScheduled False / Unschedulable and a FailedScheduling event, using the default scheduler's
// wording. A pod fits when its nodeSelector and required node affinity match the node's labels and
// the node is not cordoned (the `unschedulable` fault). Pods that did not fit only because of the
// fault are retried when the faults change, as the real scheduler retries once a node frees up.

import { arch } from "node:os";
import type { EventRecorder } from "./events.ts";
import type { Faults } from "./faults.ts";
import { markScheduled, markUnschedulable, NODE_NAME } from "./podstatus.ts";
import type { KObject, Store } from "./store.ts";
import { updatePodRef, type Ref } from "./run.ts";

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** The labels a kubelet puts on its Node; nodeSelector and node affinity are matched against these. */
export function nodeLabels(): Record<string, string> {
  const a = GOARCH[arch()] ?? arch();
  return {
    "kubernetes.io/hostname": NODE_NAME,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": a,
    "beta.kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": a,
  };
}

const PREEMPTION = "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
export const MSG_SELECTOR = `0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. ${PREEMPTION}`;
export const MSG_CORDONED = `0/1 nodes are available: 1 node(s) were unschedulable. ${PREEMPTION}`;

/** nodeSelectorTerms are ORed, expressions within a term ANDed (k8s.io/component-helpers/scheduling/corev1). */
function affinityMatches(pod: KObject, labels: Record<string, string>): boolean {
  const terms: any[] | undefined = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return true;
  return terms.some((t) => {
    const exprs: any[] = t?.matchExpressions ?? [];
    const fields: any[] = t?.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false; // an empty term matches nothing
    const ok = (e: any, value: string | undefined) => {
      const vals: string[] = Array.isArray(e?.values) ? e.values.map(String) : [];
      switch (e?.operator) {
        case "In":
          return value !== undefined && vals.includes(value);
        case "NotIn":
          return value === undefined || !vals.includes(value);
        case "Exists":
          return value !== undefined;
        case "DoesNotExist":
          return value === undefined;
        case "Gt":
          return value !== undefined && Number(value) > Number(vals[0]);
        case "Lt":
          return value !== undefined && Number(value) < Number(vals[0]);
        default:
          return false;
      }
    };
    return exprs.every((e) => ok(e, labels[e?.key])) && fields.every((f) => ok(f, f?.key === "metadata.name" ? NODE_NAME : undefined));
  });
}

export function fitsNode(pod: KObject): boolean {
  const labels = nodeLabels();
  const sel: Record<string, string> = pod.spec?.nodeSelector ?? {};
  return Object.entries(sel).every(([k, v]) => labels[k] === v) && affinityMatches(pod, labels);
}


export class Scheduler {
  /** Pods held back only by the `unschedulable` fault; retried when the faults change. */
  private waiting = new Map<string, Ref>();
  private stop: () => void;

  constructor(
    private readonly store: Store,
    private readonly faults: Faults,
    private readonly events: EventRecorder,
    private readonly bound: (pod: KObject) => void,
  ) {
    this.stop = faults.onChange(() => setImmediate(() => this.retry()));
  }

  close(): void {
    this.stop();
    this.waiting.clear();
  }

  /** One scheduling attempt for a pod that has no nodeName yet. */
  schedule(ref: Ref): void {
    const pod = this.current(ref);
    if (!pod || pod.spec.nodeName) return;
    if (pod.metadata.deletionTimestamp) {
      this.store.remove("pods", ref.namespace, ref.name);
      return;
    }
    const fits = fitsNode(pod);
    if (!fits || this.faults.unschedulable) {
      const message = fits ? MSG_CORDONED : MSG_SELECTOR;
      if (fits) this.waiting.set(ref.uid, ref);
      const already = pod.status?.conditions?.some((c: any) => c.type === "PodScheduled" && c.message === message);
      const updated = already ? pod : this.update(ref, (o) => markUnschedulable(o, message));
      if (updated) this.events.record(updated, { type: "Warning", reason: "FailedScheduling", message, source: "default-scheduler" });
      return;
    }
    this.waiting.delete(ref.uid);
    const bound = this.update(ref, markScheduled);
    if (!bound) return;
    this.events.record(bound, { type: "Normal", reason: "Scheduled", message: `Successfully assigned ${ref.namespace}/${ref.name} to ${NODE_NAME}`, source: "default-scheduler" });
    this.bound(bound);
  }

  private retry(): void {
    for (const ref of [...this.waiting.values()]) {
      if (!this.current(ref)) this.waiting.delete(ref.uid);
      else this.schedule(ref);
    }
  }

  private current(ref: Ref): KObject | undefined {
    const pod = this.store.get("pods", ref.namespace, ref.name);
    return pod?.metadata.uid === ref.uid ? pod : undefined;
  }

  private update(ref: Ref, fn: (o: KObject) => void): KObject | undefined {
    return updatePodRef(this.store, ref, fn);
  }
}
