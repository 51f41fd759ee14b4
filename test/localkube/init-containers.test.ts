// localkube's kubelet with more than one container per Pod: init containers run in order, each to
// completion, before the main container; sidecars (init containers with restartPolicy Always) run beside
// it and are stopped once it ends; a failed init container fails the Pod (restartPolicy Never). And the
// environment a container gets from Secrets, ConfigMaps and the downward API, with the kubelet's
// CreateContainerConfigError when a reference does not resolve.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Container, V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { apiError, setup, sleep, terminal, waitForGone, waitForPod, type Env } from "./helpers.ts";

let env: Env;
before(async () => {
  env = await setup({ namespaces: ["team-a"] });
});
after(async () => {
  await env.close();
});

const NS = "default";
const sh = (name: string, script: string, extra: Partial<V1Container> = {}): V1Container => ({ name, image: "alpine:3.20", command: ["sh", "-c", script], ...extra });
function pod(name: string, init: V1Container[], main: V1Container, extra: Partial<V1Pod["spec"]> = {}): V1Pod {
  return { metadata: { name }, spec: { restartPolicy: "Never", terminationGracePeriodSeconds: 5, initContainers: init, containers: [main], ...extra } };
}
const create = (body: V1Pod) => env.core.createNamespacedPod({ namespace: NS, body });
const log = (name: string, container?: string) => env.core.readNamespacedPodLog({ name, namespace: NS, container });
const initStatus = (p: V1Pod, name: string): V1ContainerStatus => p.status!.initContainerStatuses!.find((s) => s.name === name)!;
const condition = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);
/** The client's model classes as plain JSON, to compare with literals. */
const plain = (v: unknown) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

describe("init containers and sidecars", { timeout: 120_000 }, () => {
  it("runs init containers in order, each to completion, before the main container; each has its own log", async () => {
    await create(pod("ordered", [sh("first", "echo first > ../order; echo one"), sh("second", "echo second >> ../order; echo two")], sh("main", "cat ../order; echo main")));
    // The work dir is per pod: the init containers' files are the main container's (as an emptyDir would share them).
    const p = await waitForPod(env.core, "ordered", terminal);
    assert.equal(p.status?.phase, "Succeeded");
    for (const name of ["first", "second"]) {
      const s = initStatus(p, name);
      assert.deepEqual([s.ready, s.started, s.state?.terminated?.exitCode, s.state?.terminated?.reason], [true, false, 0, "Completed"], name);
    }
    assert.equal(await log("ordered", "first"), "one\n");
    assert.equal(await log("ordered", "second"), "two\n");
    assert.equal(await log("ordered"), "first\nsecond\nmain\n", "without ?container=, the main container's log");
    assert.deepEqual(condition(p, "Initialized")?.status, "True");
    const { code, body } = await apiError(() => log("ordered", "nope"));
    assert.deepEqual([code, body.message], [400, "container nope is not valid for pod ordered"]);
  });

  it("shows a Pod initializing as a kubelet does: Pending, PodInitializing, Initialized False naming what is left", async () => {
    await create(pod("initializing", [sh("slow", "sleep 2"), sh("next", "true")], sh("main", "true")));
    const p = await waitForPod(env.core, "initializing", (x) => !!initStatus(x, "slow")?.state?.running);
    assert.equal(p.status?.phase, "Pending");
    assert.deepEqual(initStatus(p, "slow").started, true);
    assert.deepEqual(plain(initStatus(p, "next").state), { waiting: { reason: "PodInitializing" } });
    assert.deepEqual(plain(p.status?.containerStatuses?.[0]?.state), { waiting: { reason: "PodInitializing" } });
    const initialized = condition(p, "Initialized");
    assert.deepEqual([initialized?.status, initialized?.reason, initialized?.message], ["False", "ContainersNotInitialized", "containers with incomplete status: [slow next]"]);
    const { code, body } = await apiError(() => log("initializing"));
    assert.deepEqual([code, body.message], [400, 'container "main" in pod "initializing" is waiting to start: PodInitializing']);
    await waitForPod(env.core, "initializing", terminal);
  });

  it("fails the Pod when an init container fails (restartPolicy Never): what follows never starts", async () => {
    await create(pod("init-fails", [sh("ok", "true"), sh("bad", "echo broken >&2; exit 3", { terminationMessagePolicy: "FallbackToLogsOnError" }), sh("never", "true")], sh("main", "echo never")));
    const p = await waitForPod(env.core, "init-fails", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(p.status?.reason, undefined, "no Pod-level reason: the init container's status says why");
    const bad = initStatus(p, "bad");
    assert.deepEqual([bad.ready, bad.state?.terminated?.exitCode, bad.state?.terminated?.reason, bad.state?.terminated?.message], [false, 3, "Error", "broken\n"]);
    assert.deepEqual(plain(initStatus(p, "never").state), { waiting: { reason: "PodInitializing" } });
    assert.deepEqual(plain(p.status?.containerStatuses?.[0]?.state), { waiting: { reason: "PodInitializing" } });
    assert.equal(condition(p, "Initialized")?.status, "False");
    assert.equal(await log("init-fails", "bad"), "broken\n");
  });

  it("runs a sidecar beside the main container, stops it once the main one ends, and the Pod's phase is the main one's", async () => {
    await create(
      pod("with-sidecar", [sh("side", "trap 'echo stopping; exit 0' TERM; echo up; exec 2>/dev/null; while true; do sleep 0.1; done", { restartPolicy: "Always" })], sh("main", "sleep 1; echo done; exit 4")),
    );
    const running = await waitForPod(env.core, "with-sidecar", (x) => x.status?.phase === "Running");
    const side = initStatus(running, "side");
    assert.deepEqual([side.ready, side.started, !!side.state?.running], [true, true, true]);
    assert.equal(condition(running, "Ready")?.status, "True");
    // Main ended, sidecar stopping: the Pod is still Running, no longer ready.
    const ending = await waitForPod(env.core, "with-sidecar", (x) => !!x.status?.containerStatuses?.[0]?.state?.terminated);
    if (!terminal(ending)) {
      assert.equal(ending.status?.phase, "Running");
      assert.equal(condition(ending, "Ready")?.status, "False");
    }
    const p = await waitForPod(env.core, "with-sidecar", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 4);
    assert.deepEqual(initStatus(p, "side").state?.terminated?.exitCode, 0);
    assert.equal(await log("with-sidecar", "side"), "up\nstopping\n");
    const events = await env.core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=with-sidecar,reason=Killing" });
    assert.deepEqual(
      events.items.map((e) => [e.involvedObject.fieldPath, e.message]),
      [["spec.initContainers{side}", "Stopping container side"]],
    );
  });

  it("a sidecar's own failure does not fail the Pod; one that ignores SIGTERM is killed at the grace period", async () => {
    await create(
      pod(
        "stubborn",
        [sh("side", "trap '' TERM; while true; do sleep 0.1; done", { restartPolicy: "Always" }), sh("flaky", "exit 1", { restartPolicy: "Always" })],
        sh("main", "sleep 0.5"),
        { terminationGracePeriodSeconds: 1 },
      ),
    );
    const p = await waitForPod(env.core, "stubborn", terminal);
    assert.equal(p.status?.phase, "Succeeded");
    assert.equal(initStatus(p, "side").state?.terminated?.exitCode, 137);
    assert.equal(initStatus(p, "flaky").state?.terminated?.exitCode, 1);
  });

  it("a graceful delete stops the running init container and the sidecars, then removes the Pod", async () => {
    await create(pod("deleted-init", [sh("side", "exec sleep 60", { restartPolicy: "Always" }), sh("waits", "exec sleep 60")], sh("main", "true")));
    await waitForPod(env.core, "deleted-init", (x) => !!initStatus(x, "waits")?.state?.running);
    await env.core.deleteNamespacedPod({ name: "deleted-init", namespace: NS, gracePeriodSeconds: 2 });
    await waitForGone(env.core, "deleted-init");
  });

  it("activeDeadlineSeconds counts init containers too", async () => {
    await create(pod("slow-init", [sh("forever", "exec sleep 60")], sh("main", "true"), { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 1 }));
    const p = await waitForPod(env.core, "slow-init", (x) => terminal(x) && !!initStatus(x, "forever")?.state?.terminated);
    assert.deepEqual([p.status?.phase, p.status?.reason], ["Failed", "DeadlineExceeded"]);
  });

  it("validates init containers as the API server does", async () => {
    const dup = pod("dup", [sh("main", "true")], sh("main", "true"));
    let err = await apiError(() => create(dup));
    assert.equal(err.code, 422);
    assert.deepEqual([err.body.details.causes[0].field, err.body.details.causes[0].reason], ["spec.containers[0].name", "FieldValueDuplicate"]);
    err = await apiError(() => create(pod("policy", [sh("x", "true", { restartPolicy: "Never" })], sh("main", "true"))));
    assert.deepEqual([err.body.details.causes[0].field, err.body.details.causes[0].reason], ["spec.initContainers[0].restartPolicy", "FieldValueNotSupported"]);
    err = await apiError(() => create(pod("main-policy", [], sh("main", "true", { restartPolicy: "Always" }))));
    assert.deepEqual([err.body.details.causes[0].field, err.body.details.causes[0].reason], ["spec.containers[0].restartPolicy", "FieldValueForbidden"]);
  });
});

describe("instant mode", () => {
  it("completes init containers at once, and stops sidecars when the main container ends", async () => {
    const instant = await setup({ instant: true });
    try {
      await instant.core.createNamespacedPod({ namespace: NS, body: pod("quick", [sh("init", "x"), sh("side", "x", { restartPolicy: "Always" })], sh("main", "x")) });
      const p = await waitForPod(instant.core, "quick", (x) => terminal(x) && !!initStatus(x, "side")?.state?.terminated);
      assert.equal(p.status?.phase, "Succeeded");
      assert.equal(initStatus(p, "init").state?.terminated?.exitCode, 0);
    } finally {
      await instant.close();
    }
  });
});

describe("Secrets, ConfigMaps and a container's environment", { timeout: 120_000 }, () => {
  it("stores Secrets (stringData folded into base64 data) and ConfigMaps: create, get, list, delete, namespaced", async () => {
    const s = await env.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "creds" }, stringData: { token: "s3cr3t" }, data: { raw: Buffer.from("bytes").toString("base64") } } });
    assert.deepEqual([s.type, s.data, (s as any).stringData], ["Opaque", { raw: "Ynl0ZXM=", token: "czNjcjN0" }, undefined]);
    assert.equal((await env.core.readNamespacedSecret({ name: "creds", namespace: NS })).data?.token, "czNjcjN0");
    await env.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "settings" }, data: { mode: "fast" } } });
    assert.deepEqual((await env.core.listNamespacedConfigMap({ namespace: NS })).items.map((c) => c.metadata?.name), ["settings"]);
    assert.equal((await env.core.listNamespacedSecret({ namespace: "team-a" })).items.length, 0);
    const missing = await apiError(() => env.core.readNamespacedSecret({ name: "creds", namespace: "team-a" }));
    assert.deepEqual([missing.code, missing.body.message], [404, 'secrets "creds" not found']);
    const exists = await apiError(() => env.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "settings" } } }));
    assert.equal(exists.code, 409);
    const badKey = await apiError(() => env.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "bad" }, stringData: { "no/slash": "x" } } }));
    assert.deepEqual([badKey.code, badKey.body.details.causes[0].field], [422, "data[no/slash]"]);
    const badBase64 = await apiError(() => env.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "bad" }, data: { k: "not base64!" } } }));
    assert.equal(badBase64.code, 400);
    assert.match(badBase64.body.message, /^Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte \d+$/);
    await env.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "gone" }, stringData: { a: "b" } } });
    const deleted: any = await env.core.deleteNamespacedSecret({ name: "gone", namespace: NS });
    assert.deepEqual([deleted.kind, deleted.status, deleted.details.name], ["Status", "Success", "gone"]);
    assert.equal((await apiError(() => env.core.readNamespacedSecret({ name: "gone", namespace: NS }))).code, 404);
  });

  it("gives a container its Secret, ConfigMap and downward-API values, envFrom first and env over it", async () => {
    await env.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "app" }, stringData: { password: "pw", SHARED: "from-secret" } } });
    await env.core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: "app-config" }, data: { level: "debug" } } });
    const main = sh("main", "echo $PASSWORD $LEVEL $POD $NS $SHARED $CFG_level $NONE.", {
      envFrom: [{ secretRef: { name: "app" } }, { configMapRef: { name: "app-config" }, prefix: "CFG_" }, { secretRef: { name: "absent", optional: true } }],
      env: [
        { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "app", key: "password" } } },
        { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "app-config", key: "level" } } },
        { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "SHARED", value: "from-env" },
        { name: "NONE", valueFrom: { secretKeyRef: { name: "app", key: "absent", optional: true } } },
      ],
    });
    await create(pod("env", [], main));
    await waitForPod(env.core, "env", terminal);
    assert.equal(await log("env"), "pw debug env default from-env debug .\n");
  });

  it("a missing Secret, ConfigMap or key is the kubelet's CreateContainerConfigError; the container starts once it exists", async () => {
    const ref = (name: string, valueFrom: object) => sh("main", "echo $V", { env: [{ name: "V", valueFrom }] });
    await create(pod("no-secret", [], ref("main", { secretKeyRef: { name: "later", key: "k" } })));
    await create(pod("no-key", [], ref("main", { secretKeyRef: { name: "app", key: "nope" } })));
    await create(pod("no-cm", [], ref("main", { configMapKeyRef: { name: "nocm", key: "k" } })));
    const waiting = async (name: string) => plain((await waitForPod(env.core, name, (x) => !!x.status?.containerStatuses?.[0]?.state?.waiting?.message)).status!.containerStatuses![0]!.state!.waiting);
    assert.deepEqual(await waiting("no-secret"), { reason: "CreateContainerConfigError", message: 'secret "later" not found' });
    assert.deepEqual(await waiting("no-key"), { reason: "CreateContainerConfigError", message: "couldn't find key nope in Secret default/app" });
    assert.deepEqual(await waiting("no-cm"), { reason: "CreateContainerConfigError", message: 'configmap "nocm" not found' });
    const events = await env.core.listNamespacedEvent({ namespace: NS, fieldSelector: "involvedObject.name=no-secret,reason=Failed" });
    assert.equal(events.items[0]?.message, 'Error: secret "later" not found');
    await sleep(200);
    assert.equal((await env.core.readNamespacedPod({ name: "no-secret", namespace: NS })).status?.phase, "Pending");
    await env.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: "later" }, stringData: { k: "arrived" } } });
    await waitForPod(env.core, "no-secret", terminal);
    assert.equal(await log("no-secret"), "arrived\n");
  });

  it("an init container's missing Secret holds the Pod in Pending, reported on its own status", async () => {
    await create(pod("init-secret", [sh("setup", "true", { env: [{ name: "V", valueFrom: { secretKeyRef: { name: "never", key: "k" } } }] })], sh("main", "true")));
    const p = await waitForPod(env.core, "init-secret", (x) => !!initStatus(x, "setup")?.state?.waiting?.message);
    assert.deepEqual(plain(initStatus(p, "setup").state?.waiting), { reason: "CreateContainerConfigError", message: 'secret "never" not found' });
    assert.deepEqual(plain(p.status?.containerStatuses?.[0]?.state), { waiting: { reason: "PodInitializing" } });
  });

  it("a deleted namespace takes its Secrets and ConfigMaps with it", async () => {
    await env.core.createNamespace({ body: { metadata: { name: "short-lived" } } });
    await env.core.createNamespacedSecret({ namespace: "short-lived", body: { metadata: { name: "s" }, stringData: { a: "b" } } });
    await env.core.createNamespacedConfigMap({ namespace: "short-lived", body: { metadata: { name: "c" }, data: { a: "b" } } });
    await env.core.deleteNamespace({ name: "short-lived" });
    for (let i = 0; i < 100; i++) {
      const all = await env.core.listSecretForAllNamespaces();
      if (!all.items.some((s) => s.metadata?.namespace === "short-lived")) break;
      await sleep(50);
    }
    assert.equal((await env.core.listSecretForAllNamespaces()).items.filter((s) => s.metadata?.namespace === "short-lived").length, 0);
    assert.equal((await env.core.listConfigMapForAllNamespaces()).items.filter((s) => s.metadata?.namespace === "short-lived").length, 0);
  });
});
