// Which of two sightings of the same Pod is the later one. The executor hears about a Pod from several
// places whose answers can arrive in any order: the create's response, GETs, and the watch. Under load
// a create's response (the Pod as Pending) often arrives after the watch has already reported the Pod
// Running or even finished; taking the late answer as the current state made the executor forget that
// the Pod ran, so it never shipped the log, deleted instead of stopping a running Pod on cancel, and
// waited forever for a finish it had already been told about. resourceVersion is opaque (only equality
// may be compared), so the order comes from the Pod's life instead: it only moves forward.
import type { V1Pod } from "@kubernetes/client-node";

/** 0 not started, 1 running, 2 ended: neither the phase nor the container's state ever goes back. */
function lifeStage(pod: V1Pod): number {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return 2;
  const state = pod.status?.containerStatuses?.[0]?.state;
  if (state?.terminated) return 2;
  if (phase === "Running" || state?.running) return 1;
  return 0;
}

/**
 * True when `incoming` may replace `current` as what we know of the Pod: it is another Pod of the same
 * name (a new uid), or it is no earlier in the Pod's life and does not undo a deletion already seen.
 */
export function isLaterView(current: V1Pod | null, incoming: V1Pod): boolean {
  if (!current) return true;
  if (current.metadata?.uid && incoming.metadata?.uid && current.metadata.uid !== incoming.metadata.uid) return true;
  if (current.metadata?.resourceVersion && current.metadata.resourceVersion === incoming.metadata?.resourceVersion) return true;
  if (lifeStage(incoming) < lifeStage(current)) return false;
  if (current.metadata?.deletionTimestamp && !incoming.metadata?.deletionTimestamp) return false;
  return true;
}
