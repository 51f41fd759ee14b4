// Node-level faults, with the status shapes a real cluster gives them:
// - eviction under node memory pressure (kubelet eviction manager): pod Failed / Evicted, a
//   DisruptionTarget condition (TerminationByKubelet), Evicted + Killing events, process SIGKILLed
//   (the container ends terminated, exit 137, reason Error);
// - loss of the whole node: every bound, unfinished pod goes Failed / NodeLost, its process dies, and
//   its container is reported the way the kubelet reports one it can no longer find
//   (ContainerStatusUnknown, exit 137). The node comes back at once: new pods schedule as before.

import { markDisruption, markPodFailed, markTerminated, isTerminal, rfc3339, NODE_NAME } from "./podstatus.ts";
import { refOf, type Ref, type Runtime } from "./runtime.ts";

const UNKNOWN = { reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated" };

function evictionMessage(pod: any): string {
  const c = pod.spec.containers[0];
  const request = c.resources?.requests?.memory ?? "0";
  return `The node was low on resource: memory. Threshold quantity: 100Mi, available: 64Mi. Container ${c.name} was using 256Mi, request is ${request}, has larger consumption of memory. `;
}

/** Kills what runs for the pod (or stops its start) and resolves once its final status is written. */
async function stop(rt: Runtime, ref: Ref, override?: { reason: string; message?: string }): Promise<void> {
  const run = rt.runs.get(ref.uid);
  if (run && !run.finished && rt.pending(run).length > 0) {
    if (override) run.override = override;
    rt.killAll(run, "SIGKILL");
    await run.done;
    return;
  }
  if (!run || !run.finished) {
    // Nothing running (not started yet): the kubelet reports the container it never ran as unknown.
    if (run) rt.abandon(run);
    const now = rfc3339();
    rt.update(ref, (o) => markTerminated(o, { exitCode: 137, ...UNKNOWN, finishedAt: now }));
  }
}

export async function evict(rt: Runtime, namespace: string, name: string): Promise<void> {
  const pod = rt.store.get("pods", namespace, name);
  if (!pod) throw new Error(`localkube: cannot evict pod ${namespace}/${name}: not found`);
  if (pod.spec.nodeName !== NODE_NAME) throw new Error(`localkube: cannot evict pod ${namespace}/${name}: it is not scheduled on the node`);
  if (isTerminal(pod)) throw new Error(`localkube: cannot evict pod ${namespace}/${name}: it has already finished (${pod.status.phase})`);
  const ref = refOf(pod);
  const message = evictionMessage(pod);
  const failed = rt.update(ref, (o) => {
    markPodFailed(o, "Evicted", message);
    markDisruption(o, "TerminationByKubelet", message);
  });
  if (!failed) return;
  rt.event(failed, { type: "Warning", reason: "Evicted", message }, false);
  const run = rt.runs.get(ref.uid);
  if (run && rt.pending(run).length > 0) rt.event(failed, { type: "Normal", reason: "Killing", message: `Stopping container ${failed.spec.containers[0].name}` });
  await stop(rt, ref);
}

export async function loseNode(rt: Runtime): Promise<void> {
  const victims = rt.store.list("pods").filter((p) => p.spec.nodeName === NODE_NAME && !isTerminal(p));
  await Promise.all(
    victims.map(async (pod) => {
      const ref = refOf(pod);
      const message = `Node ${NODE_NAME} which was running pod ${pod.metadata.name} is unresponsive: the node was lost`;
      const failed = rt.update(ref, (o) => markPodFailed(o, "NodeLost", message));
      if (!failed) return;
      rt.event(failed, { type: "Warning", reason: "NodeNotReady", message: "Node is not ready" }, false, "node-controller");
      await stop(rt, ref, UNKNOWN);
    }),
  );
}
