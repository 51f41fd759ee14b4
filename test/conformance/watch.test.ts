// Conformance: watch semantics through client-node's Watch — start points (none, a list's
// resourceVersion, an object's), selector transitions, BOOKMARK, timeoutSeconds, and 410 Expired.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { assertExpired, onLocalkube, openTarget, pod, terminal, waitForPod, watchOnce, watchUntil, type Target } from "./target.ts";

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t?.close();
});

const create = (body: V1Pod) => t.core.createNamespacedPod({ namespace: t.ns, body });
const podsPath = () => `/api/v1/namespaces/${t.ns}/pods`;
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const labelled = (name: string, labels: Record<string, string>): V1Pod => {
  const p = pod(name, ["true"]);
  p.metadata = { name, labels };
  return p;
};

describe("watch", { concurrency: true }, () => {
  it("without resourceVersion: synthetic ADDED for current objects, then the stream ends at timeoutSeconds", async () => {
    await create(pod("synthetic", ["true"]));
    await waitForPod(t, "synthetic", terminal);
    const { evs, err } = await watchOnce(t, podsPath(), { fieldSelector: "metadata.name=synthetic", timeoutSeconds: 1 });
    assert.equal(err, null, "a watch reaching timeoutSeconds just ends");
    assert.deepEqual(evs.map((e) => e.type), ["ADDED"]);
    assert.equal(evs[0].obj.kind, "Pod");
    assert.equal(evs[0].obj.apiVersion, "v1");
    assert.equal(evs[0].obj.status.phase, "Succeeded");
  });

  it("from an object's resourceVersion: only later changes, no replay of that object's creation", async () => {
    const a = await create(labelled("rv-a", { rv: t.runId }));
    const w = watchUntil(t, podsPath(), { resourceVersion: a.metadata?.resourceVersion, labelSelector: `rv=${t.runId}` }, (evs) =>
      evs.some((e) => e.type === "ADDED" && e.obj.metadata.name === "rv-b"),
    );
    await create(labelled("rv-b", { rv: t.runId }));
    const evs = await w.done;
    assert.ok(!evs.some((e) => e.type === "ADDED" && e.obj.metadata.name === "rv-a"), "rv-a was created at the start point");
    assert.ok(evs.every((e) => ["MODIFIED", "ADDED"].includes(e.type)));
  });

  it("a label change into and out of the selector arrives as ADDED and DELETED (with the previous state)", async () => {
    await create(pod("flip", ["true"]));
    await waitForPod(t, "flip", terminal);
    const sel = `flip-${t.runId}=on`;
    const list = await t.core.listNamespacedPod({ namespace: t.ns, labelSelector: sel });
    assert.equal(list.items.length, 0);
    const w = watchUntil(t, podsPath(), { resourceVersion: list.metadata?.resourceVersion, labelSelector: sel }, (evs) => evs.some((e) => e.type === "DELETED"));
    const on = await t.core.patchNamespacedPod({ name: "flip", namespace: t.ns, body: { metadata: { labels: { [`flip-${t.runId}`]: "on" } } } }, merge);
    const off = await t.core.patchNamespacedPod({ name: "flip", namespace: t.ns, body: { metadata: { labels: { [`flip-${t.runId}`]: "off" } } } }, merge);
    // (A status write by a cluster's kubelet between the patches would show up as a MODIFIED in between.)
    const evs = (await w.done).filter((e) => e.type !== "MODIFIED");
    assert.deepEqual(evs.map((e) => e.type), ["ADDED", "DELETED"]);
    assert.equal(evs[0].obj.metadata.labels[`flip-${t.runId}`], "on");
    assert.equal(evs[0].obj.metadata.resourceVersion, on.metadata?.resourceVersion);
    // The DELETED event carries the last state that matched, stamped with the change's resourceVersion.
    assert.equal(evs[1].obj.metadata.labels[`flip-${t.runId}`], "on");
    assert.equal(evs[1].obj.metadata.resourceVersion, off.metadata?.resourceVersion);
  });

  it(
    "allowWatchBookmarks: a BOOKMARK (the kind with only metadata.resourceVersion) before timeoutSeconds ends the stream",
    async () => {
      const list = await t.core.listNamespacedPod({ namespace: t.ns });
      const { evs, err } = await watchOnce(t, podsPath(), {
        resourceVersion: list.metadata?.resourceVersion,
        fieldSelector: "metadata.name=no-such-pod",
        allowWatchBookmarks: true,
        timeoutSeconds: 3,
      });
      assert.equal(err, null);
      const marks = evs.filter((e) => e.type === "BOOKMARK");
      assert.ok(marks.length >= 1, `expected a BOOKMARK, got ${JSON.stringify(evs.map((e) => e.type))}`);
      for (const m of marks) {
        assert.equal(m.obj.kind, "Pod");
        assert.match(m.obj.metadata.resourceVersion, /^\d+$/);
        assert.equal(m.obj.metadata.name, undefined);
      }
      assert.deepEqual(new Set(evs.map((e) => e.type)), new Set(["BOOKMARK"]));
    },
  );

  it(
    "a resourceVersion older than the server retains: HTTP 200, one ERROR event with a 410 Expired Status, then the end",
    {
      skip: onLocalkube
        ? "localkube keeps every event of its short life, so rv 1 isn't too old; test/localkube/localkube-only.test.ts forces the window instead"
        : false,
    },
    async () => {
      const { evs, err } = await watchOnce(t, podsPath(), { resourceVersion: "1", timeoutSeconds: 10 });
      assert.equal(err, null, "the 410 comes in the stream, not as the HTTP status");
      assert.equal(evs.length, 1);
      assertExpired(evs[0], /too old/);
    },
  );
});

