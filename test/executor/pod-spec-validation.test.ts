// Pod fields are checked when a DAG is pushed, every problem named with its path (the API answers 422
// with them): a task's own fields, a function task's, and the DAG's podDefaults.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileDagFile, type DagFileError, type DagProblem } from "../../dagfile/index.ts";

const HEADER = `import { dag, task, podTask } from "ferry";\n`;

async function problemsOf(source: string): Promise<DagProblem[]> {
  const result = await compileDagFile(HEADER + source);
  assert.equal(result.ok, false, "expected the DAG to be invalid");
  const error = (result as { ok: false; error: DagFileError }).error;
  assert.equal(error.code, "invalid_dag", error.message);
  return error.problems ?? [];
}

function messageAt(problems: DagProblem[], path: string): string {
  const problem = problems.find((p) => p.path === path);
  assert.ok(problem, `no problem at ${path}; got ${JSON.stringify(problems.map((p) => `${p.path}: ${p.message}`), null, 1)}`);
  return problem.message;
}

describe("pod fields at push time", () => {
  it("accepts every field in its documented shape", async () => {
    const result = await compileDagFile(`${HEADER}export default dag("ok", {
  podDefaults: { nodeSelector: { pool: "batch" }, imagePullSecrets: ["registry"], podSecurityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 } },
}, () => {
  podTask("p", {
    image: "alpine:3.20",
    command: ["sh", "-c", "echo $TOKEN"],
    env: {
      PLAIN: "{{ params.x }}",
      TOKEN: { valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
      MODE: { valueFrom: { configMapKeyRef: { name: "settings", key: "mode", optional: true } } },
      POD: { valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      TEAM: { valueFrom: { fieldRef: { fieldPath: "metadata.labels['team']" } } },
    },
    envFrom: [{ secretRef: { name: "creds" } }, { configMapRef: { name: "settings", optional: true }, prefix: "APP_" }],
    resources: { requests: { cpu: "100m", "ephemeral-storage": "1Gi" }, limits: { memory: "256Mi", "ephemeral-storage": "2Gi", "nvidia.com/gpu": "1" } },
    securityContext: { readOnlyRootFilesystem: true, capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
    priorityClassName: "batch-low",
    runtimeClassName: "gvisor",
    hostAliases: [{ ip: "10.0.0.5", hostnames: ["db.internal"] }],
    automountServiceAccountToken: false,
    volumes: [{ name: "scratch", emptyDir: {} }],
    volumeMounts: [{ name: "scratch", mountPath: "/scratch" }],
    initContainers: [{ name: "fetch", image: "alpine:3.20", command: ["sh", "-c", "echo fetch"], env: { A: "b" }, volumeMounts: [{ name: "scratch", mountPath: "/scratch" }] }],
    sidecars: [{ name: "proxy", image: "proxy:1", args: ["--port", "5432"], securityContext: { runAsUser: 1001 } }],
    labels: { "example.com/team": "data" },
  });
  task("f", () => 1, { serviceAccountName: "reader", env: { A: "b" }, tolerations: [{ key: "gpu", operator: "Exists" }] });
});`);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  });

  it("names each problem with its path", async () => {
    const problems = await problemsOf(`export default dag("bad", {
  podDefaults: { env: { UP: "{{ tasks.f.result }}" }, bogus: 1 } as any,
}, () => {
  task("f", () => 1, { command: ["x"], securityContext: { runAsUser: -1 } } as any);
  podTask("p", {
    image: "alpine:3.20",
    env: {
      "1BAD": "x",
      BOTH: { valueFrom: { secretKeyRef: { name: "s", key: "k" }, fieldRef: { fieldPath: "metadata.name" } } },
      NOKEY: { valueFrom: { secretKeyRef: { name: "s" } } },
      FIELD: { valueFrom: { fieldRef: { fieldPath: "spec.containers" } } },
      NUM: 5,
    },
    envFrom: [{ prefix: "X_" }, { secretRef: { name: "Not_A_Name" } }],
    resources: { limits: { cpus: "1", "ephemeral-storage": "lots" } },
    securityContext: { runAsUser: 1.5, capabilitie: {}, privileged: true, allowPrivilegeEscalation: false },
    podSecurityContext: { seccompProfile: { type: "Localhost" } },
    imagePullSecrets: ["UPPER"],
    priorityClassName: "Not Valid",
    hostAliases: [{ ip: "not-an-ip", hostnames: ["h"] }],
    automountServiceAccountToken: "yes",
    volumes: [{ name: "a", emptyDir: {} }, { name: "a", emptyDir: {} }],
    volumeMounts: [{ mountPath: "/a" }],
    labels: { "bad key!": "v", ok: "not a valid value" },
    initContainers: [{ name: "task", image: "x" }, { name: "setup", image: "x", restartPolicy: "Always" }],
    sidecars: [{ name: "setup", image: "x" }, { name: "noimage" }],
  } as any);
  podTask("noimage", { command: ["true"] } as any);
});`);
    const at = (path: string) => messageAt(problems, path);
    assert.match(at("podDefaults.env.UP"), /refers to a task's result, which podDefaults \(under every task\) cannot/);
    assert.match(at("podDefaults.bogus"), /unknown Pod field "bogus"/);
    assert.match(at("tasks.f.command"), /unknown task option "command"/);
    assert.match(at("tasks.f.securityContext.runAsUser"), /must be an integer of at least 0, got number -1/);
    assert.match(at('tasks.p.env["1BAD"]'), /not a valid env var name/);
    assert.match(at("tasks.p.env.BOTH.valueFrom"), /exactly one source.*got secretKeyRef, fieldRef/);
    assert.match(at("tasks.p.env.NOKEY.valueFrom.secretKeyRef.key"), /is required/);
    assert.match(at("tasks.p.env.FIELD.valueFrom.fieldRef.fieldPath"), /"spec\.containers" is not a field an env var can read/);
    assert.match(at("tasks.p.env.NUM"), /must be a string or \{ valueFrom: \.\.\. \}, got number 5/);
    assert.match(at("tasks.p.envFrom[0]"), /exactly one of secretRef and configMapRef/);
    assert.match(at("tasks.p.envFrom[1].secretRef.name"), /"Not_A_Name" is not a valid Secret name/);
    assert.match(at("tasks.p.resources.limits.cpus"), /unknown resource "cpus".*Did you mean "cpu"/);
    assert.match(at('tasks.p.resources.limits["ephemeral-storage"]'), /"lots" is not a Kubernetes quantity/);
    assert.match(at("tasks.p.securityContext.runAsUser"), /must be an integer/);
    assert.match(at("tasks.p.securityContext.capabilitie"), /unknown securityContext field "capabilitie".*Did you mean "capabilities"/);
    assert.match(at("tasks.p.securityContext.allowPrivilegeEscalation"), /cannot be false with privileged: true/);
    assert.match(at("tasks.p.podSecurityContext.seccompProfile.localhostProfile"), /required with type "Localhost"/);
    assert.match(at("tasks.p.imagePullSecrets[0]"), /"UPPER" is not a valid Secret name/);
    assert.match(at("tasks.p.priorityClassName"), /not a valid priority class name/);
    assert.match(at("tasks.p.hostAliases[0].ip"), /"not-an-ip" is not an IP address/);
    assert.match(at("tasks.p.automountServiceAccountToken"), /must be true or false/);
    assert.match(at("tasks.p.volumes[1].name"), /"a" is given twice/);
    assert.match(at("tasks.p.volumeMounts[0].name"), /is required: the volume to mount/);
    assert.match(at('tasks.p.labels["bad key!"]'), /not a valid label key/);
    assert.match(at("tasks.p.labels.ok"), /not a valid label value/);
    assert.match(at("tasks.p.initContainers[0].name"), /"task" is the task's own container/);
    assert.match(at("tasks.p.initContainers[1].restartPolicy"), /unknown container field "restartPolicy"/);
    assert.match(at("tasks.p.sidecars[0].name"), /"setup" is given twice.*init containers and sidecars together/);
    assert.match(at("tasks.p.sidecars[1].image"), /is required/);
    assert.match(at("tasks.noimage.image"), /is required.*podDefaults\.image/);
  });

  it("takes a pod task's image from the DAG's podDefaults", async () => {
    const result = await compileDagFile(`${HEADER}export default dag("img", { podDefaults: { image: "alpine:3.20" } }, () => {
  podTask("p", { command: ["true"] });
});`);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
    const p = result.definition.tasks[0]!;
    assert.ok(p.kind === "pod" && p.pod.image === "alpine:3.20");
    assert.deepEqual(result.definition.podDefaults, { image: "alpine:3.20" });
  });
});
