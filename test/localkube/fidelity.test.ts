// Fidelity details a real cluster has and localkube now copies: resource quantities (decoding,
// canonical form, defaulting, validation), memory limits -> OOMKilled, Events, fieldValidation,
// strategic merge patch, the OpenAPI v3 document, and pods created already bound to a node.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch, type V1Pod } from "@kubernetes/client-node";
import { type LocalKube } from "../../localkube/index.ts";
import { setup, sleep, terminal, terminated, type Env } from "./helpers.ts";

let env: Env;
let lk: LocalKube;
let kc: KubeConfig;
let core: CoreV1Api;
before(async () => {
  env = await setup({ workerCommand: [process.execPath, "-e", "0"], eventRetentionSeconds: 0.3 });
  ({ lk, kc, core } = env);
});
after(async () => {
  await env.close();
});
type Resources = { limits?: Record<string, unknown>; requests?: Record<string, unknown> };

function pod(name: string, command: string[], resources?: Resources, extra: Record<string, unknown> = {}): V1Pod {
  return {
    metadata: { name },
    spec: { restartPolicy: "Never", terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: "alpine:3.20", command, resources: resources as any }], ...extra },
  };
}

async function waitFor(name: string, pred: (p: V1Pod) => boolean): Promise<V1Pod> {
  const deadline = Date.now() + 20_000;
  let last: V1Pod | undefined;
  while (Date.now() < deadline) {
    last = await core.readNamespacedPod({ name, namespace: "default" });
    if (pred(last)) return last;
    await sleep(50);
  }
  throw new Error(`timed out on pod ${name}; last status ${JSON.stringify(last?.status)}`);
}

async function apiError(fn: () => Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiException) return { code: e.code, body: JSON.parse(e.body) };
    throw e;
  }
  throw new Error("expected the call to fail");
}

const create = (body: V1Pod) => core.createNamespacedPod({ namespace: "default", body });
const post = (body: unknown, query = "") =>
  fetch(`${lk.url}/api/v1/namespaces/default/pods${query}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

describe("resource quantities", () => {
  it("accepts Kubernetes quantities, stores them in canonical form, and defaults requests to limits", async () => {
    const p = await create(pod("q-ok", ["true"], { limits: { cpu: "1.5", memory: "64Mi", "ephemeral-storage": "1e3" }, requests: { cpu: "100m" } }));
    const c = p.spec!.containers[0].resources!;
    assert.deepEqual(c.limits, { cpu: "1500m", memory: "64Mi", "ephemeral-storage": "1e3" });
    assert.deepEqual(c.requests, { cpu: "100m", memory: "64Mi", "ephemeral-storage": "1e3" });
    assert.equal(p.status?.qosClass, "Burstable");
    const g = await create(pod("q-guaranteed", ["true"], { limits: { cpu: "0.25", memory: "1Gi" } }));
    assert.deepEqual(g.spec!.containers[0].resources!.requests, { cpu: "250m", memory: "1Gi" });
    assert.equal(g.status?.qosClass, "Guaranteed");
  });

  it("a quantity that doesn't parse fails decoding: 400 BadRequest, as a real API server answers", async () => {
    const { code, body } = await apiError(() => create(pod("q-abc", ["true"], { limits: { memory: "abc" } })));
    assert.equal(code, 400);
    assert.equal(body.reason, "BadRequest");
    assert.equal(body.message, `Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  });

  it("negative values, requests above limits and unknown resource names are 422 Invalid with field causes", async () => {
    const neg = await apiError(() => create(pod("q-neg", ["true"], { limits: { memory: "-1" } })));
    assert.equal(neg.code, 422);
    assert.equal(neg.body.reason, "Invalid");
    // Requests default to limits before validation, so the request is reported too, as on a real server.
    assert.deepEqual(neg.body.details.causes, [
      { reason: "FieldValueInvalid", message: 'Invalid value: "-1": must be greater than or equal to 0', field: "spec.containers[0].resources.limits[memory]" },
      { reason: "FieldValueInvalid", message: 'Invalid value: "-1": must be greater than or equal to 0', field: "spec.containers[0].resources.requests[memory]" },
    ]);
    const over = await apiError(() => create(pod("q-over", ["true"], { limits: { cpu: "1" }, requests: { cpu: "2" } })));
    assert.equal(over.code, 422);
    assert.deepEqual(over.body.details.causes, [
      { reason: "FieldValueInvalid", message: 'Invalid value: "2": must be less than or equal to cpu limit of 1', field: "spec.containers[0].resources.requests" },
    ]);
    assert.equal(over.body.message, 'Pod "q-over" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1');
    const name = await apiError(() => create(pod("q-gpu", ["true"], { limits: { gpu: "1" } })));
    assert.equal(name.code, 422);
    assert.equal(name.body.details.causes[0].field, "spec.containers[0].resources.limits[gpu]");
  });
});

describe("memory limits", () => {
  const measurable = (() => {
    try {
      return /VmRSS/.test(readFileSync("/proc/self/status", "utf8"));
    } catch {
      return false;
    }
  })();

  it("a container over its memory limit is OOMKilled (exit 137) and the pod Failed", async (t) => {
    if (!measurable) return t.skip("this host has no /proc to measure process memory");
    // Grows by 16 MiB of touched memory every 20 ms; exits 0 at 1 GiB, which would fail the test.
    const js = "const a=[];setInterval(()=>{a.push(Buffer.alloc(16<<20,1));if(a.length>64)process.exit(0)},20)";
    await create(pod("oom", [process.execPath, "-e", js], { limits: { memory: "128Mi" } }));
    const p = await waitFor("oom", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(terminated(p)?.reason, "OOMKilled");
    assert.equal(terminated(p)?.exitCode, 137);
  });

  it("a container within its limit runs normally", async (t) => {
    if (!measurable) return t.skip("this host has no /proc to measure process memory");
    await create(pod("within", ["sh", "-c", "echo ok"], { limits: { memory: "256Mi" } }));
    assert.equal((await waitFor("within", terminal)).status?.phase, "Succeeded");
  });
});

describe("events", () => {
  it("tell a pod's story, found by involvedObject field selectors; Killing on delete; watchable", async () => {
    const list = await core.listNamespacedEvent({ namespace: "default" });
    const seen: any[] = [];
    let ctl: AbortController | undefined;
    const killing = new Promise<void>((resolve, reject) => {
      void new Watch(kc)
        .watch(
          "/api/v1/namespaces/default/events",
          { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "involvedObject.name=story" },
          (type, obj) => {
            seen.push([type, obj.reason]);
            if (obj.reason === "Killing") resolve();
          },
          (err) => reject(err ?? new Error("watch ended")),
        )
        .then((c) => (ctl = c));
    });
    const created = await create(pod("story", ["sleep", "30"]));
    await waitFor("story", (p) => p.status?.phase === "Running");
    const byUid = await core.listNamespacedEvent({
      namespace: "default",
      fieldSelector: `involvedObject.kind=Pod,involvedObject.name=story,involvedObject.uid=${created.metadata!.uid}`,
    });
    assert.deepEqual(byUid.items.map((e) => e.reason), ["Scheduled", "Pulled", "Created", "Started"]);
    const [scheduled, pulled] = byUid.items;
    assert.equal(scheduled.message, "Successfully assigned default/story to localkube");
    assert.equal(scheduled.source?.component, "default-scheduler");
    assert.equal(pulled.source?.component, "kubelet");
    assert.equal(pulled.involvedObject.fieldPath, "spec.containers{main}");
    assert.equal(pulled.message, 'Container image "alpine:3.20" already present on machine');
    assert.equal(pulled.type, "Normal");
    assert.equal(pulled.count, 1);
    await core.deleteNamespacedPod({ name: "story", namespace: "default" });
    await killing;
    ctl?.abort();
    assert.deepEqual(seen.map((s) => s[1]), ["Scheduled", "Pulled", "Created", "Started", "Killing"]);
    assert.ok(seen.every((s) => s[0] === "ADDED"));
    const bad = await apiError(() => core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.colour=red" }));
    assert.equal(bad.code, 400);
  });

  it("events of a deleted pod are dropped after the retention time", async () => {
    await create(pod("short-lived", ["true"]));
    await waitFor("short-lived", terminal);
    const count = async () => (await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=short-lived" })).items.length;
    assert.ok((await count()) >= 4);
    await core.deleteNamespacedPod({ name: "short-lived", namespace: "default" });
    const deadline = Date.now() + 15_000;
    while ((await count()) > 0 && Date.now() < deadline) await sleep(100);
    assert.equal(await count(), 0);
  });

  it("a start error is a Warning Failed event", async () => {
    await create(pod("no-binary", ["/no/such/binary"]));
    await waitFor("no-binary", terminal);
    const evs = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=no-binary,reason=Failed" });
    assert.equal(evs.items[0]?.type, "Warning");
    assert.match(evs.items[0]?.message ?? "", /^Error: failed to create containerd task: exec: "\/no\/such\/binary"/);
  });
});

describe("decoding and patching", () => {
  it("fieldValidation=Strict rejects unknown fields with 400; the default (Warn) drops them with a Warning header", async () => {
    const body = { ...pod("strict", ["true"]), colour: "red" } as any;
    body.spec.containers[0].flavour = "x";
    const strict = await post(body, "?fieldValidation=Strict");
    assert.equal(strict.status, 400);
    const s = await strict.json();
    assert.equal(s.reason, "BadRequest");
    assert.equal(s.message, 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].flavour", unknown field "colour"');
    const warn = await post(body);
    assert.equal(warn.status, 201);
    assert.match(warn.headers.get("warning") ?? "", /299 - "unknown field \\"colour\\""/);
    const stored = await warn.json();
    assert.equal(stored.colour, undefined);
    assert.equal(stored.spec.containers[0].flavour, undefined);
    const bad = await post(pod("strict-2", ["true"]), "?fieldValidation=Loud");
    assert.equal(bad.status, 422);
  });

  it("strategic merge patch merges containers by name instead of replacing the list", async () => {
    await create(pod("smp", ["sleep", "30"], { limits: { cpu: "0.5" } }));
    const patched = await core.patchNamespacedPod(
      {
        name: "smp",
        namespace: "default",
        body: { metadata: { labels: { patched: "yes" } }, spec: { containers: [{ name: "main", resources: { limits: { cpu: "0.5" } } }] } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    assert.equal(patched.metadata?.labels?.patched, "yes");
    assert.equal(patched.spec?.containers[0].image, "alpine:3.20");
    await core.deleteNamespacedPod({ name: "smp", namespace: "default", gracePeriodSeconds: 0 });
  });

  it("serves an OpenAPI v3 index and core/v1 document whose Pod PATCH lists fieldValidation", async () => {
    const index = await (await fetch(`${lk.url}/openapi/v3`)).json();
    const url = index.paths["api/v1"].serverRelativeURL;
    assert.match(url, /^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]+$/);
    const doc = await (await fetch(`${lk.url}${url}`)).json();
    const patch = doc.paths["/api/v1/namespaces/{namespace}/pods/{name}"].patch;
    assert.deepEqual(patch["x-kubernetes-group-version-kind"], { group: "", version: "v1", kind: "Pod" });
    assert.ok(patch.parameters.some((p: any) => p.name === "fieldValidation" && p.in === "query"));
    assert.ok(doc.components.schemas["io.k8s.api.core.v1.Pod"].properties.spec);
  });
});

describe("binding", () => {
  it("a pod created with spec.nodeName=localkube skips the scheduler and runs; another node name stays Pending", async () => {
    await create(pod("prebound", ["true"], undefined, { nodeName: "localkube" }));
    assert.equal((await waitFor("prebound", terminal)).status?.phase, "Succeeded");
    const evs = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=prebound" });
    assert.ok(!evs.items.some((e) => e.reason === "Scheduled"));
    await create(pod("elsewhere", ["true"], undefined, { nodeName: "node-7" }));
    await sleep(300);
    const p = await core.readNamespacedPod({ name: "elsewhere", namespace: "default" });
    assert.equal(p.status?.phase, "Pending");
    assert.equal(p.status?.containerStatuses, undefined);
    await core.deleteNamespacedPod({ name: "elsewhere", namespace: "default", gracePeriodSeconds: 0 });
  });
});
