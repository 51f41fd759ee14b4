// Container `resources` as the API server treats them, in its three stages:
// - decoding: a quantity that does not parse fails the whole request with 400 BadRequest (the JSON
//   decoder rejects it before validation runs; this is not a 422);
// - defaulting: quantities are stored in canonical form, and requests default to the limits;
// - validation (422): resource names, non-negative values, requests <= limits, and requests == limits
//   for resources that cannot be overcommitted (hugepages, extended resources).

import { badRequest, fieldErr, type FieldError } from "./status.ts";
import { compareQuantity, formatQuantity, parseQuantity, QUANTITY_FORMAT_ERROR } from "./quantity.ts";
import type { KObject } from "./store.ts";

const STANDARD = new Set(["cpu", "memory", "ephemeral-storage"]);
const isHugePages = (n: string) => n.startsWith("hugepages-");
const overcommitAllowed = (n: string) => STANDARD.has(n);

/** Every container's (init containers too) resource lists, with the container's field path. */
function each(pod: KObject, fn: (c: any, field: string, kind: "limits" | "requests", list: Record<string, unknown>) => void): void {
  for (const key of ["initContainers", "containers"]) {
    const containers = Array.isArray(pod.spec?.[key]) ? pod.spec[key] : [];
    containers.forEach((c: any, i: number) => {
      for (const kind of ["limits", "requests"] as const) {
        const list = c?.resources?.[kind];
        if (list && typeof list === "object" && !Array.isArray(list)) fn(c, `spec.${key}[${i}]`, kind, list);
      }
    });
  }
}

/** The decoder's check: throws the same 400 a real server gives for an unparseable quantity. */
export function checkQuantitiesDecode(pod: KObject): void {
  each(pod, (_c, _i, _kind, list) => {
    for (const v of Object.values(list)) {
      if (!parseQuantity(v)) throw badRequest(`Pod in version "v1" cannot be handled as a Pod: ${QUANTITY_FORMAT_ERROR}`);
    }
  });
}

/** Canonical quantities, and requests defaulted from limits (SetDefaults_Pod). Run after decoding. */
export function defaultResources(pod: KObject): void {
  each(pod, (_c, _i, _kind, list) => {
    for (const [k, v] of Object.entries(list)) list[k] = formatQuantity(parseQuantity(v)!);
  });
  for (const c of [...(Array.isArray(pod.spec?.initContainers) ? pod.spec.initContainers : []), ...(Array.isArray(pod.spec?.containers) ? pod.spec.containers : [])]) {
    const limits = c?.resources?.limits;
    if (!limits || typeof limits !== "object" || !Object.keys(limits).length) continue;
    const requests = (c.resources.requests ??= {});
    for (const [k, v] of Object.entries(limits)) if (requests[k] === undefined) requests[k] = v;
  }
}

/** Field errors for resources, with the API server's paths (`...resources.limits[memory]`) and wording. */
export function validateResources(pod: KObject): FieldError[] {
  const errs: FieldError[] = [];
  each(pod, (c, field, kind, list) => {
    const base = `${field}.resources`;
    for (const [name, raw] of Object.entries(list)) {
      const path = `${base}.${kind}[${name}]`;
      if (!name.includes("/") && !STANDARD.has(name) && !isHugePages(name)) errs.push(fieldErr.invalid(path, name, "must be a standard resource for containers"));
      const q = parseQuantity(raw);
      if (!q) continue;
      if (q.nano < 0n) errs.push(fieldErr.invalid(path, formatQuantity(q), "must be greater than or equal to 0"));
      else if (!overcommitAllowed(name) && q.nano % 1_000_000_000n !== 0n) errs.push(fieldErr.invalid(path, formatQuantity(q), "must be an integer"));
      if (kind !== "requests") continue;
      const limit = parseQuantity(c.resources?.limits?.[name]);
      if (!limit) continue;
      const reqText = formatQuantity(q);
      const limText = formatQuantity(limit);
      if (!overcommitAllowed(name) && compareQuantity(q, limit) !== 0)
        errs.push(fieldErr.invalid(`${base}.requests`, reqText, `must be equal to ${name} limit of ${limText}`));
      else if (compareQuantity(q, limit) > 0) errs.push(fieldErr.invalid(`${base}.requests`, reqText, `must be less than or equal to ${name} limit of ${limText}`));
    }
  });
  return errs;
}
