// API-level behaviour: CRUD, Status bodies, selectors, paging, discovery, patch.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node";
import { apiError, podSpec, setup, waitForGone, waitForPod, terminal, type Env } from "./helpers.ts";

let env: Env;
before(async () => {
  env = await setup({ namespaces: ["team-a"] });
});
after(async () => {
  await env.close();
});

describe("pods: create / get / list / delete", () => {
  it("creates with server-set metadata and a Pending status, discarding the client's status", async () => {
    const body = podSpec("create-1", ["true"]);
    (body as any).status = { phase: "Running" };
    const pod = await env.core.createNamespacedPod({ namespace: "default", body });
    assert.equal(pod.metadata?.name, "create-1");
    assert.match(pod.metadata?.uid ?? "", /^[0-9a-f-]{36}$/);
    assert.match(String(pod.metadata?.creationTimestamp?.toISOString?.() ?? pod.metadata?.creationTimestamp), /^\d{4}-/);
    assert.match(pod.metadata?.resourceVersion ?? "", /^\d+$/);
    assert.equal(pod.metadata?.generation, 1);
    assert.equal(pod.status?.phase, "Pending");
    assert.equal(pod.status?.qosClass, "BestEffort");
    const got = await env.core.readNamespacedPod({ name: "create-1", namespace: "default" });
    assert.equal(got.metadata?.uid, pod.metadata?.uid);
    await waitForPod(env.core, "create-1", terminal);
  });

  it("answers 404 NotFound with a Status body", async () => {
    const { code, body } = await apiError(() => env.core.readNamespacedPod({ name: "nope", namespace: "default" }));
    assert.equal(code, 404);
    assert.deepEqual(body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'pods "nope" not found',
      reason: "NotFound",
      details: { name: "nope", kind: "pods" },
      code: 404,
    });
  });

  it("answers 409 AlreadyExists for a duplicate name", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("dup", ["true"]) });
    const { code, body } = await apiError(() => env.core.createNamespacedPod({ namespace: "default", body: podSpec("dup", ["true"]) }));
    assert.equal(code, 409);
    assert.equal(body.reason, "AlreadyExists");
    assert.equal(body.message, 'pods "dup" already exists');
    assert.deepEqual(body.details, { name: "dup", kind: "pods" });
  });

  it("answers 422 Invalid with causes for a bad name and a missing image", async () => {
    const bad = podSpec("Bad_Name", ["true"]);
    delete (bad.spec!.containers[0] as any).image;
    const { code, body } = await apiError(() => env.core.createNamespacedPod({ namespace: "default", body: bad }));
    assert.equal(code, 422);
    assert.equal(body.reason, "Invalid");
    assert.equal(body.details.kind, "Pod");
    assert.equal(body.details.name, "Bad_Name");
    assert.match(body.message, /^Pod "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    assert.deepEqual(
      body.details.causes.map((c: any) => [c.reason, c.field]),
      [
        ["FieldValueInvalid", "metadata.name"],
        ["FieldValueRequired", "spec.containers[0].image"],
      ],
    );
    assert.equal(body.details.causes[1].message, "Required value");
  });

  it("rejects initContainers with 422", async () => {
    const p = podSpec("with-init", ["true"], { initContainers: [{ name: "init", image: "alpine", command: ["true"] }] });
    const { code, body } = await apiError(() => env.core.createNamespacedPod({ namespace: "default", body: p }));
    assert.equal(code, 422);
    assert.equal(body.details.causes[0].field, "spec.initContainers");
    assert.equal(body.details.causes[0].reason, "FieldValueForbidden");
  });

  it("answers 404 for a missing namespace", async () => {
    const { code, body } = await apiError(() => env.core.createNamespacedPod({ namespace: "ghost", body: podSpec("x", ["true"]) }));
    assert.equal(code, 404);
    assert.equal(body.message, 'namespaces "ghost" not found');
    assert.deepEqual(body.details, { name: "ghost", kind: "namespaces" });
  });

  it("supports generateName", async () => {
    const body = podSpec("", ["true"]);
    body.metadata = { generateName: "gen-" };
    const pod = await env.core.createNamespacedPod({ namespace: "default", body });
    assert.match(pod.metadata?.name ?? "", /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it("filters lists by label and field selectors, across namespaces too", async () => {
    const mk = (name: string, labels: Record<string, string>, ns = "team-a") =>
      env.core.createNamespacedPod({ namespace: ns, body: { ...podSpec(name, ["true"]), metadata: { name, labels } } });
    await mk("sel-a", { tier: "web", env: "prod" });
    await mk("sel-b", { tier: "db", env: "prod" });
    await mk("sel-c", { tier: "web" });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await env.core.listNamespacedPod({ namespace: "team-a", labelSelector, fieldSelector })).items.map((p) => p.metadata?.name);
    assert.deepEqual(await names("tier=web"), ["sel-a", "sel-c"]);
    assert.deepEqual(await names("tier==web,env=prod"), ["sel-a"]);
    assert.deepEqual(await names("tier!=web"), ["sel-b"]);
    assert.deepEqual(await names("tier in (db, web),env"), ["sel-a", "sel-b"]);
    assert.deepEqual(await names("tier notin (web)"), ["sel-b"]);
    assert.deepEqual(await names("!env"), ["sel-c"]);
    assert.deepEqual(await names(undefined, "metadata.name=sel-b"), ["sel-b"]);
    assert.deepEqual(await names("tier=web", "metadata.name!=sel-a"), ["sel-c"]);
    const all = await env.core.listPodForAllNamespaces({ labelSelector: "tier=web" });
    assert.deepEqual(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`), ["team-a/sel-a", "team-a/sel-c"]);
    assert.match(all.metadata?.resourceVersion ?? "", /^\d+$/);
    const { code, body } = await apiError(() => env.core.listNamespacedPod({ namespace: "team-a", fieldSelector: "spec.containers=x" }));
    assert.equal(code, 400);
    assert.equal(body.reason, "BadRequest");
    assert.equal(body.message, "field label not supported: spec.containers");
    for (const n of ["sel-a", "sel-b", "sel-c"]) await waitForPod(env.core, n, terminal, "team-a");
    const done = await env.core.listNamespacedPod({ namespace: "team-a", fieldSelector: "status.phase=Succeeded" });
    assert.deepEqual(done.items.map((p) => p.metadata?.name), ["sel-a", "sel-b", "sel-c"]);
  });

  it("pages with limit/continue, every page at the first page's resourceVersion", async () => {
    for (const n of ["page-1", "page-2", "page-3"])
      await env.core.createNamespacedPod({ namespace: "team-a", body: { ...podSpec(n, ["true"]), metadata: { name: n, labels: { paged: "yes" } } } });
    const p1 = await env.core.listNamespacedPod({ namespace: "team-a", labelSelector: "paged=yes", limit: 2 });
    assert.deepEqual(p1.items.map((p) => p.metadata?.name), ["page-1", "page-2"]);
    assert.ok(p1.metadata?._continue);
    await env.core.createNamespacedPod({ namespace: "team-a", body: { ...podSpec("page-4", ["true"]), metadata: { name: "page-4", labels: { paged: "yes" } } } });
    const p2 = await env.core.listNamespacedPod({ namespace: "team-a", labelSelector: "paged=yes", limit: 2, _continue: p1.metadata?._continue });
    // page-4 was created after the first page, so the consistent snapshot doesn't include it.
    assert.deepEqual(p2.items.map((p) => p.metadata?.name), ["page-3"]);
    assert.equal(p2.metadata?.resourceVersion, p1.metadata?.resourceVersion);
    assert.ok(!p2.metadata?._continue);
  });

  it("deletes a finished pod at once with 200 and the Pod, and 409s on a precondition mismatch", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("del-1", ["true"]) });
    const done = await waitForPod(env.core, "del-1", terminal);
    const conflict = await apiError(() =>
      env.core.deleteNamespacedPod({ name: "del-1", namespace: "default", body: { preconditions: { uid: "not-the-uid" } } }),
    );
    assert.equal(conflict.code, 409);
    assert.equal(conflict.body.reason, "Conflict");
    assert.match(conflict.body.message, /^Operation cannot be fulfilled on pods "del-1": Precondition failed: UID in precondition: not-the-uid/);
    const deleted = await env.core.deleteNamespacedPod({ name: "del-1", namespace: "default", body: { preconditions: { uid: done.metadata?.uid } } });
    assert.equal(deleted.kind, "Pod");
    assert.equal(deleted.metadata?.name, "del-1");
    await waitForGone(env.core, "del-1");
    const again = await apiError(() => env.core.deleteNamespacedPod({ name: "del-1", namespace: "default" }));
    assert.equal(again.code, 404);
  });

  it("merge-patches labels and rejects unsupported patch types with 415", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("patch-1", ["true"]) });
    const patched = await env.core.patchNamespacedPod(
      { name: "patch-1", namespace: "default", body: { metadata: { labels: { extra: "yes", app: null } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    assert.deepEqual(patched.metadata?.labels, { extra: "yes" });
    const jp = await env.core.patchNamespacedPod({ name: "patch-1", namespace: "default", body: [{ op: "add", path: "/metadata/annotations", value: { a: "b" } }] });
    assert.deepEqual(jp.metadata?.annotations, { a: "b" });
    const r = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/patch-1`, { method: "PATCH", headers: { "Content-Type": "text/plain" }, body: "{}" });
    assert.equal(r.status, 415);
    assert.equal((await r.json()).reason, "UnsupportedMediaType");
  });
});

describe("watch", () => {
  it("turns selector transitions into ADDED and DELETED", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: podSpec("flip", ["true"]) });
    await waitForPod(env.core, "flip", terminal);
    const list = await env.core.listNamespacedPod({ namespace: "default", labelSelector: "flip=on" });
    const evs: { type: string; obj: any }[] = [];
    let ctl: AbortController | undefined;
    const gotBoth = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(evs.map((e) => e.type))}`)), 30_000);
      void new Watch(env.kc)
        .watch("/api/v1/namespaces/default/pods", { resourceVersion: list.metadata?.resourceVersion, labelSelector: "flip=on" }, (type, obj) => {
          evs.push({ type, obj });
          if (evs.length === 2) {
            clearTimeout(t);
            resolve();
          }
        }, () => {})
        .then((c) => (ctl = c));
    });
    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
    await env.core.patchNamespacedPod({ name: "flip", namespace: "default", body: { metadata: { labels: { flip: "on" } } } }, merge);
    await env.core.patchNamespacedPod({ name: "flip", namespace: "default", body: { metadata: { labels: { flip: "off" } } } }, merge);
    await gotBoth;
    ctl?.abort();
    assert.deepEqual(evs.map((e) => e.type), ["ADDED", "DELETED"]);
    assert.equal(evs[0].obj.metadata.labels.flip, "on");
  });

  it("sends initial events, a closing bookmark, and ends at timeoutSeconds", async () => {
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

describe("namespaces", () => {
  it("creates, gets, lists and deletes namespaces", async () => {
    const created = await env.core.createNamespace({ body: { metadata: { name: "ns-x" } } });
    assert.equal(created.status?.phase, "Active");
    assert.equal((await env.core.readNamespace({ name: "ns-x" })).metadata?.uid, created.metadata?.uid);
    const names = (await env.core.listNamespace()).items.map((n) => n.metadata?.name);
    assert.deepEqual(names, ["default", "ns-x", "team-a"]);
    const dup = await apiError(() => env.core.createNamespace({ body: { metadata: { name: "ns-x" } } }));
    assert.equal(dup.code, 409);
    await env.core.deleteNamespace({ name: "ns-x" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await fetch(`${env.lk.url}/api/v1/namespaces/ns-x`);
      if (r.status === 404) break;
      assert.ok(Date.now() < deadline, "namespace was not removed");
      await new Promise((res) => setTimeout(res, 50));
    }
    const forbidden = await apiError(() => env.core.deleteNamespace({ name: "default" }));
    assert.equal(forbidden.code, 403);
  });
});

describe("raw HTTP behaviour", () => {
  it("serves discovery for kubectl", async () => {
    const v = await (await fetch(`${env.lk.url}/version`)).json();
    assert.equal(v.major, "1");
    assert.match(v.gitVersion, /^v1\.\d+\.\d+/);
    assert.deepEqual((await (await fetch(`${env.lk.url}/api`)).json()).versions, ["v1"]);
    const res = await (await fetch(`${env.lk.url}/api/v1`)).json();
    const byName = Object.fromEntries(res.resources.map((r: any) => [r.name, r]));
    assert.equal(byName.pods.kind, "Pod");
    assert.equal(byName.pods.namespaced, true);
    assert.ok(byName.pods.verbs.includes("watch"));
    assert.deepEqual(byName["pods/log"].verbs, ["get"]);
    assert.equal(byName.namespaces.namespaced, false);
    assert.deepEqual((await (await fetch(`${env.lk.url}/apis`)).json()).groups, []);
  });

  it("answers unknown paths with 404, wrong methods with 405, bad JSON with 400", async () => {
    const nf = await fetch(`${env.lk.url}/api/v1/nothing`);
    assert.equal(nf.status, 404);
    assert.equal((await nf.json()).reason, "NotFound");
    const na = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/x/log`, { method: "DELETE" });
    assert.equal(na.status, 405);
    assert.equal((await na.json()).reason, "MethodNotAllowed");
    const bad = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{nope" });
    assert.equal(bad.status, 400);
    const body = await bad.json();
    assert.equal(body.kind, "Status");
    assert.equal(body.reason, "BadRequest");
    assert.equal(body.code, 400);
  });

  it("serves a Table when kubectl asks for one", async () => {
    const r = await fetch(`${env.lk.url}/api/v1/namespaces/team-a/pods`, { headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" } });
    const t = await r.json();
    assert.equal(t.kind, "Table");
    assert.deepEqual(t.columnDefinitions.slice(0, 5).map((c: any) => c.name), ["Name", "Ready", "Status", "Restarts", "Age"]);
  });
});
