// The Role in deploy/kubernetes grants exactly what Ferry's code asks of the Kubernetes API: every
// @kubernetes/client-node call in Ferry's sources (outside test/, bench/ and localkube/, which is the
// API server, not a client of one) is mapped to the resource and verb the API server authorizes it as,
// and the set is compared with the Role's rules both ways. Ferry reaches the API only through the Kube
// handle of executor/kube.ts (kube.core: CoreV1Api methods, kube.watch.watch: watches, kube.logs.log:
// the log follower), which is what is read here. A call this scanner cannot map (another API group, a
// cluster-wide list, exec, port-forward, a watch of a computed path) fails the test until it is mapped
// here and granted there. The list of what Ferry needs is written once, in executor/permissions.ts
// (`ferry doctor` asks the API server about each entry), and both the code and the Role must equal it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { FERRY_PERMISSIONS } from "../../executor/permissions.ts";
import { renderKustomization } from "./kustomize.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SKIPPED = new Set(["node_modules", "dist", "test", "bench", "localkube", ".git", ".ferry"]);
// `ferry doctor` checks a setup rather than running tasks: it asks for the server's version and for
// SelfSubjectAccessReviews (both granted to every authenticated user by Kubernetes' default
// ClusterRoles system:public-info-viewer and system:basic-user) and reads the namespaces (it reports,
// without failing, when that is refused). None of that is for Ferry's Role to grant.
const SKIPPED_FILES = new Set(["cli/doctor-kube.ts"]);

/** "apiGroup resource verb", e.g. " pods get" for the core group. */
type Permission = string;
const permission = (group: string, resource: string, verb: string): Permission => `${group} ${resource} ${verb}`;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || SKIPPED.has(entry.name)) continue;
    const p = path.join(dir, entry.name);
    if (SKIPPED_FILES.has(path.relative(ROOT, p))) continue;
    if (entry.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Method-name prefix of the generated CoreV1Api → the verb the API server authorizes. */
const VERBS: Record<string, string> = {
  create: "create",
  read: "get",
  list: "list",
  patch: "patch",
  replace: "update",
  delete: "delete",
  deleteCollection: "deletecollection",
};
/** Kind in a CoreV1Api method name → its resource (and subresource). */
const RESOURCES: Record<string, string> = {
  Pod: "pods",
  PodLog: "pods/log",
  PodStatus: "pods/status",
  PodEviction: "pods/eviction",
  Event: "events",
  ConfigMap: "configmaps",
  Secret: "secrets",
  Service: "services",
  ServiceAccount: "serviceaccounts",
  PersistentVolumeClaim: "persistentvolumeclaims",
};

export interface Scan {
  permissions: Map<Permission, string[]>; // → where
  unmapped: string[];
}

/** Reads the Kubernetes calls out of source text. */
export function scanSource(text: string, file: string, scan: Scan): void {
  const add = (p: Permission, at: string) => scan.permissions.set(p, [...(scan.permissions.get(p) ?? []), at]);
  const line = (index: number) => `${file}:${text.slice(0, index).split("\n").length}`;

  // The API classes Ferry builds: only CoreV1Api is mapped below.
  for (const m of text.matchAll(/makeApiClient\(\s*(?:k8s\.)?(\w+)\s*\)/g)) {
    if (m[1] !== "CoreV1Api") scan.unmapped.push(`${line(m.index)}: makeApiClient(${m[1]})`);
  }
  for (const m of text.matchAll(/new\s+k8s\.(Exec|Attach|PortForward|Cp|Metrics|Informer|ListWatch|KubernetesObjectApi)\b/g)) {
    scan.unmapped.push(`${line(m.index)}: new k8s.${m[1]}`);
  }
  for (const m of text.matchAll(/\bmakeInformer\s*\(|\bKubernetesObjectApi\b/g)) scan.unmapped.push(`${line(m.index)}: ${m[0]}`);

  // Calls of the CoreV1Api's methods, whatever holds the API (kube.core, a local alias):
  // createNamespacedPod(...), readNamespacedPodLog(...), listNamespacedEvent(...), ...
  const NAMESPACED = /^(create|read|list|patch|replace|deleteCollection|delete)Namespaced(\w+)$/;
  for (const m of text.matchAll(/\b((?:create|read|list|patch|replace|deleteCollection|delete)Namespaced\w+)\s*\(/g)) {
    const method = NAMESPACED.exec(m[1])!;
    const verb = VERBS[method[1]];
    const resource = RESOURCES[method[2]];
    if (!verb || !resource) scan.unmapped.push(`${line(m.index)}: ${m[1]} (a kind this test does not map)`);
    else add(permission("", resource, verb), line(m.index));
  }
  // Any other method called on the API (cluster-wide lists, nodes, namespaces, ...) is not mapped.
  for (const m of text.matchAll(/\.core\s*\.\s*(\w+)\s*\(|\b(\w+ForAllNamespaces)\s*\(/g)) {
    const name = m[1] ?? m[2];
    if (!NAMESPACED.test(name)) scan.unmapped.push(`${line(m.index)}: ${name} (not a namespaced call this test can map)`);
  }

  // Watches: kube.watch.watch(`/api/v1/namespaces/${ns}/pods`, ...)
  for (const m of text.matchAll(/\.watch\s*\.\s*watch\s*\(\s*([`'"])([^`'"]*)\1/g)) {
    const pathMatch = /^\/api\/v1\/namespaces\/\$\{[^}]+\}\/(\w+)$/.exec(m[2]);
    if (!pathMatch) scan.unmapped.push(`${line(m.index)}: watch of ${m[2]} (only namespaced core resources are mapped)`);
    else add(permission("", pathMatch[1], "watch"), line(m.index));
  }
  for (const m of text.matchAll(/\.watch\s*\.\s*watch\s*\(\s*(?![\s`'"])/g)) scan.unmapped.push(`${line(m.index)}: watch of a path that is not a literal`);

  // The log follower (k8s.Log): kube.logs.log(namespace, pod, container, ...) is GET pods/log.
  for (const m of text.matchAll(/\.logs\s*\.\s*log\s*\(/g)) add(permission("", "pods/log", "get"), line(m.index));
}

function scanFerry(): Scan {
  const scan: Scan = { permissions: new Map(), unmapped: [] };
  for (const file of sourceFiles(ROOT)) scanSource(readFileSync(file, "utf8"), path.relative(ROOT, file), scan);
  return scan;
}

function roleGrants(rules: Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }>): Set<Permission> {
  const granted = new Set<Permission>();
  for (const rule of rules) {
    assert.equal(rule.resourceNames, undefined, "rules by resource name are not mapped here");
    assert.equal(rule.nonResourceURLs, undefined);
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) {
          assert.ok(group !== "*" && resource !== "*" && verb !== "*", "no wildcard in the Role");
          granted.add(permission(group, resource, verb));
        }
      }
    }
  }
  return granted;
}

describe("RBAC: the Role grants exactly what the code calls", () => {
  const role = renderKustomization(path.join(ROOT, "deploy/kubernetes")).find((o) => o.kind === "Role") as unknown as {
    rules: Parameters<typeof roleGrants>[0];
  };
  const scan = scanFerry();

  it("finds Ferry's Kubernetes calls, and every one of them is understood", () => {
    assert.deepEqual(scan.unmapped, []);
    // The calls the executor and the API make today (a floor, so a scanner that finds nothing fails).
    for (const p of [" pods create", " pods get", " pods list", " pods watch", " pods patch", " pods delete", " pods/log get", " events list"]) {
      assert.ok(scan.permissions.has(p), `expected the code to use ${p.trim()}`);
    }
  });

  it("the code uses exactly the permissions executor/permissions.ts lists", () => {
    const listed = new Set(FERRY_PERMISSIONS.map((p) => permission(p.group, p.resource, p.verb)));
    assert.equal(listed.size, FERRY_PERMISSIONS.length, "no permission listed twice");
    const used = new Set(scan.permissions.keys());
    const unlisted = [...used].filter((p) => !listed.has(p)).map((p) => `${p.trim()} (used at ${scan.permissions.get(p)!.join(", ")})`);
    const unused = [...listed].filter((p) => !used.has(p)).map((p) => p.trim());
    assert.deepEqual({ unlisted, unused }, { unlisted: [], unused: [] });
  });

  it("the Role grants exactly the permissions executor/permissions.ts lists", () => {
    const listed = new Set(FERRY_PERMISSIONS.map((p) => permission(p.group, p.resource, p.verb)));
    const granted = roleGrants(role.rules);
    const missing = [...listed].filter((p) => !granted.has(p)).map((p) => p.trim());
    const extra = [...granted].filter((p) => !listed.has(p)).map((p) => p.trim());
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
  });

  it("the scanner maps calls to verbs, and notices what it cannot map", () => {
    const scan: Scan = { permissions: new Map(), unmapped: [] };
    scanSource(
      [
        "await kube.core.createNamespacedPod({ namespace, body });",
        "await this.kube.core.readNamespacedPodLog({ name, namespace });",
        "await kube.core.deleteCollectionNamespacedPod({ namespace });",
        "this.kube.watch.watch(`/api/v1/namespaces/${ns}/events`, {}, cb, done);",
        "await kube.logs.log(ns, pod, container, sink, {});",
        "await kube.core.listPodForAllNamespaces();",
        "const core = kube.core; await core.listNamespacedEvent({ namespace });",
        "await kube.core.readNamespacedConfigMapStatus({ name, namespace });",
        "this.kube.watch.watch(`/apis/batch/v1/namespaces/${ns}/jobs`, {}, cb, done);",
        "const batch = config.makeApiClient(k8s.BatchV1Api);",
        "const exec = new k8s.Exec(config);",
        "kube.watch.watch(somePath, {}, cb, done);",
      ].join("\n"),
      "example.ts",
      scan,
    );
    assert.deepEqual([...scan.permissions.keys()].sort(), [" events list", " events watch", " pods create", " pods deletecollection", " pods/log get"]);
    assert.equal(scan.unmapped.length, 6, scan.unmapped.join("\n"));

    // And the comparison fails both ways.
    const granted = roleGrants([{ apiGroups: [""], resources: ["pods"], verbs: ["create", "escalate"] }]);
    assert.deepEqual([...granted].filter((p) => !scan.permissions.has(p)), [" pods escalate"]);
    assert.deepEqual([...scan.permissions.keys()].filter((p) => !granted.has(p)).sort(), [" events list", " events watch", " pods deletecollection", " pods/log get"]);
  });
});
