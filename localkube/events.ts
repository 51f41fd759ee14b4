// core/v1 Events about pods, written by the "scheduler" and the "kubelet" so that `kubectl describe pod`
// tells the story (Scheduled, Pulled, Created, Started, Killing, ...). Like the kubelet's event
// recorder, a repeat of the same reason and message on the same object bumps `count` and
// `lastTimestamp` on the existing Event instead of adding a new one (image pull back-off loops).
// Events are bounded: those of a deleted pod go after a while, and there is a cap on the total.

import { randomUUID } from "node:crypto";
import { nowNs } from "./logs.ts";
import { rfc3339 } from "./podstatus.ts";
import type { KObject, Store } from "./store.ts";

export type EventSource = "default-scheduler" | "kubelet" | "taint-eviction-controller" | "node-controller";

export interface PodEventSpec {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  source: EventSource;
  /** Set for events about the container, e.g. `spec.containers{main}`. */
  fieldPath?: string;
}

export interface EventLimits {
  /** How long events of a deleted pod stay (a real cluster keeps every event for an hour). */
  keepAfterDeleteMs: number;
  /** Oldest events go first beyond this many. */
  max: number;
}

export class EventRecorder {
  /** uid + reason + message -> event name, for aggregation. */
  private byKey = new Map<string, { namespace: string; name: string }>();
  /** Event names per involved pod uid, for cleanup. */
  private byPod = new Map<string, { namespace: string; names: Set<string>; deletedAt?: number }>();
  private order: { namespace: string; name: string }[] = [];
  private sweeper: NodeJS.Timeout;
  private unsubscribe: () => void;

  constructor(private readonly store: Store, private readonly limits: EventLimits) {
    this.unsubscribe = store.subscribe((ev) => {
      if (ev.resource !== "pods" || ev.type !== "DELETED") return;
      const entry = this.byPod.get(String(ev.object.metadata.uid));
      if (entry) entry.deletedAt = Date.now();
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, Math.max(100, limits.keepAfterDeleteMs / 2)));
    this.sweeper.unref();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.unsubscribe();
  }

  /** Records an event about `pod` (the state as the writer saw it). */
  record(pod: KObject, e: PodEventSpec): void {
    const uid = String(pod.metadata.uid);
    const namespace = String(pod.metadata.namespace);
    const key = `${uid}\u0000${e.reason}\u0000${e.message}\u0000${e.fieldPath ?? ""}`;
    const now = rfc3339();
    const existing = this.byKey.get(key);
    if (existing && this.store.get("events", existing.namespace, existing.name)) {
      this.store.update("events", existing.namespace, existing.name, (ev) => {
        ev.count = (ev.count ?? 1) + 1;
        ev.lastTimestamp = now;
      });
      return;
    }
    // Named like the kubelet's events, <object name>.<unix nanoseconds in hex>: the names sort in the
    // order the events happened, which kubectl describe keeps for events within the same second.
    let t = nowNs();
    while (this.store.get("events", namespace, `${pod.metadata.name}.${t.toString(16)}`)) t++;
    const name = `${pod.metadata.name}.${t.toString(16)}`;
    const involvedObject: Record<string, string> = { kind: "Pod", namespace, name: pod.metadata.name, uid, apiVersion: "v1" };
    if (pod.metadata.resourceVersion) involvedObject.resourceVersion = String(pod.metadata.resourceVersion);
    if (e.fieldPath) involvedObject.fieldPath = e.fieldPath;
    const event: KObject = {
      kind: "Event",
      apiVersion: "v1",
      metadata: { name, namespace, uid: randomUUID(), creationTimestamp: now },
      involvedObject,
      reason: e.reason,
      message: e.message,
      source: e.source === "kubelet" ? { component: "kubelet", host: "localkube" } : { component: e.source },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: e.type,
      eventTime: null,
      reportingComponent: e.source,
      reportingInstance: e.source === "kubelet" ? "localkube" : "",
    };
    this.store.create("events", event);
    this.byKey.set(key, { namespace, name });
    const entry = this.byPod.get(uid) ?? { namespace, names: new Set<string>() };
    entry.names.add(name);
    this.byPod.set(uid, entry);
    this.order.push({ namespace, name });
    while (this.order.length > this.limits.max) this.drop(this.order.shift()!);
  }

  private drop(ref: { namespace: string; name: string }): void {
    this.store.remove("events", ref.namespace, ref.name);
  }

  private sweep(): void {
    const cutoff = Date.now() - this.limits.keepAfterDeleteMs;
    for (const [uid, entry] of this.byPod) {
      if (entry.deletedAt === undefined || entry.deletedAt > cutoff) continue;
      for (const name of entry.names) this.drop({ namespace: entry.namespace, name });
      this.byPod.delete(uid);
    }
    // Forget bookkeeping for events that are gone (dropped by the cap or the sweep).
    for (const [k, ref] of this.byKey) if (!this.store.get("events", ref.namespace, ref.name)) this.byKey.delete(k);
    this.order = this.order.filter((r) => this.store.get("events", r.namespace, r.name));
  }
}

/** `spec.containers{name}`, the fieldPath kubelet events carry. */
export const containerPath = (pod: KObject) => `spec.containers{${pod.spec.containers[0].name}}`;
