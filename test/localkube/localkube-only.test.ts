// localkube-only behaviour: what the conformance suite (test/conformance/) cannot check on a real
// cluster, because it needs localkube's options or host view (the worker image, host processes, a tiny
// watch-history window), or because it is one of localkube's documented deviations (README.md), or
// because a real cluster's answer depends on its version and other workloads.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AuthorizationV1Api, Watch, type V1Pod } from "@kubernetes/client-node";
import { assertExpired } from "../conformance/target.ts";
import { alive, apiError, podSpec, setup, sleep, terminal, waitDead, waitForGone, waitForPod, watchEvents, WORKER_IMAGE, type Env, type WatchEvent } from "./helpers.ts";

let env: Env;
before(async () => {
  env = await setup({ namespaces: ["team-a"] });
});
after(async () => {
  await env.close();
});

const create = (body: V1Pod) => env.core.createNamespacedPod({ namespace: "default", body });
const term = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;

/** Collects watch events until `until` holds. */
/** Collects watch events until `until` holds; a watch the server ends first fails the test. */
function collect(path: string, query: Record<string, string | number | boolean | undefined>, until: (evs: WatchEvent[]) => boolean) {
  const { evs, ended } = watchEvents(env.kc, path, query, until);
  const done = ended.then(({ by, err }) => {
    if (by === "server" && !until(evs)) throw err ?? new Error("watch ended early");
  });
  return { evs, done };
}

describe("host processes", { concurrency: true }, () => {
  it("the worker image runs workerCommand with the container's args, $(VAR) expanded (command ignored)", async () => {
    const body = podSpec("worker", ["ignored-entrypoint"], {}, WORKER_IMAGE);
    body.spec!.containers[0].args = ["run", "$(TASK)"];
    body.spec!.containers[0].env = [{ name: "TASK", value: "count" }];
    await create(body);
    const p = await waitForPod(env.core, "worker", terminal);
    assert.equal(p.status?.phase, "Succeeded");
    assert.equal(await env.core.readNamespacedPodLog({ name: "worker", namespace: "default" }), "worker run count\n");
  });

  it("a non-worker image without command cannot run and says why", async () => {
    const body = podSpec("no-cmd", []);
    delete body.spec!.containers[0].command;
    await create(body);
    const p = await waitForPod(env.core, "no-cmd", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(term(p)?.reason, "StartError");
    assert.equal(term(p)?.exitCode, 128);
    assert.match(term(p)?.message ?? "", /host processes.*command/);
  });

  it("each pod runs in a fresh, empty working directory", async () => {
    await create(podSpec("workdir", ["sh", "-c", "ls -A | wc -l"]));
    await waitForPod(env.core, "workdir", terminal);
    assert.equal((await env.core.readNamespacedPodLog({ name: "workdir", namespace: "default" })).trim(), "0");
  });

  it("graceful delete SIGTERMs the whole process group (143 when unhandled) and no process outlives the pod", async () => {
    await create(podSpec("sleeper", ["sh", "-c", "sleep 60 & echo $!; wait"], { terminationGracePeriodSeconds: 20 }));
    await waitForPod(env.core, "sleeper", (p) => p.status?.phase === "Running");
    let childPid = 0;
    for (let i = 0; i < 200 && !childPid; i++) {
      childPid = Number((await env.core.readNamespacedPodLog({ name: "sleeper", namespace: "default" })).trim());
      if (!childPid) await sleep(50);
    }
    assert.ok(childPid > 0 && alive(childPid));
    const list = await env.core.listNamespacedPod({ namespace: "default", fieldSelector: "metadata.name=sleeper" });
    const w = collect("/api/v1/namespaces/default/pods", { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=sleeper" }, (evs) =>
      evs.some((e) => e.type === "DELETED"),
    );
    const resp = await env.core.deleteNamespacedPod({ name: "sleeper", namespace: "default" });
    assert.equal(resp.metadata?.deletionGracePeriodSeconds, 20);
    await w.done;
    // Exactly: the deletion mark comes first, nothing happens between it and the exit.
    assert.equal(w.evs[0].type, "MODIFIED");
    assert.ok(w.evs[0].obj.metadata.deletionTimestamp);
    const final = w.evs[w.evs.length - 1].obj;
    assert.equal(final.status.phase, "Failed");
    assert.equal(final.status.containerStatuses[0].state.terminated.exitCode, 143);
    assert.equal(await waitDead(childPid), true, "the backgrounded child should have been killed with its group");
    await waitForGone(env.core, "sleeper");
  });

  it("gracePeriodSeconds=0 kills the process group", async () => {
    await create(podSpec("instant-kill", ["sh", "-c", "sleep 60 & echo $!; wait"]));
    await waitForPod(env.core, "instant-kill", (p) => p.status?.phase === "Running");
    let childPid = 0;
    for (let i = 0; i < 200 && !childPid; i++) {
      childPid = Number((await env.core.readNamespacedPodLog({ name: "instant-kill", namespace: "default" })).trim());
      if (!childPid) await sleep(50);
    }
    assert.ok(childPid > 0);
    await env.core.deleteNamespacedPod({ name: "instant-kill", namespace: "default", gracePeriodSeconds: 0 });
    assert.equal(await waitDead(childPid), true);
  });

  it("activeDeadlineSeconds SIGTERMs the process: exit 143", async () => {
    await create(podSpec("deadline", ["sleep", "60"], { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 5 }));
    const p = await waitForPod(env.core, "deadline", (p) => terminal(p) && !!term(p));
    assert.equal(p.status?.reason, "DeadlineExceeded");
    assert.equal(term(p)?.exitCode, 143);
  });

  it("stdout and stderr keep the exact write order even without pauses (one pipe)", async () => {
    await create(podSpec("mixed", ["sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2"]));
    await waitForPod(env.core, "mixed", terminal);
    assert.equal(await env.core.readNamespacedPodLog({ name: "mixed", namespace: "default" }), "out1\nerr1\nout2\nerr2\n");
  });
});

describe("documented deviations and exact values", () => {
  it("rejects a second regular container with 422 FieldValueForbidden (one container per pod, beside init containers and sidecars)", async () => {
    const p = podSpec("two-containers", ["true"]);
    p.spec!.containers.push({ name: "other", image: "alpine", command: ["true"] });
    const { code, body } = await apiError(() => create(p));
    assert.equal(code, 422);
    assert.equal(body.details.causes[0].field, "spec.containers");
    assert.equal(body.details.causes[0].reason, "FieldValueForbidden");
  });

  it("sets generation 1 and increasing numeric resourceVersions", async () => {
    const a = await create(podSpec("gen-1", ["true"]));
    const b = await create(podSpec("gen-2", ["true"]));
    assert.equal(a.metadata?.generation, 1);
    assert.ok(Number(b.metadata?.resourceVersion) > Number(a.metadata?.resourceVersion));
  });

  it("has exactly the namespaces it was started with, and default can't be deleted (403)", async () => {
    const names = (await env.core.listNamespace()).items.map((n) => n.metadata?.name);
    assert.deepEqual(names, ["default", "team-a"]);
    const forbidden = await apiError(() => env.core.deleteNamespace({ name: "default" }));
    assert.equal(forbidden.code, 403);
  });

  it("serves one named group in /apis: authorization.k8s.io, for SelfSubjectAccessReview", async () => {
    const groups = (await (await fetch(`${env.lk.url}/apis`)).json()).groups;
    assert.deepEqual(groups.map((g: { name: string }) => g.name), ["authorization.k8s.io"]);
    const list = await (await fetch(`${env.lk.url}/apis/authorization.k8s.io/v1`)).json();
    assert.deepEqual(list.resources.map((r: { name: string; verbs: string[] }) => [r.name, r.verbs]), [["selfsubjectaccessreviews", ["create"]]]);
  });

  it("allows every SelfSubjectAccessReview (no RBAC: as cluster-admin), and validates the review", async () => {
    const auth = env.kc.makeApiClient(AuthorizationV1Api);
    const review = await auth.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace: "team-a", verb: "get", resource: "pods", subresource: "log" } } },
    });
    assert.equal(review.kind, "SelfSubjectAccessReview");
    assert.equal(review.status?.allowed, true);
    assert.match(review.status?.reason ?? "", /localkube/);
    assert.equal(review.spec.resourceAttributes?.subresource, "log");
    const bad = await apiError(() => auth.createSelfSubjectAccessReview({ body: { spec: {} } }));
    assert.equal(bad.code, 422);
    assert.equal(bad.body.reason, "Invalid");
    assert.match(bad.body.message, /exactly one of nonResourceAttributes or resourceAttributes must be specified/);
  });

  it("sendInitialEvents: initial ADDED events, a closing bookmark, and the end at timeoutSeconds", async () => {
    // Real servers support this only with the WatchList feature (version- and gate-dependent).
    const q = "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1&watch=1";
    const r = await fetch(`${env.lk.url}/api/v1/namespaces?${q}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
    const events = (await r.text()).trim().split("\n").map((l) => JSON.parse(l));
    const added = events.filter((e) => e.type === "ADDED").map((e) => e.object.metadata.name);
    assert.ok(added.includes("default"));
    const bm = events.find((e) => e.type === "BOOKMARK");
    assert.equal(bm.object.kind, "Namespace");
    assert.equal(bm.object.metadata.annotations["k8s.io/initial-events-end"], "true");
  });
});

describe("watch history window", () => {
  it("a resourceVersion older than watchHistorySeconds gets 200 then one ERROR 410 Expired event", async () => {
    const small = await setup({ watchHistorySeconds: 1 });
    try {
      const list = await small.core.listNamespacedPod({ namespace: "default" });
      await small.core.createNamespacedPod({ namespace: "default", body: podSpec("old", ["true"]) });
      await waitForPod(small.core, "old", terminal);
      await sleep(1500);
      const evs: { type: string; obj: any }[] = [];
      const err = await new Promise<unknown>((resolve) => {
        void new Watch(small.kc).watch("/api/v1/namespaces/default/pods", { resourceVersion: list.metadata?.resourceVersion }, (type, obj) => evs.push({ type, obj }), resolve);
      });
      assert.equal(err ?? null, null);
      assert.equal(evs.length, 1);
      assertExpired(evs[0], /^too old resource version: \d+ \(\d+\)$/);
      assert.equal(evs[0].obj.reason, "Expired");
    } finally {
      await small.close();
    }
  });
});
