// Secrets and ConfigMaps, as far as a Pod's environment needs them: create, get, list, watch and delete,
// namespaced, with the API server's decoding (`stringData` folded into `data`, base64 checked), its
// validation wording, and its delete answer (a Status, not the object). The kubelet (runtime.ts) reads
// them when it makes a container's environment (podenv.ts). Updates (PUT, PATCH) are not served.

import { randomUUID } from "node:crypto";
import { checkBodyMeta, checkDeleteOptions, checkPreconditions, generateName, requireNamespace, type DeleteOptions } from "./pods.ts";
import { rfc3339 } from "./podstatus.ts";
import { alreadyExists, badRequest, fieldErr, forbidden, invalid, notFound, type FieldError } from "./status.ts";
import type { KObject, Store } from "./store.ts";
import { subdomainErrors, validateObjectMeta } from "./validation.ts";

export type ConfigResource = "secrets" | "configmaps";

const KIND: Record<ConfigResource, string> = { secrets: "Secret", configmaps: "ConfigMap" };
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const MAX_TOTAL = 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Where Go's base64 decoder stops, as its error says it (`illegal base64 data at input byte N`); -1 when it decodes. */
function base64Error(value: string): number {
  if (value.length % 4 !== 0 || !BASE64.test(value)) {
    const bad = value.search(/[^A-Za-z0-9+/=]/);
    return bad >= 0 ? bad : Math.max(0, value.length - (value.length % 4 || 4));
  }
  return -1;
}

function keyErrors(path: string, map: unknown): FieldError[] {
  const errs: FieldError[] = [];
  if (map === undefined || map === null) return errs;
  for (const key of Object.keys(map as object)) {
    if (!CONFIG_KEY.test(key)) errs.push(fieldErr.invalid(`${path}[${key}]`, key, CONFIG_KEY_MSG));
    else if (key.length > 253) errs.push(fieldErr.invalid(`${path}[${key}]`, key, "must be no more than 253 characters"));
  }
  return errs;
}

/** The decoder's work: string maps, base64 values, and a Secret's stringData written into its data. */
function decode(resource: ConfigResource, body: any): void {
  const kind = KIND[resource];
  const cannot = (why: string) => badRequest(`${kind} in version "v1" cannot be handled as a ${kind}: ${why}`);
  const binary = resource === "secrets" ? ["data"] : ["binaryData"];
  const text = resource === "secrets" ? ["stringData"] : ["data"];
  for (const field of [...binary, ...text]) {
    const map = body[field];
    if (map === undefined || map === null) continue;
    if (typeof map !== "object" || Array.isArray(map)) throw cannot(`json: cannot unmarshal ${Array.isArray(map) ? "array" : typeof map} into Go struct field ${kind}.${field} of type map[string]${binary.includes(field) ? "[]uint8" : "string"}`);
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== "string") throw cannot(`json: cannot unmarshal ${typeof v} into Go struct field ${kind}.${field} of type ${binary.includes(field) ? "[]uint8" : "string"}`);
      if (binary.includes(field)) {
        const at = base64Error(v);
        if (at >= 0) throw cannot(`illegal base64 data at input byte ${at}`);
      }
      void k;
    }
  }
  if (resource === "secrets" && body.stringData) {
    body.data ??= {};
    for (const [k, v] of Object.entries(body.stringData)) body.data[k] = Buffer.from(String(v), "utf8").toString("base64");
    delete body.stringData;
  }
}

function validate(resource: ConfigResource, o: KObject): FieldError[] {
  const errs = validateObjectMeta(o.metadata, subdomainErrors);
  let total = 0;
  if (resource === "secrets") {
    errs.push(...keyErrors("data", o.data));
    for (const v of Object.values(o.data ?? {})) total += Buffer.from(String(v), "base64").length;
    if (total > MAX_TOTAL) errs.push({ type: "FieldValueTooLong", field: "data", body: `Too long: must have at most ${MAX_TOTAL} bytes` });
  } else {
    errs.push(...keyErrors("data", o.data), ...keyErrors("binaryData", o.binaryData));
    for (const key of Object.keys(o.binaryData ?? {})) {
      if (o.data && Object.prototype.hasOwnProperty.call(o.data, key)) errs.push(fieldErr.invalid(`binaryData[${key}]`, key, "duplicate of key present in data"));
    }
    for (const [k, v] of Object.entries(o.data ?? {})) total += k.length + String(v).length;
    for (const [k, v] of Object.entries(o.binaryData ?? {})) total += k.length + Buffer.from(String(v), "base64").length;
    if (total > MAX_TOTAL) errs.push({ type: "FieldValueTooLong", field: "", body: `Too long: must have at most ${MAX_TOTAL} bytes` });
  }
  if (o.immutable !== undefined && typeof o.immutable !== "boolean") errs.push(fieldErr.invalid("immutable", o.immutable, "must be a boolean"));
  return errs;
}

export function createConfig(store: Store, resource: ConfigResource, ns: string, body: any, dryRun: boolean): KObject {
  const kind = KIND[resource];
  checkBodyMeta(body, kind, ns);
  decode(resource, body);
  const nsObj = requireNamespace(store, ns);
  const meta = body.metadata;
  if (!meta.name && meta.generateName) {
    do meta.name = generateName(String(meta.generateName));
    while (store.get(resource, ns, meta.name));
  }
  if (nsObj.metadata.deletionTimestamp) throw forbidden(resource, meta.name ?? "", `unable to create new content in namespace ${ns} because it is being terminated`);
  const o: KObject = { kind, apiVersion: "v1", metadata: { ...meta, namespace: ns, uid: randomUUID(), creationTimestamp: rfc3339() } };
  for (const k of ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields", "generation"]) delete o.metadata[k];
  if (resource === "secrets") {
    o.type = body.type || "Opaque";
    if (body.data && Object.keys(body.data).length > 0) o.data = body.data;
  } else {
    if (body.data && Object.keys(body.data).length > 0) o.data = body.data;
    if (body.binaryData && Object.keys(body.binaryData).length > 0) o.binaryData = body.binaryData;
  }
  if (body.immutable !== undefined) o.immutable = body.immutable;
  const errs = validate(resource, o);
  if (errs.length) throw invalid(kind, meta.name ?? "", errs);
  if (store.get(resource, ns, o.metadata.name)) throw alreadyExists(resource, o.metadata.name);
  if (dryRun) return { ...o, metadata: { ...o.metadata, resourceVersion: String(store.resourceVersion) } };
  return store.create(resource, o);
}

export function getConfig(store: Store, resource: ConfigResource, ns: string, name: string): KObject {
  const o = store.get(resource, ns, name);
  if (!o) throw notFound(resource, name);
  return o;
}

/** Deleted at once (no finalizers here); the answer is a Status, as the API server's generic store gives. */
export function deleteConfig(store: Store, resource: ConfigResource, ns: string, name: string, opts: DeleteOptions): unknown {
  checkDeleteOptions("DeleteOptions", opts);
  const o = getConfig(store, resource, ns, name);
  checkPreconditions(resource, o, opts);
  if (!opts.dryRun?.includes("All")) store.remove(resource, ns, name);
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, kind: resource, uid: o.metadata.uid } };
}
