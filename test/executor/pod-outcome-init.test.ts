// What a Pod with init containers and sidecars says about its try: a failed init container fails it with
// the reason `kubectl get pods` shows (Init:Error, ...), and an init container that cannot start for a
// reason that never resolves (a missing Secret) fails it at once, as the task's own container would.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { assessPod } from "../../executor/pod-outcome.ts";

const status = (name: string, state: V1ContainerStatus["state"]): V1ContainerStatus => ({ name, image: "x", imageID: "", ready: false, restartCount: 0, state });
const waiting = (name: string, reason: string, message?: string) => status(name, { waiting: { reason, message } });
const terminated = (name: string, exitCode: number, reason: string, message?: string) => status(name, { terminated: { exitCode, reason, message } });

function pod(phase: string, init: V1ContainerStatus[], main: V1ContainerStatus, created = new Date()): V1Pod {
  return {
    metadata: { name: "p", creationTimestamp: created },
    spec: {
      containers: [{ name: "task" }],
      initContainers: [
        { name: "side", restartPolicy: "Always" },
        { name: "migrate" },
      ],
    },
    status: { phase, initContainerStatuses: init, containerStatuses: [main] },
  };
}

describe("assessPod with init containers", () => {
  const now = new Date();

  it("fails a try whose init container failed, with the init container's reason and exit code", () => {
    const p = assessPod(
      pod("Failed", [terminated("side", 143, "Error"), terminated("migrate", 3, "Error", "no database\n")], waiting("task", "PodInitializing")),
      now,
      60_000,
    );
    assert.ok(p.kind === "finished");
    assert.deepEqual([p.outcome.succeeded, p.outcome.reason, p.outcome.message, p.outcome.exitCode], [false, "Init:Error", 'init container "migrate" failed with exit code 3: no database', null]);
    const oom = assessPod(pod("Failed", [status("side", {}), terminated("migrate", 137, "OOMKilled")], waiting("task", "PodInitializing")), now, 60_000);
    assert.ok(oom.kind === "finished" && oom.outcome.reason === "Init:OOMKilled");
  });

  it("keeps a Pod-level reason first, and reads a sidecar stopped after the task as nothing", () => {
    const withReason = pod("Failed", [terminated("side", 143, "Error"), terminated("migrate", 143, "Error")], waiting("task", "PodInitializing"));
    withReason.status!.reason = "DeadlineExceeded";
    const d = assessPod(withReason, now, 60_000);
    assert.ok(d.kind === "finished" && d.outcome.reason === "DeadlineExceeded");
    const ok = assessPod(pod("Succeeded", [terminated("side", 143, "Error"), terminated("migrate", 0, "Completed")], terminated("task", 0, "Completed", "42")), now, 60_000);
    assert.ok(ok.kind === "finished" && ok.outcome.succeeded && ok.outcome.terminationMessage === "42");
  });

  it("fails at once when an init container cannot start for good, naming it", () => {
    const p = assessPod(pod("Pending", [status("side", { running: {} }), waiting("migrate", "CreateContainerConfigError", 'secret "db" not found')], waiting("task", "PodInitializing")), now, 60_000);
    assert.deepEqual(p, { kind: "stuck", reason: "CreateContainerConfigError", message: 'init container "migrate": secret "db" not found', fatal: true });
  });

  it("waits while init containers run, and names an init container's pull failure at the start timeout", () => {
    assert.equal(assessPod(pod("Pending", [status("side", { running: {} }), status("migrate", { running: {} })], waiting("task", "PodInitializing")), now, 60_000).kind, "pending");
    const old = new Date(now.getTime() - 120_000);
    const p = assessPod(pod("Pending", [waiting("side", "ImagePullBackOff", 'Back-off pulling image "x"'), waiting("migrate", "PodInitializing")], waiting("task", "PodInitializing"), old), now, 60_000);
    assert.deepEqual(p, { kind: "stuck", reason: "ImagePullBackOff", message: 'init container "side": Back-off pulling image "x"', fatal: false });
  });
});
