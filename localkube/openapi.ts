// A minimal OpenAPI v3 document (`/openapi/v3` and `/openapi/v3/api/v1`). kubectl create/apply read it
// to decide whether the server validates fields itself: when the Pod PATCH operation lists the
// `fieldValidation` query parameter, kubectl skips client-side schema validation (which would need
// the much larger /openapi/v2 protobuf document) and sends `fieldValidation=Strict` instead, which
// localkube honours with the Pod schema in schema.ts. The PATCH operation deliberately does not offer
// strategic-merge-patch as a request body, so `kubectl apply` computes its patch from its compiled-in
// types rather than from this partial schema.

import { createHash } from "node:crypto";
import { MINOR } from "./discovery.ts";
import { OBJECT_META, POD, type Schema } from "./schema.ts";

const GVK = (kind: string) => ({ group: "", version: "v1", kind });

function toOpenApi(s: Schema): unknown {
  if (s === "any") return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
  if (typeof s === "string") return { type: s };
  if ("array" in s) return { type: "array", items: toOpenApi(s.array) };
  if ("map" in s) return { type: "object", additionalProperties: toOpenApi(s.map) };
  return { type: "object", properties: Object.fromEntries(Object.entries(s.object).map(([k, v]) => [k, toOpenApi(v)])) };
}

const query = (name: string, type = "string") => ({ name, in: "query", schema: { type, uniqueItems: true } });
const pathParam = (name: string) => ({ name, in: "path", required: true, schema: { type: "string", uniqueItems: true } });
const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });
const ok = (ref: string) => ({ "200": { description: "OK", content: json(ref) } });

function op(kind: string, action: string, id: string, ref: string, extra: Record<string, unknown> = {}) {
  return { operationId: id, responses: ok(ref), "x-kubernetes-action": action, "x-kubernetes-group-version-kind": GVK(kind), ...extra };
}

function resourcePaths(kind: string, plural: string, namespaced: boolean) {
  const ref = `io.k8s.api.core.v1.${kind}`;
  const base = namespaced ? `/api/v1/namespaces/{namespace}/${plural}` : `/api/v1/${plural}`;
  const params = namespaced ? [pathParam("namespace")] : [];
  const write = [query("dryRun"), query("fieldManager"), query("fieldValidation")];
  const id = (verb: string, suffix = "") => `${verb}CoreV1${namespaced ? "Namespaced" : ""}${kind}${suffix}`;
  return {
    [base]: {
      parameters: params,
      get: op(kind, "list", id("list"), `${ref}List`, { parameters: [query("labelSelector"), query("fieldSelector"), query("limit", "integer"), query("continue"), query("watch", "boolean")] }),
      post: op(kind, "post", id("create"), ref, { parameters: write, requestBody: { content: json(ref), required: true } }),
    },
    [`${base}/{name}`]: {
      parameters: [pathParam("name"), ...params],
      get: op(kind, "get", id("read"), ref),
      put: op(kind, "put", id("replace"), ref, { parameters: write, requestBody: { content: json(ref), required: true } }),
      patch: op(kind, "patch", id("patch"), ref, {
        parameters: [...write, query("force", "boolean")],
        requestBody: {
          content: {
            "application/json-patch+json": { schema: { type: "object" } },
            "application/merge-patch+json": { schema: { type: "object" } },
          },
          required: true,
        },
      }),
      delete: op(kind, "delete", id("delete"), ref),
    },
  };
}

function schemas() {
  const withGvk = (kind: string, s: unknown) => ({ ...(s as object), "x-kubernetes-group-version-kind": [GVK(kind)] });
  const list = (kind: string) =>
    withGvk(`${kind}List`, {
      type: "object",
      properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" }, items: { type: "array", items: { $ref: `#/components/schemas/io.k8s.api.core.v1.${kind}` } } },
    });
  return {
    "io.k8s.api.core.v1.Pod": withGvk("Pod", toOpenApi(POD)),
    "io.k8s.api.core.v1.PodList": list("Pod"),
    "io.k8s.api.core.v1.Namespace": withGvk("Namespace", toOpenApi({ object: { apiVersion: "string", kind: "string", metadata: OBJECT_META, spec: "any", status: "any" } })),
    "io.k8s.api.core.v1.NamespaceList": list("Namespace"),
  };
}

let cached: { text: string; hash: string } | undefined;

/** The `api/v1` group-version document, built once. */
export function coreV1Document(): { text: string; hash: string } {
  if (!cached) {
    const doc = {
      openapi: "3.0.0",
      info: { title: "Kubernetes", version: `v1.${MINOR}.0` },
      paths: { ...resourcePaths("Pod", "pods", true), ...resourcePaths("Namespace", "namespaces", false) },
      components: { schemas: schemas() },
    };
    const text = JSON.stringify(doc);
    cached = { text, hash: createHash("sha512").update(text).digest("hex").toUpperCase() };
  }
  return cached;
}

/** `/openapi/v3`: where each group-version's document lives (the hash lets clients cache it). */
export function openApiIndex() {
  return { paths: { "api/v1": { serverRelativeURL: `/openapi/v3/api/v1?hash=${coreV1Document().hash}` } } };
}
