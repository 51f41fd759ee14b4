// Namespaces: created Active; deleting one marks it Terminating, deletes its pods (gracefully), and
// removes it once it is empty, like the namespace controller. "default" can't be deleted.

import { randomUUID } from "node:crypto";
import { checkDeleteOptions, checkPreconditions, deletePod, type DeleteOptions } from "./pods.ts";
import { rfc3339 } from "./podstatus.ts";
import { alreadyExists, badRequest, forbidden, invalid, notFound } from "./status.ts";
import type { KObject, Store } from "./store.ts";
import { validateNamespace } from "./validation.ts";

const UNDELETABLE = new Set(["default", "kube-system", "kube-public"]);

export function newNamespace(name: string, labels: Record<string, string> = {}): KObject {
  return {
    kind: "Namespace",
    apiVersion: "v1",
    metadata: { name, uid: randomUUID(), creationTimestamp: rfc3339(), labels: { ...labels, "kubernetes.io/metadata.name": name } },
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

export function createNamespace(store: Store, body: any, dryRun: boolean): KObject {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the body of the request was not a valid Namespace object");
  if (body.kind !== undefined && body.kind !== "Namespace")
    throw badRequest(`the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: kind ${body.kind}`);
  const meta = body.metadata ?? {};
  const ns = newNamespace(meta.name ?? "", meta.labels);
  if (meta.annotations) ns.metadata.annotations = meta.annotations;
  const errs = validateNamespace(ns);
  if (errs.length) throw invalid("Namespace", ns.metadata.name, errs);
  if (store.get("namespaces", "", ns.metadata.name)) throw alreadyExists("namespaces", ns.metadata.name);
  if (dryRun) return ns;
  return store.create("namespaces", ns);
}

export function getNamespace(store: Store, name: string): KObject {
  const ns = store.get("namespaces", "", name);
  if (!ns) throw notFound("namespaces", name);
  return ns;
}

export function deleteNamespace(store: Store, name: string, o: DeleteOptions): KObject {
  checkDeleteOptions("DeleteOptions", o);
  const ns = getNamespace(store, name);
  checkPreconditions("namespaces", ns, o);
  if (UNDELETABLE.has(name)) throw forbidden("namespaces", name, "this namespace may not be deleted");
  if (o.dryRun?.includes("All") || ns.metadata.deletionTimestamp) return ns;
  const marked = store.update("namespaces", "", name, (n) => {
    n.metadata.deletionTimestamp = rfc3339();
    n.metadata.deletionGracePeriodSeconds = 0;
    n.status = { phase: "Terminating" };
  })!;
  setImmediate(() => {
    for (const pod of store.list("pods", name)) {
      try {
        deletePod(store, name, pod.metadata.name, {});
      } catch {
        // already gone
      }
    }
    finishIfEmpty(store, name);
  });
  return marked;
}

function finishIfEmpty(store: Store, name: string): void {
  const ns = store.get("namespaces", "", name);
  if (!ns?.metadata.deletionTimestamp || store.list("pods", name).length > 0) return;
  // Like the namespace controller, the namespace's other content (its events, Secrets, ConfigMaps) goes with it.
  for (const resource of ["events", "secrets", "configmaps"] as const) for (const o of store.list(resource, name)) store.remove(resource, name, o.metadata.name);
  store.remove("namespaces", "", name);
}

/** Completes terminating namespaces as their last pod disappears. */
export function watchNamespaceCleanup(store: Store): () => void {
  return store.subscribe((ev) => {
    if (ev.resource === "pods" && ev.type === "DELETED") finishIfEmpty(store, ev.namespace);
  });
}
