// Conformance: the API surface — Status bodies, create defaults, validation, selectors, paging,
// delete options, patch, namespaces, discovery and the raw HTTP edges. Runs against localkube, or a
// cluster with FERRY_CONFORMANCE_KUBECONFIG (see README.md).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { apiError, openTarget, pod, randomId, raw, terminal, WAIT, waitForGone, waitForPod, type Target } from "./target.ts";

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t?.close();
});

const create = (body: V1Pod) => t.core.createNamespacedPod({ namespace: t.ns, body });
const labelled = (name: string, labels: Record<string, string>, command = ["true"]): V1Pod => {
  const p = pod(name, command);
  p.metadata = { name, labels };
  return p;
};
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

describe("Status bodies", () => {
  it("404 NotFound names the plural resource", async () => {
    const { code, body } = await apiError(() => t.core.readNamespacedPod({ name: "nope", namespace: t.ns }));
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

  it("409 AlreadyExists for a duplicate name", async () => {
    await create(pod("dup", ["true"]));
    const { code, body } = await apiError(() => create(pod("dup", ["true"])));
    assert.equal(code, 409);
    assert.equal(body.kind, "Status");
    assert.equal(body.status, "Failure");
    assert.equal(body.reason, "AlreadyExists");
    assert.equal(body.message, 'pods "dup" already exists');
    assert.deepEqual(body.details, { name: "dup", kind: "pods" });
    assert.equal(body.code, 409);
  });

  it("422 Invalid names the Kind and lists causes with field paths", async () => {
    const bad = pod("Bad_Name", ["true"]);
    delete (bad.spec!.containers[0] as { image?: string }).image;
    const { code, body } = await apiError(() => create(bad));
    assert.equal(code, 422);
    assert.equal(body.reason, "Invalid");
    assert.equal(body.code, 422);
    assert.equal(body.details.kind, "Pod");
    assert.equal(body.details.name, "Bad_Name");
    assert.match(body.message, /^Pod "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
    assert.deepEqual(
      body.details.causes.map((c: any) => [c.reason, c.field]),
      [
        ["FieldValueInvalid", "metadata.name"],
        ["FieldValueRequired", "spec.containers[0].image"],
      ],
    );
    assert.match(body.details.causes[0].message, /^Invalid value: "Bad_Name": /);
    assert.equal(body.details.causes[1].message, "Required value");
  });

  it("422 for a bad label key, reported on metadata.labels", async () => {
    const { code, body } = await apiError(() => create(labelled("bad-label", { "bad key!": "v" })));
    assert.equal(code, 422);
    assert.equal(body.reason, "Invalid");
    assert.equal(body.details.causes.length, 1);
    assert.equal(body.details.causes[0].reason, "FieldValueInvalid");
    assert.equal(body.details.causes[0].field, "metadata.labels");
    assert.match(body.details.causes[0].message, /^Invalid value: "bad key!": /);
    assert.match(body.message, /^Pod "bad-label" is invalid: metadata\.labels: Invalid value: "bad key!": /);
  });

  it("400 BadRequest for an unsupported field selector and for a malformed label selector", async () => {
    const f = await apiError(() => t.core.listNamespacedPod({ namespace: t.ns, fieldSelector: "spec.containers=x" }));
    assert.equal(f.code, 400);
    assert.equal(f.body.kind, "Status");
    assert.equal(f.body.reason, "BadRequest");
    assert.equal(f.body.message, "field label not supported: spec.containers");
    const l = await apiError(() => t.core.listNamespacedPod({ namespace: t.ns, labelSelector: "tier in (web" }));
    assert.equal(l.code, 400);
    assert.equal(l.body.reason, "BadRequest");
  });

  it("422 for resourceVersionMatch without resourceVersion", async () => {
    const { code, body } = await apiError(() => t.core.listNamespacedPod({ namespace: t.ns, resourceVersionMatch: "NotOlderThan" }));
    assert.equal(code, 422);
    assert.equal(body.reason, "Invalid");
  });

  it("404 for an unknown resource, 405 for a method a resource lacks, 400 for a body that isn't JSON", async () => {
    const nf = await raw(t, "GET", "/api/v1/nothing");
    assert.equal(nf.status, 404);
    assert.equal(nf.json().kind, "Status");
    assert.equal(nf.json().reason, "NotFound");
    const na = await raw(t, "DELETE", `/api/v1/namespaces/${t.ns}/pods/x/log`);
    assert.equal(na.status, 405);
    assert.equal(na.json().kind, "Status");
    assert.equal(na.json().reason, "MethodNotAllowed");
    assert.equal(na.json().code, 405);
    const bad = await raw(t, "POST", `/api/v1/namespaces/${t.ns}/pods`, { headers: { "Content-Type": "application/json" }, body: "{nope" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().kind, "Status");
    assert.equal(bad.json().reason, "BadRequest");
    assert.equal(bad.json().code, 400);
  });
});

describe("pods: create, get, list", () => {
  it("create sets uid, creationTimestamp, resourceVersion, generation, Pending + qosClass, and discards the client's status", async () => {
    const body = pod("create-1", ["true"]);
    (body as any).status = { phase: "Running" };
    const created = await create(body);
    assert.equal(created.kind, "Pod");
    assert.equal(created.metadata?.name, "create-1");
    assert.equal(created.metadata?.namespace, t.ns);
    assert.match(created.metadata?.uid ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const ts = created.metadata?.creationTimestamp;
    assert.ok(ts instanceof Date && !Number.isNaN(ts.getTime()));
    assert.equal(ts.getUTCMilliseconds(), 0, "timestamps have second precision");
    assert.ok(Math.abs(ts.getTime() - Date.now()) < 10 * 60_000, "creationTimestamp is about now");
    assert.match(created.metadata?.resourceVersion ?? "", /^\d+$/);
    // Kubernetes >= 1.33 sets generation 1 on Pods; older servers leave it unset.
    assert.ok([1, undefined].includes(created.metadata?.generation), `generation ${created.metadata?.generation}`);
    assert.equal(created.status?.phase, "Pending");
    assert.equal(created.status?.qosClass, "BestEffort");
    const got = await t.core.readNamespacedPod({ name: "create-1", namespace: t.ns });
    assert.equal(got.metadata?.uid, created.metadata?.uid);
    assert.equal(got.metadata?.creationTimestamp?.getTime(), ts.getTime());
  });

  it("qosClass is Guaranteed when requests equal limits and Burstable with requests alone", async () => {
    const g = pod("qos-g", ["true"], {}, { resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "10m", memory: "16Mi" } } });
    const b = pod("qos-b", ["true"], {}, { resources: { requests: { cpu: "10m" } } });
    // Quantities compare by value, not spelling: 0.01 cpu is 10m, 16Mi is 16777216.
    const q = pod("qos-q", ["true"], {}, { resources: { requests: { cpu: "0.01", memory: "16777216" }, limits: { cpu: "10m", memory: "16Mi" } } });
    assert.equal((await create(g)).status?.qosClass, "Guaranteed");
    assert.equal((await create(b)).status?.qosClass, "Burstable");
    assert.equal((await create(q)).status?.qosClass, "Guaranteed");
  });

  it("generateName appends 5 characters from the name alphabet", async () => {
    const body = pod("", ["true"]);
    body.metadata = { generateName: "gen-" };
    const a = await create(body);
    const b = await create(body);
    assert.match(a.metadata?.name ?? "", /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.notEqual(a.metadata?.name, b.metadata?.name);
    assert.equal(a.metadata?.generateName, "gen-");
  });

  it("404 namespaces NotFound for a pod in a missing namespace", async () => {
    const ghost = `ferry-conformance-ghost-${randomId()}`;
    const { code, body } = await apiError(() => t.core.createNamespacedPod({ namespace: ghost, body: pod("x", ["true"]) }));
    assert.equal(code, 404);
    assert.equal(body.reason, "NotFound");
    assert.equal(body.message, `namespaces "${ghost}" not found`);
    assert.deepEqual(body.details, { name: ghost, kind: "namespaces" });
  });

  it("label selectors: =, ==, !=, in, notin, exists, !key; field selectors metadata.name and status.phase", async () => {
    const run = t.runId;
    await create(labelled("sel-a", { sel: run, tier: "web", env: "prod" }));
    await create(labelled("sel-b", { sel: run, tier: "db", env: "prod" }));
    await create(labelled("sel-c", { sel: run, tier: "web" }));
    await create(labelled("sel-d", { sel: run, tier: "cache" }, ["sh", "-c", "exit 1"]));
    const names = async (labelSelector: string, fieldSelector?: string) =>
      (await t.core.listNamespacedPod({ namespace: t.ns, labelSelector: `sel=${run},${labelSelector}`, fieldSelector })).items.map((p) => p.metadata?.name);
    assert.deepEqual(await names("tier=web"), ["sel-a", "sel-c"]);
    assert.deepEqual(await names("tier==web,env=prod"), ["sel-a"]);
    assert.deepEqual(await names("tier!=web"), ["sel-b", "sel-d"]);
    assert.deepEqual(await names("tier in (db, web),env"), ["sel-a", "sel-b"]);
    assert.deepEqual(await names("tier notin (web,cache)"), ["sel-b"]);
    assert.deepEqual(await names("env"), ["sel-a", "sel-b"]);
    assert.deepEqual(await names("!env"), ["sel-c", "sel-d"]);
    assert.deepEqual(await names("tier", "metadata.name=sel-b"), ["sel-b"]);
    assert.deepEqual(await names("tier=web", "metadata.name!=sel-a"), ["sel-c"]);
    // Across namespaces: the run id keeps every other workload on a shared cluster out.
    const all = await t.core.listPodForAllNamespaces({ labelSelector: `sel=${run},tier=web` });
    assert.deepEqual(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`), [`${t.ns}/sel-a`, `${t.ns}/sel-c`]);
    assert.match(all.metadata?.resourceVersion ?? "", /^\d+$/);
    for (const n of ["sel-a", "sel-b", "sel-c", "sel-d"]) await waitForPod(t, n, terminal);
    assert.deepEqual(await names("tier", "status.phase=Succeeded"), ["sel-a", "sel-b", "sel-c"]);
    assert.deepEqual(await names("tier", "status.phase=Failed"), ["sel-d"]);
    assert.deepEqual(await names("tier", "status.phase!=Succeeded,metadata.name!=sel-a"), ["sel-d"]);
  });

  it("pages with limit/continue; every page is served at the first page's resourceVersion", async () => {
    for (const n of ["page-1", "page-2", "page-3"]) await create(labelled(n, { paged: t.runId }));
    const sel = `paged=${t.runId}`;
    const p1 = await t.core.listNamespacedPod({ namespace: t.ns, labelSelector: sel, limit: 2 });
    assert.ok(p1.items.length <= 2);
    assert.ok(p1.metadata?._continue, "a first page of an unfinished list carries a continue token");
    // Created after the first page: a consistent snapshot must not show it on later pages.
    await create(labelled("page-4", { paged: t.runId }));
    const seen = p1.items.map((p) => p.metadata?.name);
    let token: string | undefined = p1.metadata?._continue;
    for (let i = 0; token && i < 10; i++) {
      const page = await t.core.listNamespacedPod({ namespace: t.ns, labelSelector: sel, limit: 2, _continue: token });
      assert.ok(page.items.length <= 2);
      assert.equal(page.metadata?.resourceVersion, p1.metadata?.resourceVersion);
      seen.push(...page.items.map((p) => p.metadata?.name));
      token = page.metadata?._continue || undefined;
    }
    assert.ok(!token, "paging ends with an empty continue");
    assert.deepEqual(seen, ["page-1", "page-2", "page-3"]);
    const now = await t.core.listNamespacedPod({ namespace: t.ns, labelSelector: sel });
    assert.deepEqual(now.items.map((p) => p.metadata?.name), ["page-1", "page-2", "page-3", "page-4"]);
  });
});

describe("pods: delete and patch", () => {
  it("delete: 409 Conflict on uid/resourceVersion precondition mismatch; a finished pod goes at once with 200 + the Pod; then 404", async () => {
    await create(pod("del-1", ["true"]));
    const done = await waitForPod(t, "del-1", terminal);
    const uid = await apiError(() => t.core.deleteNamespacedPod({ name: "del-1", namespace: t.ns, body: { preconditions: { uid: "not-the-uid" } } }));
    assert.equal(uid.code, 409);
    assert.equal(uid.body.reason, "Conflict");
    assert.deepEqual(uid.body.details, { name: "del-1", kind: "pods" });
    assert.match(uid.body.message, /^Operation cannot be fulfilled on pods "del-1": Precondition failed: UID in precondition: not-the-uid, UID in object meta: /);
    const rv = await apiError(() => t.core.deleteNamespacedPod({ name: "del-1", namespace: t.ns, body: { preconditions: { resourceVersion: "1" } } }));
    assert.equal(rv.code, 409);
    assert.equal(rv.body.reason, "Conflict");
    assert.match(rv.body.message, /^Operation cannot be fulfilled on pods "del-1": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: \d+/);
    const deleted = await t.core.deleteNamespacedPod({
      name: "del-1",
      namespace: t.ns,
      body: { preconditions: { uid: done.metadata?.uid, resourceVersion: done.metadata?.resourceVersion } },
    });
    assert.equal(deleted.kind, "Pod");
    assert.equal(deleted.metadata?.name, "del-1");
    assert.equal(deleted.metadata?.uid, done.metadata?.uid);
    await waitForGone(t, "del-1");
    const again = await apiError(() => t.core.deleteNamespacedPod({ name: "del-1", namespace: t.ns }));
    assert.equal(again.code, 404);
    assert.equal(again.body.message, 'pods "del-1" not found');
  });

  it("delete: 422 for an unknown propagationPolicy", async () => {
    await create(pod("del-2", ["true"]));
    const { code, body } = await apiError(() => t.core.deleteNamespacedPod({ name: "del-2", namespace: t.ns, propagationPolicy: "Sideways" }));
    assert.equal(code, 422);
    assert.equal(body.reason, "Invalid");
  });

  it("patch: merge and strategic merge change labels (null removes), JSON patch adds annotations, others get 415", async () => {
    const created = await create(pod("patch-1", ["true"]));
    const patched = await t.core.patchNamespacedPod(
      { name: "patch-1", namespace: t.ns, body: { metadata: { labels: { extra: "yes", app: null } } } },
      merge,
    );
    assert.deepEqual(patched.metadata?.labels, { extra: "yes" });
    assert.notEqual(patched.metadata?.resourceVersion, created.metadata?.resourceVersion);
    const smp = await t.core.patchNamespacedPod(
      { name: "patch-1", namespace: t.ns, body: { metadata: { labels: { more: "too" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(smp.metadata?.labels, { extra: "yes", more: "too" });
    const jp = await t.core.patchNamespacedPod({ name: "patch-1", namespace: t.ns, body: [{ op: "add", path: "/metadata/annotations", value: { a: "b" } }] });
    assert.equal(jp.metadata?.annotations?.a, "b");
    const r = await raw(t, "PATCH", `/api/v1/namespaces/${t.ns}/pods/patch-1`, { headers: { "Content-Type": "text/plain" }, body: "{}" });
    assert.equal(r.status, 415);
    assert.equal(r.json().kind, "Status");
    assert.equal(r.json().reason, "UnsupportedMediaType");
  });
});

describe("namespaces", () => {
  it("create, get, list, 409 on duplicate, delete until 404", async () => {
    const name = `ferry-conformance-x-${randomId()}`;
    const created = await t.core.createNamespace({ body: { metadata: { name } } });
    assert.equal(created.status?.phase, "Active");
    assert.match(created.metadata?.uid ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(created.metadata?.labels?.["kubernetes.io/metadata.name"], name);
    assert.equal((await t.core.readNamespace({ name })).metadata?.uid, created.metadata?.uid);
    const names = (await t.core.listNamespace()).items.map((n) => n.metadata?.name);
    assert.ok(names.includes(name) && names.includes("default") && names.includes(t.ns));
    const dup = await apiError(() => t.core.createNamespace({ body: { metadata: { name } } }));
    assert.equal(dup.code, 409);
    assert.equal(dup.body.reason, "AlreadyExists");
    assert.deepEqual(dup.body.details, { name, kind: "namespaces" });
    await t.core.createNamespacedPod({ namespace: name, body: pod("inside", ["sleep", "60"]) });
    await t.core.deleteNamespace({ name });
    const deadline = Date.now() + WAIT.gone;
    for (;;) {
      const r = await apiError(() => t.core.readNamespace({ name })).catch(() => undefined);
      if (r?.code === 404) {
        assert.equal(r.body.message, `namespaces "${name}" not found`);
        break;
      }
      assert.ok(Date.now() < deadline, "namespace was not removed");
      await new Promise((res) => setTimeout(res, WAIT.poll));
    }
  });
});

describe("discovery and tables (what kubectl needs)", () => {
  it("serves /version, /api and /api/v1", async () => {
    const v = (await raw(t, "GET", "/version")).json();
    assert.equal(v.major, "1");
    assert.match(v.gitVersion, /^v1\.\d+\.\d+/);
    const api = (await raw(t, "GET", "/api")).json();
    assert.equal(api.kind, "APIVersions");
    assert.deepEqual(api.versions, ["v1"]);
    const res = (await raw(t, "GET", "/api/v1")).json();
    assert.equal(res.kind, "APIResourceList");
    assert.equal(res.groupVersion, "v1");
    const byName = Object.fromEntries(res.resources.map((r: any) => [r.name, r]));
    assert.equal(byName.pods.kind, "Pod");
    assert.equal(byName.pods.namespaced, true);
    for (const verb of ["create", "delete", "get", "list", "patch", "watch"]) assert.ok(byName.pods.verbs.includes(verb), verb);
    assert.ok(byName.pods.shortNames.includes("po"));
    assert.deepEqual(byName["pods/log"].verbs, ["get"]);
    assert.equal(byName.namespaces.kind, "Namespace");
    assert.equal(byName.namespaces.namespaced, false);
    assert.ok(byName.events);
  });

  it("serves a Table of pods when asked for one", async () => {
    await create(pod("table-1", ["true"]));
    const r = await raw(t, "GET", `/api/v1/namespaces/${t.ns}/pods`, { headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" } });
    assert.equal(r.status, 200);
    const table = r.json();
    assert.equal(table.kind, "Table");
    assert.deepEqual(table.columnDefinitions.slice(0, 5).map((c: any) => c.name), ["Name", "Ready", "Status", "Restarts", "Age"]);
    const row = table.rows.find((x: any) => x.cells[0] === "table-1");
    assert.ok(row, "the pod has a row");
    assert.equal(row.cells.length, table.columnDefinitions.length);
  });
});
