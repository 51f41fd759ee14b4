// How a try's Pod is made, layer over layer (README.md, "Pod spec"): Ferry's safe defaults, the global
// pod template, the DAG's podDefaults and the task's own fields, then Ferry's own fields, which always
// win. Pure: the merge rules, the template file's reading, and buildPod, without a cluster.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { compileDagFile } from "../../dagfile/compile.ts";
import { mergePodLayers } from "../../dagfile/pod-layers.ts";
import { buildPod, type PodSpecSettings } from "../../executor/pod-spec.ts";
import { parsePodTemplate, PodTemplateError } from "../../executor/pod-template.ts";
import type { TaskDefinition } from "../../sdk/definition.ts";

describe("mergePodLayers", () => {
  it("merges maps by key, keyed lists by their key in place, and replaces other lists and scalars", () => {
    const base = {
      labels: { team: "data", tier: "batch" },
      env: [
        { name: "A", value: "1" },
        { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      ],
      volumes: [{ name: "data", emptyDir: {} }],
      volumeMounts: [{ name: "data", mountPath: "/data" }],
      tolerations: [{ key: "batch", operator: "Exists" }],
      command: ["sh", "-c", "one"],
      priorityClassName: "low",
      securityContext: { runAsUser: 1000, seccompProfile: { type: "Localhost", localhostProfile: "p.json" } },
    };
    const over = {
      labels: { tier: "gold" },
      env: [
        { name: "B", value: "plain" },
        { name: "C", value: "3" },
      ],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "pvc" } }],
      volumeMounts: [{ name: "other", mountPath: "/data", readOnly: true }],
      tolerations: [{ key: "gpu", operator: "Exists" }],
      command: ["true"],
      priorityClassName: "high",
      securityContext: { readOnlyRootFilesystem: true, seccompProfile: { type: "RuntimeDefault" } },
    };
    assert.deepEqual(mergePodLayers(base, over), {
      labels: { team: "data", tier: "gold" },
      // B keeps its place (earlier env vars can be referenced by later ones) and is replaced whole.
      env: [
        { name: "A", value: "1" },
        { name: "B", value: "plain" },
        { name: "C", value: "3" },
      ],
      // Same name: the later volume replaces the earlier one whole (a volume has one source).
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "pvc" } }],
      volumeMounts: [{ name: "other", mountPath: "/data", readOnly: true }],
      tolerations: [{ key: "gpu", operator: "Exists" }],
      command: ["true"],
      priorityClassName: "high",
      // Objects merge field by field; a seccomp profile is replaced whole (its type and path go together).
      securityContext: { runAsUser: 1000, readOnlyRootFilesystem: true, seccompProfile: { type: "RuntimeDefault" } },
    });
    assert.deepEqual(base.labels, { team: "data", tier: "batch" }, "the inputs are not changed");
  });

  it("merges containers by name field by field, and a task's env object value by value", () => {
    const base = { initContainers: [{ name: "proxy", image: "proxy:1", args: ["--port", "5432"], env: { MODE: "a", KEEP: "k" } }] };
    const over = { initContainers: [{ name: "proxy", image: "proxy:2", env: { MODE: { valueFrom: { configMapKeyRef: { name: "c", key: "mode" } } } } }, { name: "new", image: "x" }] };
    assert.deepEqual(mergePodLayers(base, over), {
      initContainers: [
        { name: "proxy", image: "proxy:2", args: ["--port", "5432"], env: { MODE: { valueFrom: { configMapKeyRef: { name: "c", key: "mode" } } }, KEEP: "k" } },
        { name: "new", image: "x" },
      ],
    });
  });

  it("takes the union of image pull secrets, and leaves a field the later layer does not set", () => {
    assert.deepEqual(mergePodLayers({ imagePullSecrets: ["a", "b"], runtimeClassName: "gvisor" }, { imagePullSecrets: ["b", "c"], runtimeClassName: undefined }), {
      imagePullSecrets: ["a", "b", "c"],
      runtimeClassName: "gvisor",
    });
  });
});

describe("the pod template file", () => {
  it("reads a Pod, a PodTemplate and a PodTemplateSpec alike, naming its container task", () => {
    const pod = parsePodTemplate("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ignored\n  labels: {team: data}\nspec:\n  containers:\n  - name: main\n    image: ignored\n", "pod.yaml");
    assert.deepEqual(pod.metadata, { labels: { team: "data" } });
    assert.equal((pod.spec.containers as V1Container[])[0]!.name, "task");
    const template = parsePodTemplate("apiVersion: v1\nkind: PodTemplate\nmetadata: {name: t}\ntemplate:\n  metadata: {annotations: {a: b}}\n  spec: {nodeSelector: {disk: ssd}}\n", "t.yaml");
    assert.deepEqual([template.metadata, template.spec], [{ annotations: { a: "b" } }, { nodeSelector: { disk: "ssd" } }]);
    const spec = parsePodTemplate("spec:\n  priorityClassName: batch\n", "s.yaml");
    assert.deepEqual(spec.spec, { priorityClassName: "batch" });
  });

  it("reads YAML as kubectl does: 0644 is octal", () => {
    const t = parsePodTemplate("spec:\n  volumes:\n  - name: cfg\n    configMap: {name: cfg, defaultMode: 0644}\n", "v.yaml");
    assert.equal((t.spec.volumes as any[])[0].configMap.defaultMode, 0o644);
  });

  it("names every problem of a template it cannot use", () => {
    const text = [
      "kind: Pod",
      "metadata:",
      "  finalizers: [x]",
      "  labels: {count: 5}",
      "spec:",
      "  containers:",
      "  - {name: a, image: x}",
      "  - {name: b, image: y}",
      "  initContainers:",
      "  - {name: task, image: x}",
      "  - {name: Bad_Name, image: x, restartPolicy: OnFailure}",
      "  - {name: noimage}",
    ].join("\n");
    let err: unknown;
    try {
      parsePodTemplate(text, "bad.yaml");
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PodTemplateError);
    const message = (err as Error).message;
    assert.match(message, /^the pod template bad\.yaml is not valid \(FERRY_POD_TEMPLATE\):/);
    for (const want of [
      /metadata\.finalizers: Ferry takes only labels and annotations/,
      /metadata\.labels\.count: must be a string \(quote it\)/,
      /spec\.containers: a template has at most one container.*initContainers with restartPolicy: Always/,
      /spec\.initContainers\[0\]\.name: "task" is the task's own container/,
      /spec\.initContainers\[1\]\.name: must be a DNS-1123 label/,
      /spec\.initContainers\[1\]\.restartPolicy: only "Always"/,
      /spec\.initContainers\[2\]\.image: is required/,
    ]) assert.match(message, want);
    assert.throws(() => parsePodTemplate("spec: [\n", "broken.yaml"), /broken\.yaml is not valid[\s\S]*line \d+/);
    assert.throws(() => parsePodTemplate("spec: {}\n---\nspec: {}\n", "two.yaml"), /2 YAML documents/);
    assert.throws(() => parsePodTemplate("kind: Deployment\n", "d.yaml"), /kind: must be Pod or PodTemplate/);
  });
});

const base = { dependsOn: [], retries: 0, retryDelayMs: 0, retryBackoff: "fixed" as const, timeoutMs: null, triggerRule: "all_success" as const };
const ctx = { dagId: "d", runId: "r", taskId: "t", tryNumber: 1, dagVersion: 1, logicalDate: "2026-01-01T00:00:00.000Z", params: { region: "kr" }, tasks: {} };
const settings: PodSpecSettings = { namespace: "ferry", workerImage: "ferry/worker:1", workerBundle: { apiUrl: "http://api:8080", token: "fw_t" } };

const TEMPLATE = `apiVersion: v1
kind: Pod
metadata:
  labels: {team: data, app.kubernetes.io/managed-by: someone-else}
  annotations: {cost-center: "42"}
spec:
  terminationGracePeriodSeconds: 30
  restartPolicy: Always
  nodeSelector: {pool: batch}
  imagePullSecrets: [{name: registry}]
  containers:
  - name: whatever
    image: ignored:1
    command: [should-not-reach-the-worker]
    env:
    - {name: FROM_TEMPLATE, value: "t"}
    - {name: SHARED, value: template}
    - {name: FERRY_DAG_ID, value: forged}
    resources: {limits: {memory: 1Gi}}
  initContainers:
  - name: log-shipper
    image: shipper:1
    restartPolicy: Always
    args: [--to, central]
`;

function env(c: V1Container | undefined): Record<string, unknown> {
  return Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
}

describe("buildPod with a template", () => {
  const template = parsePodTemplate(TEMPLATE, "template.yaml");

  it("lays template, task and Ferry's own fields in order, Ferry's winning", () => {
    const task: TaskDefinition = {
      ...base,
      taskId: "t",
      kind: "pod",
      pod: {
        image: "alpine:3.20",
        command: ["sh", "-c", "echo {{ params.region }}"],
        env: { SHARED: "task", TOKEN: { valueFrom: { secretKeyRef: { name: "creds", key: "token" } } } },
        labels: { team: "ml", "ferry.dev/task": "forged" },
        sidecars: [{ name: "log-shipper", image: "shipper:2" }],
        initContainers: [{ name: "fetch", image: "alpine:3.20", command: ["sh", "-c", "echo fetch {{ logicalDate }}"] }],
        resources: { requests: { "ephemeral-storage": "1Gi" } },
        imagePullSecrets: ["mine"],
      },
    };
    const pod = buildPod(task, ctx, { ...settings, template });
    assert.equal(pod.metadata?.namespace, "ferry");
    assert.match(pod.metadata!.name!, /^d-t-/);
    assert.deepEqual(pod.metadata?.labels, {
      team: "ml",
      "app.kubernetes.io/managed-by": "ferry",
      "ferry.dev/dag": "d",
      "ferry.dev/run": "r",
      "ferry.dev/task": "t",
      "ferry.dev/try": "1",
    });
    assert.equal(pod.metadata?.annotations?.["cost-center"], "42");
    assert.equal(pod.spec?.restartPolicy, "Never");
    assert.equal(pod.spec?.terminationGracePeriodSeconds, 30, "the template's, over Ferry's default of 10");
    assert.deepEqual(pod.spec?.nodeSelector, { pool: "batch" });
    assert.deepEqual(pod.spec?.imagePullSecrets, [{ name: "registry" }, { name: "mine" }]);
    const [main] = pod.spec!.containers;
    assert.equal(pod.spec!.containers.length, 1);
    assert.equal(main!.name, "task");
    assert.equal(main!.image, "alpine:3.20");
    assert.deepEqual(main!.command, ["sh", "-c", "echo kr"]);
    assert.equal(main!.terminationMessagePolicy, "FallbackToLogsOnError");
    assert.deepEqual(env(main), { FROM_TEMPLATE: "t", SHARED: "task", FERRY_DAG_ID: "forged", TOKEN: { secretKeyRef: { name: "creds", key: "token" } } });
    assert.deepEqual(main!.resources, { limits: { memory: "1Gi" }, requests: { "ephemeral-storage": "1Gi" } });
    // The template's sidecar, overridden by the task's by name, then the task's init container after it.
    assert.deepEqual(
      pod.spec!.initContainers!.map((c) => [c.name, c.image, c.restartPolicy, c.args ?? c.command]),
      [
        ["log-shipper", "shipper:2", "Always", ["--to", "central"]],
        ["fetch", "alpine:3.20", undefined, ["sh", "-c", "echo fetch 2026-01-01T00:00:00.000Z"]],
      ],
    );
  });

  it("runs a function task's worker as Ferry's: its image, no command or args, the contract's env", () => {
    const task: TaskDefinition = { ...base, taskId: "t", kind: "function", resources: { limits: { cpu: "1" } }, pod: { env: { SHARED: "fn" }, serviceAccountName: "reader" } };
    const pod = buildPod(task, ctx, { ...settings, template });
    const main = pod.spec!.containers[0]!;
    assert.equal(main.image, "ferry/worker:1");
    assert.equal(main.command, undefined);
    assert.equal(main.args, undefined);
    const vars = env(main);
    assert.equal(vars.FERRY_DAG_ID, "d", "the Pod contract wins over the template");
    assert.equal(vars.SHARED, "fn");
    assert.equal(vars.FROM_TEMPLATE, "t");
    assert.deepEqual(main.resources, { limits: { memory: "1Gi", cpu: "1" } });
    assert.equal(pod.spec?.serviceAccountName, "reader");
    assert.equal(pod.spec?.automountServiceAccountToken, undefined, "a task that names a service account gets its token");
  });

  it("without a template, a Pod is what it was: one container, Ferry's labels, restartPolicy Never", () => {
    const task: TaskDefinition = { ...base, taskId: "t", kind: "pod", pod: { image: "alpine:3.20", command: ["true"] } };
    const pod = buildPod(task, ctx, settings);
    assert.equal(pod.spec?.initContainers, undefined);
    assert.equal(pod.spec?.terminationGracePeriodSeconds, 10);
    assert.deepEqual(Object.keys(pod.metadata!.labels!).sort(), ["app.kubernetes.io/managed-by", "ferry.dev/dag", "ferry.dev/run", "ferry.dev/task", "ferry.dev/try"]);
  });
});


describe("safe defaults", () => {
  const podOf = (pod: Record<string, unknown>, template?: string) =>
    buildPod({ ...base, taskId: "t", kind: "pod", pod: { image: "alpine:3.20", command: ["true"], ...pod } } as TaskDefinition, ctx, {
      ...settings,
      template: template ? parsePodTemplate(template, "t.yaml") : null,
    });

  it("runs every Pod non-root, with RuntimeDefault seccomp, no privilege escalation, no capabilities and no token", () => {
    const pod: V1Pod = podOf({ initContainers: [{ name: "init", image: "x" }], sidecars: [{ name: "side", image: "y" }] });
    assert.deepEqual(pod.spec?.securityContext, { seccompProfile: { type: "RuntimeDefault" }, runAsNonRoot: true });
    for (const c of [...pod.spec!.initContainers!, ...pod.spec!.containers]) {
      assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }, c.name);
    }
    assert.equal(pod.spec?.automountServiceAccountToken, false);
  });

  it("gives way to what the template or the task says", () => {
    const fromTemplate = podOf({}, "spec:\n  automountServiceAccountToken: true\n  securityContext: {runAsNonRoot: false, seccompProfile: {type: Unconfined}}\n");
    assert.deepEqual(fromTemplate.spec?.securityContext, { runAsNonRoot: false, seccompProfile: { type: "Unconfined" } });
    assert.equal(fromTemplate.spec?.automountServiceAccountToken, true);
    const fromTask = podOf({
      podSecurityContext: { runAsUser: 1000, fsGroup: 2000 },
      securityContext: { capabilities: { add: ["NET_BIND_SERVICE"] }, readOnlyRootFilesystem: true },
    });
    assert.deepEqual(fromTask.spec?.securityContext, { runAsUser: 1000, fsGroup: 2000, seccompProfile: { type: "RuntimeDefault" }, runAsNonRoot: true });
    assert.deepEqual(fromTask.spec?.containers[0]!.securityContext, {
      capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
  });

  it("lets a container that asks for root or privileges have them, as Kubernetes would otherwise refuse the Pod", () => {
    const root = podOf({ securityContext: { runAsUser: 0 } });
    assert.equal(root.spec?.containers[0]!.securityContext?.runAsNonRoot, false);
    assert.equal(root.spec?.securityContext?.runAsNonRoot, true, "the other containers still run non-root");
    const podRoot = podOf({ podSecurityContext: { runAsUser: 0 } });
    assert.equal(podRoot.spec?.securityContext?.runAsNonRoot, undefined);
    const privileged = podOf({ securityContext: { privileged: true } });
    assert.equal(privileged.spec?.containers[0]!.securityContext?.allowPrivilegeEscalation, undefined);
    const sysAdmin = podOf({ securityContext: { capabilities: { add: ["SYS_ADMIN"] } } });
    assert.equal(sysAdmin.spec?.containers[0]!.securityContext?.allowPrivilegeEscalation, undefined);
  });
});

describe("the DAG's podDefaults", () => {
  async function definition(source: string) {
    const result = await compileDagFile(source);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
    return result.definition;
  }

  it("are under every task's own fields, compiled into each task; a function task takes no image, command or args from them", async () => {
    const d = await definition(`import { dag, task, podTask } from "ferry";
export default dag("pd", {
  podDefaults: {
    image: "alpine:3.20",
    command: ["sh", "-c", "echo default"],
    env: { REGION: "{{ params.region }}", LEVEL: "info" },
    nodeSelector: { pool: "batch" },
    sidecars: [{ name: "proxy", image: "proxy:1", args: ["--a"] }],
  },
}, () => {
  podTask("p", { env: { LEVEL: "debug" }, nodeSelector: { zone: "a" }, sidecars: [{ name: "proxy", image: "proxy:2" }] });
  task("f", () => 1, { resources: { limits: { memory: "1Gi" } }, env: { EXTRA: "x" } });
});`);
    const p = d.tasks.find((t) => t.taskId === "p")!;
    assert.ok(p.kind === "pod");
    assert.deepEqual(p.pod, {
      image: "alpine:3.20",
      command: ["sh", "-c", "echo default"],
      env: { REGION: "{{ params.region }}", LEVEL: "debug" },
      nodeSelector: { pool: "batch", zone: "a" },
      sidecars: [{ name: "proxy", image: "proxy:2", args: ["--a"] }],
    });
    const f = d.tasks.find((t) => t.taskId === "f")!;
    assert.ok(f.kind === "function");
    assert.deepEqual(f.resources, { limits: { memory: "1Gi" } });
    assert.deepEqual(f.pod, {
      env: { REGION: "{{ params.region }}", LEVEL: "info", EXTRA: "x" },
      nodeSelector: { pool: "batch" },
      sidecars: [{ name: "proxy", image: "proxy:1", args: ["--a"] }],
    });
    const pod = buildPod(f, { ...ctx, taskId: "f" }, settings);
    assert.equal(env(pod.spec!.containers[0]).REGION, "kr", "a function task's Pod fields are templates too");
  });
});
