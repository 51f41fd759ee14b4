// The Pod resource: create/get/update/delete and the log subresource, with the API server's defaulting,
// validation order and graceful-deletion rules (pkg/registry/core/pod, apiserver/pkg/registry/rest).

import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { nowNs, streamLog, type LogOptions } from "./logs.ts";
import { applyPatch } from "./patch.ts";
import { isTerminal, qosClass, rfc3339 } from "./podstatus.ts";
import type { Runtime } from "./runtime.ts";
import { alreadyExists, badRequest, conflict, fieldErr, forbidden, invalid, notFound, OPTIMISTIC_LOCK_MSG, type FieldError } from "./status.ts";
import type { KObject, Store } from "./store.ts";
import { validatePod } from "./validation.ts";
import { decodePod, LENIENT, type DecodeOptions } from "./decode.ts";
import { defaultResources } from "./resources.ts";

const GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function generateName(base: string): string {
  let s = base.slice(0, 58);
  for (let i = 0; i < 5; i++) s += GEN_ALPHABET[Math.floor(Math.random() * GEN_ALPHABET.length)];
  return s;
}

export function requireNamespace(store: Store, ns: string): KObject {
  const n = store.get("namespaces", "", ns);
  if (!n) throw notFound("namespaces", ns);
  return n;
}

export function checkBodyMeta(body: any, kind: string, ns: string | undefined): void {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest(`the body of the request was not a valid ${kind} object`);
  if (body.kind !== undefined && body.kind !== kind)
    throw badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: kind ${body.kind} (${body.apiVersion ?? ""})`);
  if (body.apiVersion !== undefined && body.apiVersion !== "v1") throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (v1)`);
  body.metadata ??= {};
  if (ns !== undefined && body.metadata.namespace && body.metadata.namespace !== ns)
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
}

function defaultPod(pod: KObject): void {
  const spec = (pod.spec ??= {});
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) return;
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  spec.priority ??= 0;
  spec.preemptionPolicy ??= "PreemptLowerPriority";
  spec.serviceAccountName ??= spec.serviceAccount ?? "default";
  spec.serviceAccount = spec.serviceAccountName;
  spec.tolerations ??= [
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
  ];
  for (const c of [...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.containers) ? spec.containers : [])]) {
    if (!c || typeof c !== "object") continue;
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    c.resources ??= {};
    if (c.imagePullPolicy === undefined && typeof c.image === "string") {
      const last = c.image.split("/").pop() ?? "";
      const tag = last.includes("@") ? "digest" : last.includes(":") ? last.split(":").pop() : "latest";
      c.imagePullPolicy = tag === "latest" ? "Always" : "IfNotPresent";
    }
  }
  defaultResources(pod);
}

export function createPod(store: Store, ns: string, body: any, dryRun: boolean, decode: DecodeOptions = LENIENT): KObject {
  checkBodyMeta(body, "Pod", ns);
  decodePod(body, decode);
  const nsObj = requireNamespace(store, ns);
  const meta = body.metadata;
  if (!meta.name && meta.generateName) {
    do meta.name = generateName(String(meta.generateName));
    while (store.get("pods", ns, meta.name));
  }
  if (nsObj.metadata.deletionTimestamp)
    throw forbidden("pods", meta.name ?? "", `unable to create new content in namespace ${ns} because it is being terminated`);
  const pod: KObject = {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { ...meta, namespace: ns, uid: randomUUID(), creationTimestamp: rfc3339(), generation: 1 },
    spec: body.spec,
  };
  for (const k of ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"]) delete pod.metadata[k];
  defaultPod(pod);
  const errs = validatePod(pod);
  if (errs.length) throw invalid("Pod", meta.name ?? "", errs);
  if (store.get("pods", ns, pod.metadata.name)) throw alreadyExists("pods", pod.metadata.name);
  pod.status = { phase: "Pending", qosClass: qosClass(pod) };
  if (dryRun) return { ...pod, metadata: { ...pod.metadata, resourceVersion: String(store.resourceVersion) } };
  return store.create("pods", pod);
}

export function getPod(store: Store, ns: string, name: string): KObject {
  const pod = store.get("pods", ns, name);
  if (!pod) throw notFound("pods", name);
  return pod;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

export function checkDeleteOptions(kind: string, o: DeleteOptions): void {
  const errs: FieldError[] = [];
  const policies = ["Foreground", "Background", "Orphan"];
  if (o.propagationPolicy !== undefined && o.propagationPolicy !== null && !policies.includes(o.propagationPolicy))
    errs.push(fieldErr.notSupported("propagationPolicy", o.propagationPolicy, [...policies, "nil"]));
  if (o.gracePeriodSeconds !== undefined && o.gracePeriodSeconds !== null && !Number.isInteger(o.gracePeriodSeconds))
    errs.push(fieldErr.invalid("gracePeriodSeconds", o.gracePeriodSeconds, "must be an integer"));
  if (errs.length) throw invalid(kind, "", errs);
}

export function checkPreconditions(resource: string, obj: KObject, o: DeleteOptions): void {
  const p = o.preconditions;
  if (p?.uid && p.uid !== obj.metadata.uid)
    throw conflict(resource, obj.metadata.name, `Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${obj.metadata.uid}`);
  if (p?.resourceVersion && p.resourceVersion !== obj.metadata.resourceVersion)
    throw conflict(resource, obj.metadata.name, `Precondition failed: ResourceVersion in precondition: ${p.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`);
}

export function deletePod(store: Store, ns: string, name: string, o: DeleteOptions): KObject {
  checkDeleteOptions("DeleteOptions", o);
  const pod = getPod(store, ns, name);
  checkPreconditions("pods", pod, o);
  if (o.dryRun?.includes("All")) return pod;
  let grace = o.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
  if (grace < 0) grace = 1;
  // Nothing runs for an unscheduled or finished pod, so there is nothing to wait for.
  if (!pod.spec.nodeName || isTerminal(pod)) grace = 0;
  if (pod.metadata.deletionTimestamp && grace >= (pod.metadata.deletionGracePeriodSeconds ?? 0)) return pod;
  if (grace === 0) return store.remove("pods", ns, name)!;
  return store.update("pods", ns, name, (p) => {
    p.metadata.deletionTimestamp = rfc3339(Date.now() + grace * 1000);
    p.metadata.deletionGracePeriodSeconds = grace;
  })!;
}

const SPEC_FORBIDDEN =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** PUT or PATCH: only metadata labels/annotations/ownerReferences may change; status is kept. */
export function updatePod(store: Store, ns: string, name: string, change: (cur: KObject) => any, isPut: boolean, decode: DecodeOptions = LENIENT): KObject {
  const cur = getPod(store, ns, name);
  const next = change(structuredClone(cur));
  checkBodyMeta(next, "Pod", ns);
  decodePod(next, decode);
  // As the API server does, defaults apply to the new object before it is compared and validated.
  if (next.spec && typeof next.spec === "object") defaultPod(next);
  if (next.metadata.name !== undefined && next.metadata.name !== name)
    throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
  if (next.metadata.resourceVersion && next.metadata.resourceVersion !== cur.metadata.resourceVersion) throw conflict("pods", name, OPTIMISTIC_LOCK_MSG);
  if (next.metadata.uid && next.metadata.uid !== cur.metadata.uid)
    throw conflict("pods", name, `Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${cur.metadata.uid}`);
  const nextSpec = next.spec ?? (isPut ? undefined : cur.spec);
  // Of the mutable spec fields a real server allows, Ferry uses activeDeadlineSeconds (to stop a Pod
  // but keep it, and its log, until the log is stored); the others still answer 422.
  const deadline = nextSpec && typeof nextSpec === "object" ? nextSpec.activeDeadlineSeconds : undefined;
  if (!deepEqual({ ...nextSpec, activeDeadlineSeconds: undefined }, { ...cur.spec, activeDeadlineSeconds: undefined }))
    throw invalid("Pod", name, [fieldErr.forbidden("spec", SPEC_FORBIDDEN)]);
  const deadlineErrs = activeDeadlineUpdateErrors(cur.spec.activeDeadlineSeconds, deadline);
  if (deadlineErrs.length) throw invalid("Pod", name, deadlineErrs);
  const errs = validatePod({ ...cur, metadata: { ...cur.metadata, labels: next.metadata.labels, annotations: next.metadata.annotations } });
  if (errs.length) throw invalid("Pod", name, errs);
  return store.update("pods", ns, name, (p) => {
    const same =
      ["labels", "annotations", "ownerReferences"].every((k) => deepEqual(p.metadata[k], next.metadata[k])) && p.spec.activeDeadlineSeconds === deadline;
    if (same) return false;
    for (const k of ["labels", "annotations", "ownerReferences"]) {
      if (next.metadata[k] === undefined) delete p.metadata[k];
      else p.metadata[k] = next.metadata[k];
    }
    if (deadline === undefined || deadline === null) delete p.spec.activeDeadlineSeconds;
    else p.spec.activeDeadlineSeconds = deadline;
  })!;
}

/** As ValidatePodUpdate: a deadline may be set or lowered, never raised or removed. */
function activeDeadlineUpdateErrors(old: unknown, next: unknown): ReturnType<typeof fieldErr.invalid>[] {
  const path = "spec.activeDeadlineSeconds";
  if (next === undefined || next === null) {
    return old === undefined || old === null ? [] : [fieldErr.invalid(path, null, "must not update from a positive integer to nil value")];
  }
  if (typeof next !== "number" || !Number.isInteger(next) || next < 1 || next > 2147483647) {
    return [fieldErr.invalid(path, next, "must be between 1 and 2147483647, inclusive")];
  }
  if (typeof old === "number" && next > old) return [fieldErr.invalid(path, next, "must be less than or equal to previous value")];
  return [];
}

function deepEqual(a: any, b: any): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

export function patchPod(store: Store, ns: string, name: string, contentType: string, body: unknown, decode: DecodeOptions = LENIENT): KObject {
  return updatePod(store, ns, name, (cur) => applyPatch(cur, contentType, body), false, decode);
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`couldn't parse '${name}': invalid integer ${JSON.stringify(v)}`);
  return Number(v);
}

const boolParam = (q: URLSearchParams, name: string) => q.get(name) === "true" || q.get(name) === "1";

/** GET .../pods/{name}/log. Errors are thrown before any byte is written. */
export async function podLog(
  store: Store,
  runtime: Runtime,
  ns: string,
  name: string,
  q: URLSearchParams,
  res: ServerResponse,
  /** The logFollowHangs fault: a follow stream stays open, silent, after the container ended. */
  hangAtEnd = false,
): Promise<void> {
  const pod = getPod(store, ns, name);
  // Without ?container= the Pod's one container (localkube runs one, beside its init containers and sidecars).
  const cname: string = q.get("container") || pod.spec.containers[0].name;
  const inits: string[] = (pod.spec.initContainers ?? []).map((c: any) => c.name);
  if (cname !== pod.spec.containers[0].name && !inits.includes(cname)) throw badRequest(`container ${cname} is not valid for pod ${name}`);
  const tailLines = intParam(q, "tailLines");
  const limitBytes = intParam(q, "limitBytes");
  const sinceSeconds = intParam(q, "sinceSeconds");
  const sinceTime = q.get("sinceTime") || undefined;
  const errs: FieldError[] = [];
  if (tailLines !== undefined && tailLines < 0) errs.push(fieldErr.invalid("tailLines", tailLines, "must be greater than or equal to 0"));
  if (limitBytes !== undefined && limitBytes < 1) errs.push(fieldErr.invalid("limitBytes", limitBytes, "must be greater than 0"));
  if (sinceSeconds !== undefined && sinceSeconds < 1) errs.push(fieldErr.invalid("sinceSeconds", sinceSeconds, "must be greater than 0"));
  if (sinceSeconds !== undefined && sinceTime) errs.push(fieldErr.forbidden("sinceSeconds", "at most one of `sinceTime` or `sinceSeconds` may be specified"));
  if (errs.length) throw invalid("PodLogOptions", name, errs);
  let sinceNs: bigint | undefined;
  if (sinceTime) {
    const ms = Date.parse(sinceTime);
    if (Number.isNaN(ms)) throw badRequest(`parsing time "${sinceTime}" as "2006-01-02T15:04:05Z07:00": cannot parse`);
    // The API server passes sinceTime on to the kubelet as RFC3339 in whole seconds, so a fraction is
    // dropped and the lines from the start of that second come back too.
    sinceNs = BigInt(Math.floor(ms / 1000)) * 1_000_000_000n;
  } else if (sinceSeconds !== undefined) sinceNs = nowNs() - BigInt(sinceSeconds) * 1_000_000_000n;
  if (boolParam(q, "previous")) throw badRequest(`previous terminated container "${cname}" in pod "${name}" not found`);
  if (!pod.spec.nodeName) {
    res.writeHead(204).end();
    return;
  }
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const state = statuses.find((cs: any) => cs.name === cname)?.state ?? {};
  const file = runtime.logsFor(pod.metadata.uid, cname);
  if (state.waiting || !file || (!state.running && !state.terminated)) {
    const reason: string = state.waiting?.reason ?? "ContainerCreating";
    // The kubelet words some reasons (pkg/kubelet/kubelet_pods.go validateContainerLogStatus).
    const why = reason === "ErrImagePull" ? "image can't be pulled" : reason === "ImagePullBackOff" ? "trying and failing to pull image" : reason;
    throw badRequest(`container "${cname}" in pod "${name}" is waiting to start: ${why}`);
  }
  const opts: LogOptions = { follow: boolParam(q, "follow"), timestamps: boolParam(q, "timestamps"), tailLines, limitBytes, sinceNs, hangAtEnd };
  res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private" });
  res.socket?.setNoDelay(true);
  res.flushHeaders();
  await streamLog(file, res, opts);
}
