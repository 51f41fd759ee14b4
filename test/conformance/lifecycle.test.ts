// Conformance: a Pod's life as status shapes — phases, conditions, containerStatuses waiting/running/
// terminated, exit codes, termination messages, activeDeadlineSeconds, graceful and immediate delete.
// Commands use only `sh`, `echo`, `sleep` and `true`, which exist both on a host and in busybox.

import assert from "node:assert/strict";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { after, before, describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import {
  apiError,
  condition,
  logText,
  openTarget,
  pod,
  running,
  terminal,
  terminated,
  WAIT,
  waitForGone,
  waitForPod,
  watchUntil,
  type Target,
} from "./target.ts";

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t?.close();
});

const create = (body: V1Pod) => t.core.createNamespacedPod({ namespace: t.ns, body });
const podsPath = () => `/api/v1/namespaces/${t.ns}/pods`;
/** A container that runs until SIGTERM, then says so and exits 0. Works as PID 1 in a container too. */
const TRAP_TERM = ["sh", "-c", 'trap "echo term; exit 0" TERM; echo started; sleep 60 & wait'];
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const iso = (d: unknown) => (d instanceof Date ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : String(d));

// The tests are independent (own pod names), so they run concurrently: on a cluster that overlaps
// scheduling and image pulls.
describe("pod lifecycle", { concurrency: true }, () => {
  it("exit 3: Failed, terminated reason Error, conditions and container status of a failed pod", async () => {
    await create(pod("fail-3", ["sh", "-c", "echo hello; exit 3"]));
    const p = await waitForPod(t, "fail-3", (p) => terminal(p) && !!terminated(p));
    assert.equal(p.status?.phase, "Failed");
    assert.ok(p.spec?.nodeName, "the pod was bound to a node");
    assert.match(iso(p.status?.startTime), RFC3339);
    const cs = p.status!.containerStatuses![0];
    assert.equal(cs.name, "main");
    assert.match(cs.image, /busybox/);
    assert.equal(cs.ready, false);
    assert.equal(cs.started, false);
    assert.equal(cs.restartCount, 0);
    const term = cs.state!.terminated!;
    assert.equal(term.exitCode, 3);
    assert.equal(term.reason, "Error");
    assert.match(iso(term.startedAt), RFC3339);
    assert.match(iso(term.finishedAt), RFC3339);
    assert.ok(term.finishedAt!.getTime() >= term.startedAt!.getTime());
    assert.match(term.containerID ?? "", /^[a-z0-9-]+:\/\/.+/);
    assert.equal(cs.containerID, term.containerID);
    assert.equal(condition(p, "PodScheduled")?.status, "True");
    assert.equal(condition(p, "Initialized")?.status, "True");
    assert.equal(condition(p, "Ready")?.status, "False");
    assert.equal(condition(p, "Ready")?.reason, "PodFailed");
    assert.equal(condition(p, "ContainersReady")?.status, "False");
    assert.equal(condition(p, "ContainersReady")?.reason, "PodFailed");
    for (const c of p.status?.conditions ?? []) assert.match(iso(c.lastTransitionTime), RFC3339, c.type);
  });

  it("exit 0: Succeeded, terminated reason Completed, Ready False with PodCompleted", async () => {
    await create(pod("ok-0", ["sh", "-c", "exit 0"]));
    const p = await waitForPod(t, "ok-0", (p) => terminal(p) && !!terminated(p));
    assert.equal(p.status?.phase, "Succeeded");
    assert.equal(terminated(p)?.exitCode, 0);
    assert.equal(terminated(p)?.reason, "Completed");
    assert.equal(terminated(p)?.message, undefined);
    assert.equal(condition(p, "Ready")?.status, "False");
    assert.equal(condition(p, "Ready")?.reason, "PodCompleted");
    assert.equal(condition(p, "ContainersReady")?.reason, "PodCompleted");
  });

  it("a watch from a list's resourceVersion sees ADDED Pending, MODIFIED Running, MODIFIED Succeeded, DELETED", async () => {
    const list = await t.core.listNamespacedPod({ namespace: t.ns });
    const w = watchUntil(t, podsPath(), { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=watched" }, (evs) =>
      evs.some((e) => e.type === "DELETED"),
    );
    await create(pod("watched", ["sh", "-c", "sleep 2"]));
    await waitForPod(t, "watched", (p) => terminal(p) && !!terminated(p));
    await t.core.deleteNamespacedPod({ name: "watched", namespace: t.ns });
    const evs = await w.done;
    const seq = evs.map((e) => `${e.type}:${e.obj.status?.phase}`);
    assert.equal(seq[0], "ADDED:Pending");
    assert.equal(evs[0].obj.status.qosClass, "BestEffort");
    const runningAt = seq.indexOf("MODIFIED:Running");
    const succeededAt = seq.indexOf("MODIFIED:Succeeded");
    assert.ok(runningAt > 0 && succeededAt > runningAt, `unexpected order: ${seq.join(" ")}`);
    assert.equal(seq[seq.length - 1], "DELETED:Succeeded");
    assert.equal(seq.filter((s) => s.startsWith("DELETED")).length, 1);
    // Before running, the container waits; while running it has running.startedAt and is ready.
    for (const e of evs.slice(0, runningAt)) {
      const state = e.obj.status.containerStatuses?.[0]?.state;
      if (state) assert.ok(state.waiting, `a Pending pod's container is waiting: ${JSON.stringify(state)}`);
    }
    const runningEvs = evs.filter((e) => e.obj.status.phase === "Running");
    for (const e of runningEvs) assert.match(e.obj.status.containerStatuses[0].state.running.startedAt, RFC3339);
    const readyEv = runningEvs.find((e) => e.obj.status.containerStatuses[0].ready);
    assert.ok(readyEv, "a running container without probes becomes ready");
    assert.equal(readyEv.obj.status.containerStatuses[0].started, true);
    assert.equal(readyEv.obj.status.conditions.find((c: any) => c.type === "Ready").status, "True");
    const done = evs[succeededAt].obj.status.containerStatuses[0].state.terminated;
    assert.equal(done.reason, "Completed");
    assert.equal(done.startedAt, runningEvs[0].obj.status.containerStatuses[0].state.running.startedAt);
    // resourceVersions are opaque: compare only for equality. Every event is a distinct write.
    const rvs = evs.map((e) => e.obj.metadata.resourceVersion);
    assert.equal(new Set(rvs).size, rvs.length);
  });

  it("graceful delete: 200 with deletionTimestamp, a MODIFIED event, SIGTERM reaches the container, then DELETED", async () => {
    await create(pod("graceful", TRAP_TERM, { terminationGracePeriodSeconds: 30 }));
    await waitForPod(t, "graceful", running, WAIT.running);
    const list = await t.core.listNamespacedPod({ namespace: t.ns, fieldSelector: "metadata.name=graceful" });
    const w = watchUntil(t, podsPath(), { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=graceful" }, (evs) =>
      evs.some((e) => e.type === "DELETED"),
    );
    const before = Date.now();
    const resp = await t.core.deleteNamespacedPod({ name: "graceful", namespace: t.ns });
    assert.equal(resp.kind, "Pod");
    assert.ok(resp.metadata?.deletionTimestamp instanceof Date);
    assert.equal(resp.metadata?.deletionGracePeriodSeconds, 30, "the grace period comes from spec.terminationGracePeriodSeconds");
    // deletionTimestamp = now + grace (second precision): well in the future while SIGTERM is handled.
    assert.ok(resp.metadata!.deletionTimestamp!.getTime() > before + 20_000);
    const evs = await w.done;
    const marked = evs.findIndex((e) => e.obj.metadata.deletionTimestamp);
    assert.ok(marked >= 0, "the deletion mark is a write of its own");
    assert.equal(evs[marked].type, "MODIFIED");
    assert.equal(evs[marked].obj.metadata.deletionGracePeriodSeconds, 30);
    const last = evs[evs.length - 1];
    assert.equal(last.type, "DELETED");
    assert.ok(evs.indexOf(last) > marked);
    // exit 0 is the trap's: a SIGKILL would be 137, an unhandled SIGTERM 143.
    assert.ok(terminal(last.obj), `phase ${last.obj.status.phase}`);
    assert.equal(last.obj.status.containerStatuses[0].state.terminated.exitCode, 0);
    await waitForGone(t, "graceful");
  });

  it("gracePeriodSeconds=0 removes a running pod at once", async () => {
    await create(pod("immediate", ["sleep", "60"]));
    await waitForPod(t, "immediate", running, WAIT.running);
    const resp = await t.core.deleteNamespacedPod({ name: "immediate", namespace: t.ns, gracePeriodSeconds: 0 });
    assert.equal(resp.metadata?.name, "immediate");
    const { code } = await apiError(() => t.core.readNamespacedPod({ name: "immediate", namespace: t.ns }));
    assert.equal(code, 404);
  });

  it("activeDeadlineSeconds fails the pod with DeadlineExceeded", async () => {
    await create(pod("deadline", TRAP_TERM, { activeDeadlineSeconds: 2 }));
    const p = await waitForPod(t, "deadline", (p) => p.status?.phase === "Failed");
    assert.equal(p.status?.reason, "DeadlineExceeded");
    assert.equal(p.status?.message, "Pod was active on the node longer than the specified deadline");
    assert.equal(condition(p, "Ready")?.status, "False");
  });

  it("lowering a running pod's activeDeadlineSeconds stops it and keeps it; raising or removing it is 422", async () => {
    await create(pod("stoppable", ["sh", "-c", "echo started; sleep 120"], { activeDeadlineSeconds: 600 }));
    await waitForPod(t, "stoppable", running, WAIT.running);
    const patch = (body: object) =>
      t.core.patchNamespacedPod({ name: "stoppable", namespace: t.ns, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    const raised = await apiError(() => patch({ spec: { activeDeadlineSeconds: 900 } }));
    assert.equal(raised.code, 422);
    assert.equal(raised.body.reason, "Invalid");
    assert.match(raised.body.message, /activeDeadlineSeconds/);
    const removed = await apiError(() => patch({ spec: { activeDeadlineSeconds: null } }));
    assert.equal(removed.code, 422);
    await patch({ spec: { activeDeadlineSeconds: 1 } });
    const p = await waitForPod(t, "stoppable", (p) => p.status?.phase === "Failed");
    assert.equal(p.status?.reason, "DeadlineExceeded");
    assert.equal(await logText(t, "stoppable"), "started\n", "the stopped pod and its log are still there");
  });

  it("each pod has its own termination message file at /dev/termination-log", async () => {
    await create(pod("msg-a", ["sh", "-c", `echo '{"rows":42}' > /dev/termination-log`]));
    await create(pod("msg-b", ["sh", "-c", `printf 'seven' > /dev/termination-log; exit 2`]));
    const a = await waitForPod(t, "msg-a", (p) => terminal(p) && !!terminated(p));
    const b = await waitForPod(t, "msg-b", (p) => terminal(p) && !!terminated(p));
    assert.equal(terminated(a)?.message, '{"rows":42}\n');
    assert.equal(terminated(b)?.message, "seven");
    assert.equal(terminated(b)?.exitCode, 2);
  });

  it("a custom terminationMessagePath is read the same way", async () => {
    await create(pod("msg-path", ["sh", "-c", "echo custom > /tmp/ferry-done"], {}, { terminationMessagePath: "/tmp/ferry-done" }));
    const p = await waitForPod(t, "msg-path", (p) => terminal(p) && !!terminated(p));
    assert.equal(terminated(p)?.message, "custom\n");
  });

  it("FallbackToLogsOnError: the log tail when the file is empty and the exit is non-zero, else nothing", async () => {
    await create(pod("fallback", ["sh", "-c", "echo one; sleep 0.2; echo two >&2; exit 1"], {}, { terminationMessagePolicy: "FallbackToLogsOnError" }));
    await create(pod("fallback-ok", ["sh", "-c", "echo fine"], {}, { terminationMessagePolicy: "FallbackToLogsOnError" }));
    await create(pod("fallback-file", ["sh", "-c", "echo noise; printf file > /dev/termination-log; exit 1"], {}, { terminationMessagePolicy: "FallbackToLogsOnError" }));
    const p = await waitForPod(t, "fallback", (p) => terminal(p) && !!terminated(p));
    const ok = await waitForPod(t, "fallback-ok", (p) => terminal(p) && !!terminated(p));
    const file = await waitForPod(t, "fallback-file", (p) => terminal(p) && !!terminated(p));
    assert.equal(terminated(p)?.message, "one\ntwo\n");
    assert.equal(terminated(ok)?.message, undefined);
    assert.equal(terminated(file)?.message, "file");
  });

  it("a command missing from the image is a StartError with exit code 128", async () => {
    await create(pod("no-such", ["definitely-not-a-command-xyz"]));
    const p = await waitForPod(t, "no-such", (p) => terminal(p) && !!terminated(p));
    assert.equal(p.status?.phase, "Failed");
    assert.equal(terminated(p)?.reason, "StartError");
    assert.equal(terminated(p)?.exitCode, 128);
    assert.match(terminated(p)?.message ?? "", /exec: "definitely-not-a-command-xyz": executable file not found in \$PATH/);
  });

  it("env values, fieldRef env and $(VAR) expansion in command ($$ escapes)", async () => {
    const body = pod("envcheck", ["sh", "-c", `echo "$GREETING|$(TASK)|"'$$(TASK)'"|$MY_NS|$MY_NAME"`]);
    body.spec!.containers[0].env = [
      { name: "GREETING", value: "hi there" },
      { name: "TASK", value: "count" },
      { name: "MY_NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "MY_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ];
    await create(body);
    await waitForPod(t, "envcheck", terminal);
    const log = await t.core.readNamespacedPodLog({ name: "envcheck", namespace: t.ns });
    assert.equal(log, `hi there|count|$(TASK)|${t.ns}|envcheck\n`);
  });
});
