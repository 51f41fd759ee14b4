// The rule that keeps a late answer about a Pod from undoing what the watch already reported.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { isLaterView } from "../../executor/pod-view.ts";

const pod = (rv: string, phase: string, container: Record<string, unknown> = {}, extra: Partial<V1Pod["metadata"]> = {}): V1Pod => ({
  metadata: { name: "p", uid: "u1", resourceVersion: rv, ...extra },
  status: { phase, containerStatuses: [{ name: "task", image: "x", imageID: "", ready: false, restartCount: 0, state: container }] },
});

const pending = pod("1", "Pending", { waiting: { reason: "ContainerCreating" } });
const running = pod("2", "Running", { running: { startedAt: new Date() } });
const finished = pod("3", "Succeeded", { terminated: { exitCode: 0, reason: "Completed" } });

describe("isLaterView", () => {
  it("takes the first sighting and any step forward", () => {
    assert.equal(isLaterView(null, pending), true);
    assert.equal(isLaterView(pending, running), true);
    assert.equal(isLaterView(running, finished), true);
    assert.equal(isLaterView(pending, finished), true);
  });

  it("refuses a create's late answer (Pending) after the watch showed the Pod running or finished", () => {
    assert.equal(isLaterView(running, pending), false);
    assert.equal(isLaterView(finished, pending), false);
    assert.equal(isLaterView(finished, running), false);
  });

  it("refuses a sighting from before a deletion the executor already saw", () => {
    const deleting = pod("4", "Running", { running: {} }, { deletionTimestamp: new Date() });
    assert.equal(isLaterView(deleting, running), false);
    assert.equal(isLaterView(running, deleting), true);
  });

  it("takes a Pod of the same name with another uid, and the same version again", () => {
    assert.equal(isLaterView(finished, pod("1", "Pending", {}, { uid: "u2" })), true);
    assert.equal(isLaterView(running, pod("2", "Running", { running: {} })), true);
  });
});
