// The Pod spec end to end, through a whole Ferry on localkube: a global pod template
// (FERRY_POD_TEMPLATE) under every task's Pod, tasks that override it, init containers and sidecars,
// Secrets in the environment, and the safe defaults. The Pods are watched as the executor creates them.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Watch, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { startFerry } from "../../app/ferry.ts";
import { compileConfig, DEFAULT_WORKER_IMAGE } from "../../config/config.ts";
import { POD_SELECTOR, TASK_LABEL } from "../../executor/pod-names.ts";
import { PodTemplateError } from "../../executor/pod-template.ts";
import { silentLogger } from "../../lib/logger.ts";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, type TestFerry } from "../support/ferry.ts";

const TEMPLATE = `apiVersion: v1
kind: Pod
metadata:
  labels:
    team: data
spec:
  containers:
  - name: task
    env:
    - name: GREETING
      value: from-template
  initContainers:
  - name: shipper
    image: alpine:3.20
    restartPolicy: Always
    command: [sh, -c, "echo shipper up; exec sleep 600"]
`;

describe("the pod template, init containers, sidecars and safe defaults, end to end", { timeout: 240_000 }, () => {
  let f: TestFerry;
  let dir: string;
  /** Every Pod Ferry made, as last seen, by its task label. */
  const pods = new Map<string, V1Pod>();
  let stopWatch: AbortController | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-template-"));
    await writeFile(path.join(dir, "template.yaml"), TEMPLATE);
    f = await startTestFerry({ s3: false, env: { FERRY_POD_TEMPLATE: path.join(dir, "template.yaml") } });
    stopWatch = await new Watch(f.ferry.kube.config).watch(
      "/api/v1/namespaces/default/pods",
      { labelSelector: POD_SELECTOR },
      (_type, pod: V1Pod) => {
        pods.set(`${pod.metadata?.labels?.["ferry.dev/dag"]}/${pod.metadata?.labels?.[TASK_LABEL]}`, pod);
      },
      () => {},
    );
  });
  after(async () => {
    stopWatch?.abort();
    await f?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(dagId: string, body: string, options?: string): Promise<any> {
    const pushed = await f.api("POST", "/api/v1/dags", dagFile(dagId, body, options));
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
    return f.waitForRun(dagId, "r1", 90_000);
  }
  const tryOf = async (dagId: string, task: string) => (await f.api("GET", `/api/v1/dags/${dagId}/runs/r1/tasks/${task}`)).body.tries[0];
  const logOf = async (dagId: string, taskId: string) => (await readTryLog(f.ferry.logStore, { dagId, runId: "r1", taskId, tryNumber: 1 })).toString();
  const podOf = (dagId: string, task: string) => {
    const pod = pods.get(`${dagId}/${task}`);
    assert.ok(pod, `no Pod was seen for ${dagId}/${task}`);
    return pod;
  };
  const envOf = (c: V1Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));

  it("lays the template under every Pod (a label, an env var, a sidecar) and lets a task override each", async () => {
    const done = await run(
      "layered",
      `  podTask("plain", { image: "alpine:3.20", command: ["sh", "-c", "echo greeting=$GREETING"] });
  podTask("custom", {
    image: "alpine:3.20",
    // localkube runs a Pod's containers in one working directory; on a cluster, share an emptyDir.
    command: ["sh", "-c", "cat prepared; echo greeting=$GREETING"],
    labels: { team: "ml" },
    env: { GREETING: "from-task" },
    sidecars: [{ name: "shipper", image: "alpine:3.20", command: ["sh", "-c", "echo custom shipper; exec sleep 600"] }],
    initContainers: [{ name: "prepare", image: "alpine:3.20", command: ["sh", "-c", "echo init output; echo prepared > prepared"] }],
  });
  task("fn", async (ctx) => { ctx.log("function ran"); return 1; });`,
    );
    assert.equal(done.state, "success", JSON.stringify(done));
    assert.equal(await logOf("layered", "plain"), "greeting=from-template\n");
    // Only the task's own container's log is stored: the init container's output is not in it.
    assert.equal(await logOf("layered", "custom"), "prepared\ngreeting=from-task\n");
    assert.match(await logOf("layered", "fn"), /function ran/);

    const plain = podOf("layered", "plain");
    assert.equal(plain.metadata?.labels?.team, "data");
    assert.equal(envOf(plain.spec?.containers[0]).GREETING, "from-template");
    assert.deepEqual(
      plain.spec?.initContainers?.map((c) => [c.name, c.restartPolicy, c.command?.[2]]),
      [["shipper", "Always", "echo shipper up; exec sleep 600"]],
    );
    const custom = podOf("layered", "custom");
    assert.equal(custom.metadata?.labels?.team, "ml");
    assert.equal(custom.metadata?.labels?.["app.kubernetes.io/managed-by"], "ferry");
    assert.equal(envOf(custom.spec?.containers[0]).GREETING, "from-task");
    assert.deepEqual(
      custom.spec?.initContainers?.map((c) => [c.name, c.restartPolicy, c.command?.[2]]),
      [
        ["shipper", "Always", "echo custom shipper; exec sleep 600"],
        ["prepare", undefined, "echo init output; echo prepared > prepared"],
      ],
    );
    const statuses = Object.fromEntries((custom.status?.initContainerStatuses ?? []).map((s) => [s.name, s.state?.terminated?.reason]));
    assert.equal(statuses.prepare, "Completed");
    const fn = podOf("layered", "fn");
    assert.equal(fn.spec?.containers[0]!.image, DEFAULT_WORKER_IMAGE);
    assert.equal(fn.spec?.containers[0]!.command, undefined);
    assert.equal(envOf(fn.spec?.containers[0]).GREETING, "from-template");
    assert.equal(envOf(fn.spec?.containers[0]).FERRY_DAG_ID, "layered");
    assert.equal(fn.metadata?.labels?.team, "data");
    assert.equal(fn.spec?.initContainers?.[0]?.name, "shipper");
  });

  it("fails the try with a clear reason when an init container fails", async () => {
    const done = await run(
      "initfail",
      `  podTask("t", {
    image: "alpine:3.20",
    command: ["sh", "-c", "echo never"],
    initContainers: [{ name: "migrate", image: "alpine:3.20", command: ["sh", "-c", "echo no database >&2; exit 3"] }],
  });`,
    );
    assert.equal(done.state, "failed");
    const t = await tryOf("initfail", "t");
    assert.equal(t.reason, "Init:Error");
    assert.match(t.message, /^init container "migrate" failed with exit code 3/);
    assert.equal(await logOf("initfail", "t"), "", "the task's container never ran");
  });

  it("fails fast on a Secret that does not exist (CreateContainerConfigError), in the task's container or an init container", async () => {
    const started = Date.now();
    const done = await run(
      "nosecret",
      `  podTask("main", { image: "alpine:3.20", command: ["sh", "-c", "echo $TOKEN"], env: { TOKEN: { valueFrom: { secretKeyRef: { name: "missing", key: "token" } } } } });
  podTask("init", {
    image: "alpine:3.20",
    command: ["true"],
    initContainers: [{ name: "fetch", image: "alpine:3.20", command: ["true"], envFrom: [{ secretRef: { name: "absent" } }] }],
  });`,
    );
    assert.equal(done.state, "failed");
    assert.ok(Date.now() - started < 60_000, "well before the 5 minute start timeout");
    const main = await tryOf("nosecret", "main");
    assert.deepEqual([main.reason, main.message], ["CreateContainerConfigError", 'secret "missing" not found']);
    const init = await tryOf("nosecret", "init");
    assert.deepEqual([init.reason, init.message], ["CreateContainerConfigError", 'init container "fetch": secret "absent" not found']);
  });

  it("reads a Secret that exists into the task's environment", async () => {
    await f.ferry.kube.core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "creds" }, stringData: { token: "s3cr3t" } } });
    const done = await run("withsecret", `  podTask("t", { image: "alpine:3.20", command: ["sh", "-c", "echo token=$TOKEN"], env: { TOKEN: { valueFrom: { secretKeyRef: { name: "creds", key: "token" } } } } });`);
    assert.equal(done.state, "success");
    assert.equal(await logOf("withsecret", "t"), "token=s3cr3t\n");
  });

  it("makes every Pod run non-root with no privileges by default, and lets a task say otherwise", async () => {
    const done = await run(
      "secure",
      `  podTask("default", { image: "alpine:3.20", command: ["true"] });
  podTask("relaxed", {
    image: "alpine:3.20",
    command: ["true"],
    serviceAccountName: "default",
    podSecurityContext: { runAsNonRoot: false },
    securityContext: { allowPrivilegeEscalation: true, capabilities: { drop: [] } },
  });`,
    );
    assert.equal(done.state, "success", "the safe defaults run on localkube");
    const plain = (v: unknown) => JSON.parse(JSON.stringify(v ?? null));
    const secure = podOf("secure", "default");
    assert.deepEqual(plain(secure.spec?.securityContext), { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    for (const c of [...(secure.spec?.initContainers ?? []), ...(secure.spec?.containers ?? [])]) {
      assert.deepEqual(plain(c.securityContext), { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }, c.name);
    }
    assert.equal(secure.spec?.automountServiceAccountToken, false);
    const relaxed = podOf("secure", "relaxed");
    assert.deepEqual(plain(relaxed.spec?.securityContext), { runAsNonRoot: false, seccompProfile: { type: "RuntimeDefault" } });
    assert.deepEqual(plain(relaxed.spec?.containers[0]?.securityContext), { allowPrivilegeEscalation: true, capabilities: { drop: [] } });
    assert.equal(relaxed.spec?.automountServiceAccountToken, undefined);
  });

  it("refuses a DAG whose Pod fields are wrong with 422 and every problem's path", async () => {
    const pushed = await f.api(
      "POST",
      "/api/v1/dags",
      dagFile("wrong", `  podTask("t", { image: "alpine:3.20", env: { TOKEN: { valueFrom: { secretKeyRef: { name: "creds" } } } }, sidecars: [{ name: "task", image: "x" }] } as any);`),
    );
    assert.equal(pushed.status, 422, pushed.text);
    assert.match(pushed.text, /tasks\.t\.env\.TOKEN\.valueFrom\.secretKeyRef\.key/);
    assert.match(pushed.text, /tasks\.t\.sidecars\[0\]\.name/);
  });
});

describe("a pod template Ferry cannot use", () => {
  it("stops Ferry at start, naming the problem", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ferry-template-"));
    try {
      const file = path.join(dir, "bad.yaml");
      await writeFile(file, "spec:\n  containers:\n  - {name: a, image: x}\n  - {name: b, image: y}\n");
      const config = compileConfig({ FERRY_POD_TEMPLATE: file, FERRY_DATA_DIR: dir, DATABASE_URL: "postgres://unused:1/none" });
      assert.equal(config.podTemplatePath, file);
      await assert.rejects(startFerry(config, { log: silentLogger }), (err: unknown) => err instanceof PodTemplateError && /spec\.containers: a template has at most one container/.test((err as Error).message));
      await assert.rejects(startFerry(compileConfig({ FERRY_POD_TEMPLATE: path.join(dir, "missing.yaml"), FERRY_DATA_DIR: dir }), { log: silentLogger }), /cannot read the pod template/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
