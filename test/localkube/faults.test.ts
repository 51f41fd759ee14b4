// Fault injection: every fault of LocalKubeOptions.faults / LocalKube.faults, observed the way Ferry
// observes a cluster (client-node's CoreV1Api, Watch and Log); raw fetch only to check exact status
// codes, headers and bodies. Also node fidelity that looks like a fault: nodeSelector mismatch.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { ApiException, Log, type CoreV1Event, type V1Pod } from "@kubernetes/client-node";
import { faultsFromEnv } from "../../localkube/index.ts";
import { setup, sleep, terminal, terminated, waitForGone, watchEvents, type Env } from "./helpers.ts";

const pod = (name: string, command: string[], extra: Partial<NonNullable<V1Pod["spec"]>> = {}, image = "alpine:3.20"): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec: { restartPolicy: "Never", terminationGracePeriodSeconds: 1, containers: [{ name: "main", image, command }], ...extra },
});
const waiting = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.waiting;
const cond = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);

async function waitFor(env: Env, name: string, pred: (p: V1Pod) => boolean, what = "condition"): Promise<V1Pod> {
  const deadline = Date.now() + 20_000;
  let last: V1Pod | undefined;
  while (Date.now() < deadline) {
    last = await env.core.readNamespacedPod({ name, namespace: "default" }).catch((e) => (e instanceof ApiException && e.code === 404 ? undefined : Promise.reject(e)));
    if (last && pred(last)) return last;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what} on pod ${name}; last status: ${JSON.stringify(last?.status)}`);
}

async function apiError(fn: () => Promise<unknown>): Promise<ApiException<any>> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiException) return e;
    throw e;
  }
  throw new Error("expected the call to fail");
}

async function podEvents(env: Env, name: string): Promise<CoreV1Event[]> {
  const list = await env.core.listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${name}` });
  return list.items;
}

/** A pid the pod's command wrote to a file, so the test can check the process is gone. */
async function pidFrom(file: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const pid = Number(readFileSync(file, "utf8").trim());
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    await sleep(50);
  }
  throw new Error(`no pid in ${file}`);
}

async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await sleep(50);
  return !alive();
}

let env: Env;
before(async () => {
  env = await setup({ faultSeed: 42 });
});
after(async () => {
  env.lk.faults.set({});
  await env.close();
});

describe("request faults", () => {
  it("errorRate 1: every /api request is a 500 InternalError Status; /version is untouched; clearing restores", async () => {
    env.lk.faults.set({ errorRate: 1 });
    try {
      const e = await apiError(() => env.core.listNamespacedPod({ namespace: "default" }));
      assert.equal(e.code, 500);
      assert.equal(JSON.parse(e.body).reason, "InternalError");
      const res = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/x`, { method: "DELETE" });
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.equal(body.kind, "Status");
      assert.equal(body.status, "Failure");
      assert.equal(body.code, 500);
      assert.match(body.message, /^Internal error occurred: /);
      assert.equal((await fetch(`${env.lk.url}/version`)).status, 200);
    } finally {
      env.lk.faults.set({});
    }
    await env.core.listNamespacedPod({ namespace: "default" });
  });

  it("throttleRate 1: 429 TooManyRequests with Retry-After and details.retryAfterSeconds", async () => {
    env.lk.faults.set({ throttleRate: 1, retryAfterSeconds: 3 });
    try {
      const res = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "3");
      assert.deepEqual(await res.json(), {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Too many requests, please try again later.",
        reason: "TooManyRequests",
        details: { retryAfterSeconds: 3 },
        code: 429,
      });
      const e = await apiError(() => env.core.readNamespacedPod({ name: "x", namespace: "default" }));
      assert.equal(e.code, 429);
      assert.equal(e.headers["retry-after"], "3");
    } finally {
      env.lk.faults.set({});
    }
  });

  it("rates apply per request, reproducibly with faultSeed; faults can be set through the options", async () => {
    const codes = async (e: Env) => {
      const out: number[] = [];
      for (let i = 0; i < 30; i++) out.push((await fetch(`${e.lk.url}/api/v1/namespaces`)).status);
      return out;
    };
    const a = await setup({ faultSeed: 7, faults: { errorRate: 0.3, throttleRate: 0.3 } });
    const b = await setup({ faultSeed: 7, faults: { errorRate: 0.3, throttleRate: 0.3 } });
    try {
      const ca = await codes(a);
      assert.deepEqual(ca, await codes(b));
      for (const c of [200, 429, 500]) assert.ok(ca.includes(c), `expected some ${c} in ${ca}`);
      assert.deepEqual(a.lk.faults.get(), { errorRate: 0.3, throttleRate: 0.3 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("faults never hit localkube's own status writes: an open watch sees the pod finish while every request fails", async () => {
    const list = await env.core.listNamespacedPod({ namespace: "default" });
    const w = watchEvents(env.kc, "/api/v1/namespaces/default/pods", { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=internal" }, (evs) =>
      evs.some((e) => e.obj?.status?.phase === "Succeeded"),
    );
    await env.core.createNamespacedPod({ namespace: "default", body: pod("internal", ["sh", "-c", "sleep 0.3"]) });
    env.lk.faults.set({ errorRate: 1 });
    try {
      assert.equal((await w.ended).by, "until");
      assert.equal((await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/internal`)).status, 500);
    } finally {
      env.lk.faults.set({});
    }
    assert.deepEqual(
      w.evs.map((e) => e.obj.status.phase),
      ["Pending", "Pending", "Pending", "Running", "Succeeded"],
    );
  });
});

describe("watch faults", () => {
  before(async () => {
    for (const n of ["cut-a", "cut-b", "cut-c", "cut-d"]) await env.core.createNamespace({ body: { metadata: { name: n } } });
  });

  it("watchCutAfterEvents: the stream ends after N events, with no final event and no error", async () => {
    env.lk.faults.set({ watchCutAfterEvents: 3 });
    try {
      const w = watchEvents(env.kc, "/api/v1/namespaces", {});
      const end = await w.ended;
      assert.equal(end.by, "server");
      assert.equal(end.err ?? null, null);
      assert.deepEqual(w.evs.map((e) => e.type), ["ADDED", "ADDED", "ADDED"]);
    } finally {
      env.lk.faults.set({});
    }
  });

  it("watchCutAfterSeconds: the stream just ends", async () => {
    env.lk.faults.set({ watchCutAfterSeconds: 0.3 });
    try {
      const w = watchEvents(env.kc, "/api/v1/namespaces", { fieldSelector: "metadata.name=cut-a" });
      const end = await w.ended;
      assert.equal(end.by, "server");
      assert.deepEqual(w.evs.map((e) => e.type), ["ADDED"]);
    } finally {
      env.lk.faults.set({});
    }
  });

  it("expireOnResume: a watch from a resourceVersion gets 200, one ERROR 410 Expired, then the end; a fresh watch is unaffected", async () => {
    const list = await env.core.listNamespace();
    const rv = list.metadata!.resourceVersion!;
    env.lk.faults.set({ expireOnResume: true });
    try {
      const w = watchEvents(env.kc, "/api/v1/namespaces", { resourceVersion: rv });
      const end = await w.ended;
      assert.equal(end.by, "server");
      assert.equal(w.evs.length, 1);
      assert.equal(w.evs[0].type, "ERROR");
      assert.equal(w.evs[0].obj.code, 410);
      assert.equal(w.evs[0].obj.reason, "Expired");
      assert.match(w.evs[0].obj.message, new RegExp(`^too old resource version: ${rv} \\(\\d+\\)$`));

      const res = await fetch(`${env.lk.url}/api/v1/namespaces?watch=true&resourceVersion=${rv}`);
      assert.equal(res.status, 200);
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 1);
      assert.equal(lines[0].object.kind, "Status");

      const fresh = watchEvents(env.kc, "/api/v1/namespaces", { fieldSelector: "metadata.name=cut-b" }, (evs) => evs.length > 0);
      assert.equal((await fresh.ended).by, "until");
      assert.equal(fresh.evs[0].type, "ADDED");
    } finally {
      env.lk.faults.set({});
    }
  });
});

describe("pod faults", () => {
  it("podStartDelayMs: the pod waits in ContainerCreating (logs say so), can be deleted meanwhile, and starts after the delay", async () => {
    env.lk.faults.set({ podStartDelayMs: 60_000 });
    await env.core.createNamespacedPod({ namespace: "default", body: pod("slow-start", ["sh", "-c", "echo started"]) });
    const p = await waitFor(env, "slow-start", (x) => waiting(x)?.reason === "ContainerCreating");
    assert.equal(p.status?.phase, "Pending");
    assert.equal(p.spec?.nodeName, "localkube");
    const e = await apiError(() => env.core.readNamespacedPodLog({ name: "slow-start", namespace: "default" }));
    assert.equal(e.code, 400);
    assert.match(JSON.parse(e.body).message, /is waiting to start: ContainerCreating$/);
    await env.core.deleteNamespacedPod({ name: "slow-start", namespace: "default" });
    await waitForGone(env.core, "slow-start");

    env.lk.faults.set({ podStartDelayMs: 200 });
    try {
      await env.core.createNamespacedPod({ namespace: "default", body: pod("short-delay", ["sh", "-c", "echo started"]) });
      const done = await waitFor(env, "short-delay", terminal);
      assert.equal(done.status?.phase, "Succeeded");
    } finally {
      env.lk.faults.set({});
    }
  });

  it("imagePullFailures: ErrImagePull and ImagePullBackOff alternate, the pod never starts; once cleared it runs", async () => {
    env.lk.faults.set({ imagePullFailures: ["registry.example/*"] });
    const list = await env.core.listNamespacedPod({ namespace: "default" });
    const seen: string[] = [];
    const w = watchEvents(env.kc, "/api/v1/namespaces/default/pods", { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=bad-image" }, (evs) => {
      const r = evs[evs.length - 1].obj?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (r && r !== seen[seen.length - 1]) seen.push(r);
      return seen.length >= 4;
    });
    await env.core.createNamespacedPod({ namespace: "default", body: pod("bad-image", ["true"], {}, "registry.example/nope:1.0") });
    await w.ended;
    assert.deepEqual(seen, ["ContainerCreating", "ErrImagePull", "ImagePullBackOff", "ErrImagePull"]);
    const p = await env.core.readNamespacedPod({ name: "bad-image", namespace: "default" });
    assert.equal(p.status?.phase, "Pending");
    assert.ok(["ErrImagePull", "ImagePullBackOff"].includes(waiting(p)!.reason!));
    const err = await waitFor(env, "bad-image", (x) => waiting(x)?.reason === "ErrImagePull");
    assert.match(waiting(err)!.message!, /failed to pull and unpack image "registry\.example\/nope:1\.0"/);
    const e = await apiError(() => env.core.readNamespacedPodLog({ name: "bad-image", namespace: "default" }));
    assert.equal(e.code, 400);
    assert.match(JSON.parse(e.body).message, /^container "main" in pod "bad-image" is waiting to start: (image can't be pulled|trying and failing to pull image)$/);
    const back = await waitFor(env, "bad-image", (x) => waiting(x)?.reason === "ImagePullBackOff");
    assert.equal(waiting(back)!.message, 'Back-off pulling image "registry.example/nope:1.0"');
    const reasons = (await podEvents(env, "bad-image")).map((ev) => ev.reason);
    for (const r of ["Scheduled", "Pulling", "Failed", "BackOff"]) assert.ok(reasons.includes(r), `missing ${r} in ${reasons}`);
    assert.ok(!reasons.includes("Started"));

    env.lk.faults.set({});
    const done = await waitFor(env, "bad-image", terminal);
    assert.equal(done.status?.phase, "Succeeded");
  });

  it("unschedulable: Pending, PodScheduled False/Unschedulable, FailedScheduling; scheduled once cleared", async () => {
    env.lk.faults.set({ unschedulable: true });
    await env.core.createNamespacedPod({ namespace: "default", body: pod("no-room", ["true"]) });
    const p = await waitFor(env, "no-room", (x) => cond(x, "PodScheduled")?.status === "False");
    assert.equal(p.status?.phase, "Pending");
    assert.equal(p.spec?.nodeName, undefined);
    assert.equal(cond(p, "PodScheduled")?.reason, "Unschedulable");
    assert.match(cond(p, "PodScheduled")!.message!, /^0\/1 nodes are available: 1 node\(s\) were unschedulable\./);
    const ev = (await podEvents(env, "no-room")).find((x) => x.reason === "FailedScheduling");
    assert.equal(ev?.type, "Warning");
    assert.equal(ev?.source?.component, "default-scheduler");
    env.lk.faults.set({});
    const done = await waitFor(env, "no-room", terminal);
    assert.equal(done.status?.phase, "Succeeded");
    assert.equal(cond(done, "PodScheduled")?.status, "True");
  });

  it("a nodeSelector that doesn't match the node's labels leaves the pod Pending; a matching one runs", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: pod("wrong-node", ["true"], { nodeSelector: { disktype: "ssd" } }) });
    const p = await waitFor(env, "wrong-node", (x) => cond(x, "PodScheduled")?.status === "False");
    assert.equal(cond(p, "PodScheduled")?.reason, "Unschedulable");
    assert.match(cond(p, "PodScheduled")!.message!, /^0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector\./);
    const fits = { "kubernetes.io/hostname": "localkube", "kubernetes.io/os": "linux", "kubernetes.io/arch": process.arch === "x64" ? "amd64" : process.arch };
    await env.core.createNamespacedPod({ namespace: "default", body: pod("right-node", ["true"], { nodeSelector: fits }) });
    assert.equal((await waitFor(env, "right-node", terminal)).status?.phase, "Succeeded");
    // An unscheduled pod is deleted at once.
    await env.core.deleteNamespacedPod({ name: "wrong-node", namespace: "default" });
    const e = await apiError(() => env.core.readNamespacedPod({ name: "wrong-node", namespace: "default" }));
    assert.equal(e.code, 404);
  });
});

describe("node faults", () => {
  it("evict: the process is killed; Failed / Evicted with the kubelet's message, DisruptionTarget, Evicted event", async () => {
    const pidFile = join(tmpdir(), `localkube-evict-${process.pid}`);
    await env.core.createNamespacedPod({ namespace: "default", body: pod("evict-me", ["sh", "-c", `echo $$$$ > ${pidFile}; exec sleep 60`]) });
    await waitFor(env, "evict-me", (x) => x.status?.phase === "Running");
    const pid = await pidFrom(pidFile);
    await env.lk.faults.evict("default", "evict-me");
    const p = await env.core.readNamespacedPod({ name: "evict-me", namespace: "default" });
    assert.equal(p.status?.phase, "Failed");
    assert.equal(p.status?.reason, "Evicted");
    assert.match(p.status!.message!, /^The node was low on resource: memory\. /);
    assert.equal(cond(p, "DisruptionTarget")?.reason, "TerminationByKubelet");
    assert.equal(terminated(p)?.exitCode, 137);
    assert.ok(await gone(pid), "the evicted pod's process is gone");
    const reasons = (await podEvents(env, "evict-me")).map((ev) => ev.reason);
    assert.ok(reasons.includes("Evicted") && reasons.includes("Killing"), String(reasons));
    await assert.rejects(env.lk.faults.evict("default", "evict-me"), /already finished/);
    await assert.rejects(env.lk.faults.evict("default", "nope"), /not found/);
    await rm(pidFile, { force: true });
  });

  it("loseNode: every running pod dies and goes Failed / NodeLost; finished pods are untouched; new pods still run", async () => {
    const files = [0, 1].map((i) => join(tmpdir(), `localkube-lost-${process.pid}-${i}`));
    await env.core.createNamespacedPod({ namespace: "default", body: pod("done-before", ["true"]) });
    await waitFor(env, "done-before", terminal);
    for (const [i, f] of files.entries()) await env.core.createNamespacedPod({ namespace: "default", body: pod(`lost-${i}`, ["sh", "-c", `echo $$$$ > ${f}; exec sleep 60`]) });
    const pids = await Promise.all(files.map(pidFrom));
    for (const i of [0, 1]) await waitFor(env, `lost-${i}`, (x) => x.status?.phase === "Running");
    await env.lk.faults.loseNode();
    for (const i of [0, 1]) {
      const p = await env.core.readNamespacedPod({ name: `lost-${i}`, namespace: "default" });
      assert.equal(p.status?.phase, "Failed");
      assert.equal(p.status?.reason, "NodeLost");
      assert.match(p.status!.message!, /lost/);
      assert.equal(terminated(p)?.reason, "ContainerStatusUnknown");
      assert.equal(terminated(p)?.exitCode, 137);
    }
    for (const pid of pids) assert.ok(await gone(pid));
    assert.equal((await env.core.readNamespacedPod({ name: "done-before", namespace: "default" })).status?.phase, "Succeeded");
    await env.core.createNamespacedPod({ namespace: "default", body: pod("after-loss", ["true"]) });
    assert.equal((await waitFor(env, "after-loss", terminal)).status?.phase, "Succeeded");
    for (const f of files) await rm(f, { force: true });
  });
});

describe("fault configuration", () => {
  it("set() replaces, set({}) clears, get() returns a copy; bad values are rejected", () => {
    env.lk.faults.set({ errorRate: 0.1, imagePullFailures: ["a*"] });
    env.lk.faults.set({ unschedulable: true });
    assert.deepEqual(env.lk.faults.get(), { unschedulable: true });
    env.lk.faults.get().unschedulable = false;
    assert.deepEqual(env.lk.faults.get(), { unschedulable: true });
    env.lk.faults.set({});
    assert.deepEqual(env.lk.faults.get(), {});
    assert.throws(() => env.lk.faults.set({ errorRate: 2 }), /errorRate/);
    assert.throws(() => env.lk.faults.set({ bogus: 1 } as any), /unknown key "bogus"/);
    assert.deepEqual(env.lk.faults.get(), {});
  });

  it("faultsFromEnv parses FERRY_LOCALKUBE_FAULTS, with clear errors for bad JSON and unknown keys", () => {
    assert.deepEqual(faultsFromEnv({}), {});
    assert.deepEqual(faultsFromEnv({ FERRY_LOCALKUBE_FAULTS: '{"errorRate":0.05,"imagePullFailures":["bad/*"]}' }), { errorRate: 0.05, imagePullFailures: ["bad/*"] });
    assert.throws(() => faultsFromEnv({ FERRY_LOCALKUBE_FAULTS: "{errorRate:1}" }), /FERRY_LOCALKUBE_FAULTS is not valid JSON/);
    assert.throws(() => faultsFromEnv({ FERRY_LOCALKUBE_FAULTS: '{"errorrate":0.1}' }), /FERRY_LOCALKUBE_FAULTS: unknown key "errorrate"/);
    assert.throws(() => faultsFromEnv({ FERRY_LOCALKUBE_FAULTS: '{"podStartDelayMs":"5"}' }), /podStartDelayMs/);
  });

  it("the Log client sees a fault as an error, and reads logs again once cleared", async () => {
    await env.core.createNamespacedPod({ namespace: "default", body: pod("logged", ["sh", "-c", "echo hi"]) });
    await waitFor(env, "logged", terminal);
    const read = async () => {
      let out = "";
      const sink = new Writable({ write: (c, _e, cb) => ((out += c), cb()) });
      const finished = new Promise<void>((resolve) => sink.on("finish", () => resolve()));
      await new Log(env.kc).log("default", "logged", "main", sink, {});
      await finished;
      return out;
    };
    env.lk.faults.set({ errorRate: 1 });
    try {
      await assert.rejects(read());
    } finally {
      env.lk.faults.set({});
    }
    assert.equal(await read(), "hi\n");
  });
});
