// Object validation with apimachinery's wording (pkg/apis/core/validation, apimachinery/pkg/util/validation),
// so a 422 from localkube reads the same as one from a real API server.

import { fieldErr, type FieldError } from "./status.ts";
import type { KObject } from "./store.ts";
import { validateResources } from "./resources.ts";

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN}$`);
const LABEL_RE = new RegExp(`^${DNS1123_LABEL}$`);
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const ENV_NAME_RE = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const SUBDOMAIN_MSG = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`;
const LABEL_MSG = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`;
const QUALIFIED_MSG = `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`;
const LABEL_VALUE_MSG = `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`;
const ENV_MSG = `a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`;

export function subdomainErrors(value: string): string[] {
  const out: string[] = [];
  if (value.length > 253) out.push("must be no more than 253 characters");
  if (!SUBDOMAIN_RE.test(value)) out.push(SUBDOMAIN_MSG);
  return out;
}

export function labelNameErrors(value: string): string[] {
  const out: string[] = [];
  if (value.length > 63) out.push("must be no more than 63 characters");
  if (!LABEL_RE.test(value)) out.push(LABEL_MSG);
  return out;
}

function qualifiedNameErrors(key: string): string[] {
  const parts = key.split("/");
  if (parts.length > 2) return [`a qualified name ${QUALIFIED_MSG.slice("name part ".length)} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  const name = parts[parts.length - 1];
  const out: string[] = [];
  if (parts.length === 2) {
    if (!parts[0]) out.push("prefix part must be non-empty");
    else for (const e of subdomainErrors(parts[0])) out.push(`prefix part ${e}`);
  }
  if (!name) out.push("name part must be non-empty");
  else {
    if (name.length > 63) out.push("name part must be no more than 63 characters");
    if (!QUALIFIED_NAME_RE.test(name)) out.push(QUALIFIED_MSG);
  }
  return out;
}

/** Validates the metadata every object shares; `nameFn` is the resource's name rule. */
export function validateObjectMeta(meta: KObject["metadata"], nameFn: (v: string) => string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (!meta.name) errs.push(fieldErr.required("metadata.name", "name or generateName is required"));
  else for (const msg of nameFn(meta.name)) errs.push(fieldErr.invalid("metadata.name", meta.name, msg));
  const labels = meta.labels ?? {};
  if (typeof labels !== "object" || Array.isArray(labels)) errs.push(fieldErr.invalid("metadata.labels", labels, "must be a map of strings"));
  else
    for (const [k, v] of Object.entries(labels)) {
      for (const msg of qualifiedNameErrors(k)) errs.push(fieldErr.invalid("metadata.labels", k, msg));
      if (typeof v !== "string") errs.push(fieldErr.invalid("metadata.labels", v, "must be a string"));
      else {
        if (v.length > 63) errs.push(fieldErr.invalid("metadata.labels", v, "must be no more than 63 characters"));
        if (v !== "" && !QUALIFIED_NAME_RE.test(v)) errs.push(fieldErr.invalid("metadata.labels", v, LABEL_VALUE_MSG));
      }
    }
  const ann = meta.annotations ?? {};
  let total = 0;
  for (const [k, v] of Object.entries(ann)) {
    for (const msg of qualifiedNameErrors(k.toLowerCase())) errs.push(fieldErr.invalid("metadata.annotations", k, msg));
    if (typeof v !== "string") errs.push(fieldErr.invalid("metadata.annotations", v, "must be a string"));
    total += k.length + String(v).length;
  }
  if (total > 256 * 1024) errs.push(fieldErr.tooLong("metadata.annotations", 256 * 1024));
  return errs;
}

const RESTART = ["Always", "Never", "OnFailure"];
const PULL = ["Always", "IfNotPresent", "Never"];
const TERM_POLICY = ["FallbackToLogsOnError", "File"];

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

export function validatePod(pod: KObject): FieldError[] {
  const errs = validateObjectMeta(pod.metadata, subdomainErrors);
  const spec = pod.spec;
  if (!spec || typeof spec !== "object") {
    errs.push(fieldErr.required("spec.containers"));
    return errs;
  }
  if (spec.ephemeralContainers?.length) errs.push(fieldErr.forbidden("spec.ephemeralContainers", "may not be set on pod creation"));
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) errs.push(fieldErr.required("spec.containers"));
  else if (containers.length > 1)
    errs.push(
      fieldErr.forbidden(
        "spec.containers",
        "localkube runs a single container per pod as a host process; pods with more than one container are not supported (init containers and sidecars, initContainers with restartPolicy Always, are)",
      ),
    );
  if (spec.initContainers !== undefined && !Array.isArray(spec.initContainers)) errs.push(fieldErr.invalid("spec.initContainers", JSON.stringify(spec.initContainers), "must be a list"));
  const names = new Set<string>();
  const check = (key: "initContainers" | "containers") => (c: any, i: number) => {
    const f = `spec.${key}[${i}]`;
    if (!c || typeof c !== "object") return errs.push(fieldErr.required(f));
    if (!c.name) errs.push(fieldErr.required(`${f}.name`));
    else {
      for (const msg of labelNameErrors(String(c.name))) errs.push(fieldErr.invalid(`${f}.name`, c.name, msg));
      if (names.has(c.name)) errs.push({ type: "FieldValueDuplicate", field: `${f}.name`, body: `Duplicate value: ${JSON.stringify(c.name)}` });
      names.add(c.name);
    }
    if (!c.image || typeof c.image !== "string" || !c.image.trim()) errs.push(fieldErr.required(`${f}.image`));
    for (const k of ["command", "args"]) {
      if (c[k] !== undefined && (!Array.isArray(c[k]) || c[k].some((x: unknown) => typeof x !== "string")))
        errs.push(fieldErr.invalid(`${f}.${k}`, JSON.stringify(c[k]), "must be a list of strings"));
    }
    if (c.env !== undefined && !Array.isArray(c.env)) errs.push(fieldErr.invalid(`${f}.env`, JSON.stringify(c.env), "must be a list"));
    (Array.isArray(c.env) ? c.env : []).forEach((e: any, j: number) => {
      const ef = `${f}.env[${j}]`;
      if (!e?.name) errs.push(fieldErr.required(`${ef}.name`));
      else if (!ENV_NAME_RE.test(e.name)) errs.push(fieldErr.invalid(`${ef}.name`, e.name, ENV_MSG));
      if (e?.value !== undefined && typeof e.value !== "string") errs.push(fieldErr.invalid(`${ef}.value`, e.value, "must be a string"));
      if (e?.value !== undefined && e?.valueFrom !== undefined)
        errs.push(fieldErr.invalid(`${ef}.valueFrom`, "", "may not be specified when `value` is not empty"));
      if (e?.valueFrom !== undefined) errs.push(...envSourceErrors(`${ef}.valueFrom`, e.valueFrom));
    });
    if (c.envFrom !== undefined && !Array.isArray(c.envFrom)) errs.push(fieldErr.invalid(`${f}.envFrom`, JSON.stringify(c.envFrom), "must be a list"));
    (Array.isArray(c.envFrom) ? c.envFrom : []).forEach((e: any, j: number) => {
      const n = (e?.secretRef ? 1 : 0) + (e?.configMapRef ? 1 : 0);
      if (n !== 1) errs.push(fieldErr.invalid(`${f}.envFrom[${j}]`, "", "must specify one of: `configMapRef` or `secretRef`"));
    });
    if (c.imagePullPolicy !== undefined && !PULL.includes(c.imagePullPolicy))
      errs.push(fieldErr.notSupported(`${f}.imagePullPolicy`, c.imagePullPolicy, PULL));
    if (c.terminationMessagePolicy !== undefined && !TERM_POLICY.includes(c.terminationMessagePolicy))
      errs.push(fieldErr.notSupported(`${f}.terminationMessagePolicy`, c.terminationMessagePolicy, TERM_POLICY));
    if (c.terminationMessagePath !== undefined && (typeof c.terminationMessagePath !== "string" || !c.terminationMessagePath.startsWith("/")))
      errs.push(fieldErr.invalid(`${f}.terminationMessagePath`, c.terminationMessagePath, "must be an absolute path"));
    // restartPolicy on a container: an init container may say Always (a sidecar); a regular one may not say anything.
    if (c.restartPolicy !== undefined) {
      if (key === "containers") errs.push(fieldErr.forbidden(`${f}.restartPolicy`, "may not be set for non-init containers"));
      else if (c.restartPolicy !== "Always") errs.push(fieldErr.notSupported(`${f}.restartPolicy`, c.restartPolicy, ["Always"]));
    }
  };
  (Array.isArray(spec.initContainers) ? spec.initContainers : []).forEach(check("initContainers"));
  (Array.isArray(containers) ? containers : []).forEach(check("containers"));
  errs.push(...validateResources(pod));
  if (spec.restartPolicy !== undefined && !RESTART.includes(spec.restartPolicy))
    errs.push(fieldErr.notSupported("spec.restartPolicy", spec.restartPolicy, RESTART));
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) {
    const v = spec.activeDeadlineSeconds;
    if (!isInt(v) || v < 1 || v > 2147483647)
      errs.push(fieldErr.invalid("spec.activeDeadlineSeconds", v, "must be between 1 and 2147483647, inclusive"));
  }
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds !== null) {
    const v = spec.terminationGracePeriodSeconds;
    if (!isInt(v) || v < 0) errs.push(fieldErr.invalid("spec.terminationGracePeriodSeconds", v, "must be greater than or equal to 0"));
  }
  return errs;
}

/** An env var's valueFrom: exactly one source, each with the fields the API server requires. */
function envSourceErrors(path: string, from: any): FieldError[] {
  const errs: FieldError[] = [];
  if (!from || typeof from !== "object") return [fieldErr.invalid(path, JSON.stringify(from), "must be an object")];
  const sources = ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"].filter((k) => from[k] !== undefined && from[k] !== null);
  if (sources.length === 0) errs.push(fieldErr.invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
  else if (sources.length > 1) errs.push(fieldErr.invalid(path, "", "may not have more than one field specified at a time"));
  for (const k of ["configMapKeyRef", "secretKeyRef"]) {
    const ref = from[k];
    if (!ref) continue;
    if (!ref.name) errs.push(fieldErr.required(`${path}.${k}.name`));
    if (!ref.key) errs.push(fieldErr.required(`${path}.${k}.key`));
  }
  if (from.fieldRef && !from.fieldRef.fieldPath) errs.push(fieldErr.required(`${path}.fieldRef.fieldPath`));
  return errs;
}

export function validateNamespace(ns: KObject): FieldError[] {
  return validateObjectMeta(ns.metadata, labelNameErrors);
}
