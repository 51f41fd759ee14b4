// What Ferry asks of the Kubernetes API in each namespace it runs tasks in, written once. Three things
// must agree with it, and test/deploy/rbac.test.ts holds them to it: the calls in Ferry's sources (it
// scans them), the Role in deploy/kubernetes/rbac.yaml (it renders it), and `ferry doctor`, which asks
// the API server (SelfSubjectAccessReview) whether each of these is granted.

export interface KubePermission {
  /** The API group; "" for the core group. */
  group: string;
  /** As RBAC spells it: `pods`, or `pods/log` for a subresource. */
  resource: string;
  verb: string;
  /** What Ferry does with it, for messages. */
  why: string;
}

export const FERRY_PERMISSIONS: readonly KubePermission[] = [
  { group: "", resource: "pods", verb: "create", why: "start a task try's Pod" },
  { group: "", resource: "pods", verb: "get", why: "adopt a Pod after a restart" },
  { group: "", resource: "pods", verb: "list", why: "follow Pods (pod watcher, sweeper)" },
  { group: "", resource: "pods", verb: "watch", why: "follow Pods (pod watcher)" },
  { group: "", resource: "pods", verb: "patch", why: "stop a cancelled try's Pod" },
  { group: "", resource: "pods", verb: "delete", why: "remove a finished try's Pod" },
  { group: "", resource: "pods/log", verb: "get", why: "ship a Pod's log to the log store" },
  { group: "", resource: "events", verb: "list", why: "keep a Pod's Events in its try's account" },
];

/** `pods/log` → the resource and subresource a SelfSubjectAccessReview names. */
export function splitResource(resource: string): { resource: string; subresource?: string } {
  const [main, sub] = resource.split("/", 2) as [string, string | undefined];
  return sub ? { resource: main, subresource: sub } : { resource: main };
}

/** `pods create`, `pods/log get`, with the group when it is not the core one. */
export function describePermission(p: Pick<KubePermission, "group" | "resource" | "verb">): string {
  return `${p.resource}${p.group ? `.${p.group}` : ""} ${p.verb}`;
}
