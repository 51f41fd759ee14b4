// Checks a container's environment: env (a value, or valueFrom a Secret, a ConfigMap or the downward
// API) and envFrom (a whole Secret or ConfigMap).
import type { EnvValue } from "../sdk/definition.ts";
import { checkBoolean, checkFields, checkObject, checkString, describe, isPlainObject, joinPath, type Problems } from "./check.ts";
import { checkName, templated } from "./kube-names.ts";
import type { SourcePosition } from "./types.ts";

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/** The downward-API fields an env var can read (Kubernetes' validEnvDownwardAPIFieldPathExpressions). */
const FIELD_PATHS = [
  "metadata.name",
  "metadata.namespace",
  "metadata.uid",
  "spec.nodeName",
  "spec.serviceAccountName",
  "status.hostIP",
  "status.hostIPs",
  "status.podIP",
  "status.podIPs",
];

function checkRefName(problems: Problems, path: string, value: unknown, kind: "Secret" | "ConfigMap", at?: SourcePosition): string | undefined {
  return checkName(problems, path, value, "subdomain", `${kind} name`, at);
}

function checkKeyRef(problems: Problems, path: string, value: unknown, kind: "Secret" | "ConfigMap", at?: SourcePosition): unknown {
  const ref = checkObject(problems, path, value, `{ name: "db", key: "password" }`, at);
  if (ref === undefined) return undefined;
  const out = checkFields(
    problems,
    path,
    ref,
    {
      name: (p, v) => checkRefName(problems, p, v, kind, at),
      key: (p, v) => {
        const k = checkString(problems, p, v, at);
        if (k !== undefined && !templated(k) && (!CONFIG_KEY.test(k) || k.length > 253)) {
          problems.add(p, `${JSON.stringify(k)} is not a valid ${kind} key: letters, digits, '-', '_' and '.'`, at);
          return undefined;
        }
        return k;
      },
      optional: (p, v) => checkBoolean(problems, p, v, at),
    },
    kind === "Secret" ? "secretKeyRef" : "configMapKeyRef",
    at,
  );
  for (const key of ["name", "key"]) if (ref[key] === undefined) problems.add(joinPath(path, key), "is required", at);
  return out;
}

function checkFieldRef(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown {
  const ref = checkObject(problems, path, value, `{ fieldPath: "metadata.name" }`, at);
  if (ref === undefined) return undefined;
  const out = checkFields(
    problems,
    path,
    ref,
    {
      fieldPath: (p, v) => {
        const fp = checkString(problems, p, v, at);
        if (fp === undefined || FIELD_PATHS.includes(fp) || /^metadata\.(labels|annotations)\['[^']+'\]$/.test(fp)) return fp;
        problems.add(p, `${JSON.stringify(fp)} is not a field an env var can read: use one of ${FIELD_PATHS.join(", ")}, metadata.labels['<key>'] or metadata.annotations['<key>']`, at);
        return undefined;
      },
      apiVersion: (p, v) => (v === "v1" ? v : problems.add(p, `must be "v1", got ${describe(v)}`, at)),
    },
    "fieldRef",
    at,
  );
  if (ref.fieldPath === undefined) problems.add(joinPath(path, "fieldPath"), "is required", at);
  return out;
}

/** `{ valueFrom: { secretKeyRef | configMapKeyRef | fieldRef } }`, exactly one source. */
function checkEnvSource(problems: Problems, path: string, value: Record<string, unknown>, at?: SourcePosition): unknown {
  const out = checkFields(
    problems,
    path,
    value,
    {
      valueFrom: (p, v) => {
        const from = checkObject(problems, p, v, `{ secretKeyRef: { name: "db", key: "password" } }`, at);
        if (from === undefined) return undefined;
        const sources = Object.keys(from);
        if (sources.length !== 1) {
          problems.add(p, `must name exactly one source: secretKeyRef, configMapKeyRef or fieldRef; got ${sources.length === 0 ? "none" : sources.join(", ")}`, at);
        }
        return checkFields(
          problems,
          p,
          from,
          {
            secretKeyRef: (q, x) => checkKeyRef(problems, q, x, "Secret", at),
            configMapKeyRef: (q, x) => checkKeyRef(problems, q, x, "ConfigMap", at),
            fieldRef: (q, x) => checkFieldRef(problems, q, x, at),
          },
          "valueFrom",
          at,
        );
      },
    },
    "env value",
    at,
  );
  if (value.valueFrom === undefined) problems.add(joinPath(path, "valueFrom"), "is required: an env value is a string or { valueFrom: { ... } }", at);
  return out;
}

/** `{ NAME: "value" | { valueFrom: ... } }`. */
export function checkEnv(problems: Problems, path: string, value: unknown, at?: SourcePosition): Record<string, EnvValue> | undefined {
  if (!isPlainObject(value) || "$unsupported" in value) {
    problems.add(path, `must be an object of env vars like { NAME: "value", TOKEN: { valueFrom: { secretKeyRef: { name: "s", key: "k" } } } }, got ${describe(value)}`, at);
    return undefined;
  }
  let ok = true;
  for (const [name, item] of Object.entries(value)) {
    const itemPath = joinPath(path, name);
    if (!ENV_NAME.test(name)) {
      problems.add(itemPath, `"${name}" is not a valid env var name: letters, digits, '_', '-' and '.', not starting with a digit`, at);
      ok = false;
    }
    if (typeof item === "string") continue;
    if (isPlainObject(item) && !("$unsupported" in item)) {
      const before = problems.list.length;
      checkEnvSource(problems, itemPath, item, at);
      ok = ok && problems.list.length === before;
    } else {
      problems.add(itemPath, `must be a string or { valueFrom: ... }, got ${describe(item)} (convert it with String())`, at);
      ok = false;
    }
  }
  return ok ? (value as Record<string, EnvValue>) : undefined;
}

export function checkEnvFrom(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown[] | undefined {
  if (!Array.isArray(value)) {
    problems.add(path, `must be an array like [{ secretRef: { name: "creds" } }, { configMapRef: { name: "settings" }, prefix: "APP_" }], got ${describe(value)}`, at);
    return undefined;
  }
  const before = problems.list.length;
  value.forEach((item, i) => {
    const itemPath = joinPath(path, i);
    const entry = checkObject(problems, itemPath, item, `{ secretRef: { name: "creds" } }`, at);
    if (entry === undefined) return;
    const ref = (kind: "Secret" | "ConfigMap") => (p: string, v: unknown) => {
      const r = checkObject(problems, p, v, `{ name: "x" }`, at);
      if (r === undefined) return undefined;
      if (r.name === undefined) problems.add(joinPath(p, "name"), "is required", at);
      return checkFields(problems, p, r, { name: (q, x) => checkRefName(problems, q, x, kind, at), optional: (q, x) => checkBoolean(problems, q, x, at) }, kind === "Secret" ? "secretRef" : "configMapRef", at);
    };
    checkFields(
      problems,
      itemPath,
      entry,
      {
        secretRef: ref("Secret"),
        configMapRef: ref("ConfigMap"),
        prefix: (p, v) => {
          const prefix = checkString(problems, p, v, at);
          if (prefix !== undefined && prefix !== "" && !templated(prefix) && !ENV_NAME.test(prefix)) problems.add(p, `${JSON.stringify(prefix)} is not a valid env var name prefix`, at);
          return prefix;
        },
      },
      "envFrom",
      at,
    );
    if ((entry.secretRef === undefined) === (entry.configMapRef === undefined)) problems.add(itemPath, "must name exactly one of secretRef and configMapRef", at);
  });
  return problems.list.length === before ? value : undefined;
}
