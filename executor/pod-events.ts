// Copies the Kubernetes Events about a try's Pod (scheduling, image pulls, kills, eviction) into the
// try's own events, so that why a try ended can still be read once the Pod, and later its Events, are
// gone: a cluster keeps Events for about an hour, Ferry keeps a try's as long as the try.
// Capturing again is harmless (each Event's uid is its ref: a repeat updates its count and last time).
import type * as k8s from "@kubernetes/client-node";
import type { Queryable } from "../db/db.ts";
import type { Kube } from "./kube.ts";
import { addTryEvents, type TryEventInput } from "./try-events.repository.ts";

export interface PodEventsOf {
  taskInstanceId: string;
  tryNumber: number;
  namespace: string;
  podName: string;
  /** The Pod's uid when known: Events of an older Pod that had the same name are then left out. */
  podUid?: string | null;
}

/** A Pod has few Events; these only bound a list that would otherwise page on and on. */
const PAGE = 250;
const MAX_EVENTS = 1000;

/**
 * Lists the Events whose involvedObject is the try's Pod and stores them as the try's events (source
 * `kubernetes`); returns how many were stored. It rejects when the cluster or Postgres fails: the
 * caller logs that and carries on, since a try's outcome never depends on its Events.
 */
export async function captureKubeEvents(kube: Kube, db: Queryable, t: PodEventsOf): Promise<number> {
  const selector = [`involvedObject.kind=Pod`, `involvedObject.name=${t.podName}`];
  if (t.podUid) selector.push(`involvedObject.uid=${t.podUid}`);
  const found: k8s.CoreV1Event[] = [];
  let cont: string | undefined;
  do {
    const page = await kube.core.listNamespacedEvent({ namespace: t.namespace, fieldSelector: selector.join(","), limit: PAGE, _continue: cont });
    found.push(...page.items);
    cont = page.metadata?._continue || undefined;
  } while (cont && found.length < MAX_EVENTS);
  const events = podEventsToInputs(found);
  await addTryEvents(db, t.taskInstanceId, t.tryNumber, events);
  return events.length;
}

/**
 * Maps core/v1 Events to try events, oldest first. Events stamped in the same second keep the order of
 * their names (a kubelet names them `<pod>.<nanoseconds in hex>`), so the stored order is the order
 * they happened; an Event listed twice (pages that shifted) is kept once.
 */
export function podEventsToInputs(items: readonly k8s.CoreV1Event[]): TryEventInput[] {
  const byRef = new Map<string, { name: string; input: TryEventInput }>();
  for (const ev of items) {
    const name = ev.metadata?.name ?? "";
    const ref = ev.metadata?.uid || `${ev.metadata?.namespace ?? ""}/${name}`;
    const at = toDate(ev.firstTimestamp) ?? toDate(ev.eventTime) ?? toDate(ev.metadata?.creationTimestamp) ?? new Date();
    byRef.set(ref, {
      name,
      input: {
        source: "kubernetes",
        // core/v1 knows only these two; anything else is informational.
        type: ev.type === "Warning" ? "Warning" : "Normal",
        reason: ev.reason ?? "",
        message: ev.message ?? "",
        at,
        count: Math.max(1, ev.count ?? ev.series?.count ?? 1),
        lastAt: toDate(ev.lastTimestamp) ?? toDate(ev.series?.lastObservedTime) ?? null,
        ref,
      },
    });
  }
  return [...byRef.values()]
    .sort((a, b) => a.input.at!.getTime() - b.input.at!.getTime() || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => e.input);
}

/** client-node hands times over as Dates, but a MicroTime or a missing field may come as a string or null. */
function toDate(v: Date | string | null | undefined): Date | null {
  if (v === null || v === undefined || v === "") return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}
