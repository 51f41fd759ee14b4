// deploy/kubernetes, rendered as `kubectl apply -k` would send it (test/deploy/kustomize.ts), checked
// against the Kubernetes OpenAPI schemas (test/deploy/k8s-schema.ts) and against what Ferry needs:
// the objects point at each other correctly, the Deployment sets the environment the code reads, runs
// non-root with a restrictive securityContext, sets resources, pins its images, and probes routes the
// API serves.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { compileConfig } from "../../config/config.ts";
import { schemaProblems } from "./k8s-schema.ts";
import { parseYamlDocuments, podSpecsOf, renderKustomization, splitImage, UnsupportedKustomization, type K8sObject } from "./kustomize.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const KUSTOMIZATION_DIR = path.join(ROOT, "deploy/kubernetes");

type Json = Record<string, any>;

const rendered = renderKustomization(KUSTOMIZATION_DIR);

function find(kind: string, name?: string): Json[] {
  return rendered.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name)) as Json[];
}

function one(kind: string): Json {
  const found = find(kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0];
}

const deployment = one("Deployment");
const podSpec = deployment.spec.template.spec as Json;
const containers = [...(podSpec.initContainers ?? []), ...podSpec.containers] as Json[];
const ferry = podSpec.containers[0] as Json;
const literalEnv: Record<string, string> = Object.fromEntries((ferry.env as Json[]).filter((e) => typeof e.value === "string").map((e) => [e.name, e.value]));

/** An image reference pinned to a version: a tag naming at least major.minor (not `latest`, not a floating major like `16`), or a digest. */
function pinnedImage(image: string): boolean {
  const { tag, digest } = splitImage(image);
  if (digest !== null) return /^sha256:[0-9a-f]{64}$/.test(digest);
  return tag !== null && tag !== "latest" && /\d+\.\d+/.test(tag);
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe("deploy/kubernetes renders and matches the Kubernetes schemas", () => {
  it("renders the objects Ferry needs on a cluster", () => {
    const kinds = rendered.map((o) => `${o.kind}/${o.metadata.namespace ? o.metadata.namespace + "/" : ""}${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      "Deployment/ferry/ferry",
      "Namespace/ferry",
      "Namespace/ferry-tasks",
      "NetworkPolicy/ferry-tasks/ferry-tasks-deny-ingress",
      "NetworkPolicy/ferry/ferry",
      "PodDisruptionBudget/ferry/ferry",
      "Role/ferry-tasks/ferry",
      "RoleBinding/ferry-tasks/ferry",
      "Service/ferry/ferry",
      "ServiceAccount/ferry-tasks/default",
      "ServiceAccount/ferry/ferry",
    ]);
  });

  it("every rendered object is valid against the OpenAPI schema, with no unknown field", () => {
    for (const o of rendered) assert.deepEqual(schemaProblems(o), [], `${o.kind} ${o.metadata.name}`);
  });

  it("secret.example.yaml (not applied, a template) is valid too and holds the keys the Deployment expects", () => {
    const [secret] = parseYamlDocuments(readFileSync(path.join(KUSTOMIZATION_DIR, "secret.example.yaml"), "utf8"), "secret.example.yaml") as Json[];
    assert.deepEqual(schemaProblems(secret), []);
    assert.equal(secret.metadata.name, ferry.envFrom[0].secretRef.name);
    assert.equal(secret.metadata.namespace, deployment.metadata.namespace);
    for (const key of ["DATABASE_URL", "FERRY_API_TOKEN"]) assert.ok(key in secret.stringData, key);
  });

  it("the validator rejects broken objects: a wrong type, a missing required field, an unknown field, an unknown kind", () => {
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = "eighty";
    delete broken.spec.selector;
    broken.spec.template.spec.containers[0].livenesProbe = broken.spec.template.spec.containers[0].livenessProbe;
    const problems = schemaProblems(broken).join("\n");
    assert.match(problems, /containerPort must be integer/);
    assert.match(problems, /must have required property selector/);
    assert.match(problems, /containers\[0\]\.livenesProbe: unknown field/);

    const role = structuredClone(one("Role"));
    role.rules[0].verbs = "get";
    assert.match(schemaProblems(role).join("\n"), /verbs must be array/);

    const policy = structuredClone(find("NetworkPolicy", "ferry")[0]);
    policy.spec.policyTypes = ["Sideways"];
    assert.match(schemaProblems(policy).join("\n"), /policyTypes\/0 must be equal to one of the allowed values/);

    assert.match(schemaProblems({ apiVersion: "batch/v1", kind: "CronJob", metadata: { name: "x" } }).join(), /no schema known/);
  });
});

describe("the kustomize renderer", () => {
  function renderWith(kustomization: string, files: Record<string, string> = {}): K8sObject[] {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ferry-kustomize-"));
    try {
      writeFileSync(path.join(dir, "kustomization.yaml"), kustomization);
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
      return renderKustomization(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const head = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";
  const deploymentYaml = `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, labels: {a: b}}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: "registry.local:5000/app:1.0"}, {name: s, image: "other:2"}]}
`;

  it("applies labels (not to selectors) and images as kustomize does", () => {
    const [d] = renderWith(
      head + "resources: [d.yaml]\nlabels: [{pairs: {team: x}, includeTemplates: true}]\nimages: [{name: registry.local:5000/app, newName: r.example/app, newTag: '2.0'}]\n",
      { "d.yaml": deploymentYaml },
    ) as Json[];
    assert.deepEqual(d.metadata.labels, { a: "b", team: "x" });
    assert.deepEqual(d.spec.template.metadata.labels, { a: "b", team: "x" });
    assert.deepEqual(d.spec.selector.matchLabels, { a: "b" });
    assert.deepEqual(d.spec.template.spec.containers.map((c: Json) => c.image), ["r.example/app:2.0", "other:2"]);
  });

  it("refuses what it does not implement instead of rendering it wrongly", () => {
    const cases: Array<[string, RegExp]> = [
      ["namespace: elsewhere\nresources: [d.yaml]\n", /"namespace" is not supported/],
      ["resources: [d.yaml]\npatches: [{path: p.yaml}]\n", /"patches" is not supported/],
      ["resources: [d.yaml]\ncommonLabels: {a: b}\n", /"commonLabels" is not supported/],
      ["resources: [d.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n", /includeSelectors: true are not supported/],
      ["resources: [d.yaml]\nimages: [{name: other, digest: 'sha256:00'}]\n", /"digest" is not supported/],
      ["resources: ['https://github.com/x/y//base']\n", /remote resource/],
      ["resources: [../d.yaml]\n", /not a file beside the kustomization/],
    ];
    for (const [body, expected] of cases) {
      assert.throws(() => renderWith(head + body, { "d.yaml": deploymentYaml }), (err: Error) => err instanceof UnsupportedKustomization && expected.test(err.message), body);
    }
    assert.throws(() => renderWith(head + "resources: [d.yaml, e.yaml]\n", { "d.yaml": deploymentYaml, "e.yaml": deploymentYaml }), /two objects are apps\/Deployment\/\/d/);
    assert.throws(() => renderWith(head + "resources: [d.yaml]\n", { "d.yaml": "a: 1\na: 2\n" }), /Map keys must be unique/);
  });
});

describe("what the Deployment runs", () => {
  it("sets the environment the code reads, and it compiles into a configuration", () => {
    // Every FERRY_* variable the Deployment sets must be one config/config.ts reads (a misspelt name
    // would be silently ignored). FERRY_TASK_NAMESPACE is being added to the code alongside these
    // manifests; until config.ts reads it, it is the one name allowed to be absent there.
    const configSource = readFileSync(path.join(ROOT, "config/config.ts"), "utf8");
    const pending = new Set<string>();
    for (const name of Object.keys(literalEnv).filter((n) => n.startsWith("FERRY_"))) {
      assert.ok(configSource.includes(name) || pending.has(name), `${name} is not read by config/config.ts`);
    }
    // The Secret's two values, as `kubectl create secret` would give them.
    const env = { ...literalEnv, DATABASE_URL: "postgres://ferry:x@postgres.example:5432/ferry", FERRY_API_TOKEN: "0123456789abcdef0123456789abcdef" };
    const config = compileConfig(env, "/app");
    assert.equal(config.kube, "in-cluster");
    assert.deepEqual(config.components, { api: true, scheduler: true, executor: true });
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.port, ferry.ports[0].containerPort);
    assert.equal(config.dataDir, "/data");
    assert.match(config.logStoreUrl, /^s3:\/\//);
    assert.equal(ferry.envFrom[0].secretRef.name, "ferry-secrets");
  });

  it("runs its task Pods in the namespace that holds the Role, and names the worker API by its Service", () => {
    const role = one("Role");
    assert.equal(literalEnv.FERRY_TASK_NAMESPACE, "ferry-tasks");
    assert.equal(literalEnv.FERRY_TASK_NAMESPACE, role.metadata.namespace);
    if (literalEnv.FERRY_NAMESPACE !== undefined) assert.equal(literalEnv.FERRY_NAMESPACE, literalEnv.FERRY_TASK_NAMESPACE);
    assert.ok(find("Namespace", literalEnv.FERRY_TASK_NAMESPACE).length === 1, "the task namespace is created");
    assert.notEqual(deployment.metadata.namespace, literalEnv.FERRY_TASK_NAMESPACE, "Ferry's own Pods are not in the task namespace");

    const service = one("Service");
    const url = new URL(literalEnv.FERRY_WORKER_API_URL);
    assert.equal(url.hostname, `${service.metadata.name}.${service.metadata.namespace}.svc`);
    assert.equal(Number(url.port), service.spec.ports[0].port);
  });

  it("runs non-root with a restrictive securityContext, resources set and pinned images", () => {
    assert.equal(podSpec.securityContext.runAsNonRoot, true);
    assert.ok(podSpec.securityContext.runAsUser > 0);
    assert.equal(podSpec.securityContext.seccompProfile.type, "RuntimeDefault");
    assert.notEqual(podSpec.hostNetwork, true);
    assert.notEqual(podSpec.hostPID, true);
    for (const c of containers) {
      const sc = c.securityContext as Json;
      assert.equal(sc.allowPrivilegeEscalation, false, c.name);
      assert.equal(sc.readOnlyRootFilesystem, true, c.name);
      assert.notEqual(sc.privileged, true, c.name);
      assert.deepEqual(sc.capabilities.drop, ["ALL"], c.name);
      assert.equal(sc.capabilities.add, undefined, c.name);
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory, `${c.name}: requests`);
      assert.ok(c.resources.limits.memory, `${c.name}: memory limit`);
      assert.ok(pinnedImage(c.image), `${c.name}: ${c.image} is not pinned to a version`);
    }
    assert.ok(pinnedImage(literalEnv.FERRY_WORKER_IMAGE), `FERRY_WORKER_IMAGE ${literalEnv.FERRY_WORKER_IMAGE} is not pinned`);
    assert.equal(pinnedImage("ghcr.io/ferry-dev/ferry:latest"), false);
    assert.equal(pinnedImage("ghcr.io/ferry-dev/ferry"), false);
    assert.equal(pinnedImage("registry.local:5000/ferry"), false);
    assert.equal(pinnedImage("ghcr.io/ferry-dev/ferry:0.1.0"), true);
  });

  it("probes /healthz (liveness, startup) and /readyz (readiness), which the API serves", () => {
    const routes = readFileSync(path.join(ROOT, "api/routes/health.ts"), "utf8");
    const portNames = new Set((ferry.ports as Json[]).map((p) => p.name));
    for (const [probe, route] of [["livenessProbe", "/healthz"], ["startupProbe", "/healthz"], ["readinessProbe", "/readyz"]] as const) {
      assert.equal(ferry[probe]?.httpGet?.path, route, probe);
      assert.ok(portNames.has(ferry[probe].httpGet.port), `${probe} names a port of the container`);
      assert.ok(new RegExp(`app\\.get\\(\\s*"${route}"`).test(routes), `api/routes/health.ts serves ${route}`);
    }
  });
});

describe("the objects point at each other", () => {
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;

  it("the Deployment's selector, the Service, the PodDisruptionBudget and the NetworkPolicy select Ferry's Pods", () => {
    assert.ok(selects(deployment.spec.selector.matchLabels, podLabels));
    const service = one("Service");
    assert.ok(selects(service.spec.selector, podLabels));
    assert.ok((ferry.ports as Json[]).some((p) => p.name === service.spec.ports[0].targetPort), "the Service targets a named port of the container");
    const pdb = one("PodDisruptionBudget");
    assert.ok(selects(pdb.spec.selector.matchLabels, podLabels));
    assert.ok(pdb.spec.minAvailable < deployment.spec.replicas, "a drain can still evict one Pod at a time");
    const policy = find("NetworkPolicy", "ferry")[0];
    assert.equal(policy.metadata.namespace, deployment.metadata.namespace);
    assert.ok(selects(policy.spec.podSelector.matchLabels, podLabels));
    assert.deepEqual(policy.spec.ingress.flatMap((r: Json) => r.ports.map((p: Json) => p.port)), [ferry.ports[0].containerPort], "only the API port is open");
  });

  it("the task namespace takes no connections into its Pods", () => {
    const deny = find("NetworkPolicy").filter((p) => p.metadata.namespace === literalEnv.FERRY_TASK_NAMESPACE);
    assert.equal(deny.length, 1);
    assert.deepEqual(deny[0].spec.podSelector, {});
    assert.deepEqual(deny[0].spec.policyTypes, ["Ingress"]);
    assert.equal(deny[0].spec.ingress, undefined);
  });

  it("task Pods get no Kubernetes API token by default", () => {
    const [sa] = find("ServiceAccount", "default").filter((s) => s.metadata.namespace === literalEnv.FERRY_TASK_NAMESPACE);
    assert.equal(sa?.automountServiceAccountToken, false);
  });

  it("the RoleBinding gives the Role to the ServiceAccount the Deployment runs as", () => {
    const [sa] = find("ServiceAccount", podSpec.serviceAccountName);
    assert.ok(sa, "the Deployment's ServiceAccount is created");
    assert.equal(sa.metadata.namespace, deployment.metadata.namespace);
    const binding = one("RoleBinding");
    const role = one("Role");
    assert.equal(binding.metadata.namespace, role.metadata.namespace);
    assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    assert.equal(find("ClusterRole").length + find("ClusterRoleBinding").length, 0, "no cluster-wide rights");
  });

  it("every namespaced object lives in a namespace the kustomization creates", () => {
    const namespaces = new Set(find("Namespace").map((n) => n.metadata.name as string));
    for (const o of rendered.filter((o) => o.kind !== "Namespace")) assert.ok(namespaces.has(o.metadata.namespace ?? ""), `${o.kind} ${o.metadata.name}`);
    for (const ps of rendered.flatMap(podSpecsOf)) assert.ok(ps.serviceAccountName, "no workload runs as the default ServiceAccount");
  });
});
