// Label and field selectors, with the grammar and the error messages of apimachinery's
// labels/selector.go and fields/selector.go (errors surface as 400 BadRequest).

import { badRequest } from "./status.ts";
import type { KObject, Resource } from "./store.ts";

export type Matcher = (o: KObject) => boolean;

type Op = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";
interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

const LABEL_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function checkLabelKey(k: string, raw: string): void {
  const slash = k.lastIndexOf("/");
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (!name || name.length > 63 || !LABEL_PART.test(name) || (slash >= 0 && !k.slice(0, slash)))
    throw badRequest(`unable to parse requirement: key: Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (in selector ${JSON.stringify(raw)})`);
}

function checkLabelValue(v: string): void {
  if (v !== "" && (v.length > 63 || !LABEL_PART.test(v)))
    throw badRequest(`unable to parse requirement: values[0]: Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
}

/** Splits on commas that are not inside `( )`. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseLabelSelector(raw: string | null | undefined): Matcher {
  if (!raw || !raw.trim()) return () => true;
  const reqs: Requirement[] = [];
  for (const part0 of splitTop(raw)) {
    const part = part0.trim();
    if (!part) throw badRequest(`unable to parse requirement: found '', expected: identifier (in selector ${JSON.stringify(raw)})`);
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*([^\s=!<>(),]+)$/))) {
      checkLabelKey(m[1], raw);
      reqs.push({ key: m[1], op: "!", values: [] });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/))) {
      checkLabelKey(m[1], raw);
      const values = m[3].split(",").map((v) => v.trim());
      values.forEach(checkLabelValue);
      reqs.push({ key: m[1], op: m[2] as Op, values });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)$/))) {
      checkLabelKey(m[1], raw);
      const op: Op = m[2] === "!=" ? "!=" : m[2] === ">" ? "gt" : m[2] === "<" ? "lt" : "=";
      if ((op === "gt" || op === "lt") && !/^-?\d+$/.test(m[3]))
        throw badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer (in selector ${JSON.stringify(raw)})`);
      if (op !== "gt" && op !== "lt") checkLabelValue(m[3]);
      reqs.push({ key: m[1], op, values: [m[3]] });
    } else if ((m = part.match(/^([^\s=!<>(),]+)$/))) {
      checkLabelKey(m[1], raw);
      reqs.push({ key: m[1], op: "exists", values: [] });
    } else {
      throw badRequest(`unable to parse requirement: invalid selector ${JSON.stringify(part)} (in selector ${JSON.stringify(raw)})`);
    }
  }
  return (o) => {
    const labels: Record<string, string> = o.metadata.labels ?? {};
    return reqs.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case "=":
          return has && v === r.values[0];
        case "!=":
          return !has || v !== r.values[0];
        case "in":
          return has && r.values.includes(v);
        case "notin":
          return !has || !r.values.includes(v);
        case "exists":
          return has;
        case "!":
          return !has;
        case "gt":
          return has && /^-?\d+$/.test(v) && Number(v) > Number(r.values[0]);
        case "lt":
          return has && /^-?\d+$/.test(v) && Number(v) < Number(r.values[0]);
      }
    });
  };
}

type FieldGetter = (o: KObject) => string;
const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));

// The field labels each resource's registry strategy exposes (GetAttrs / AddFieldLabelConversionFunc).
const FIELDS: Record<Resource, Record<string, FieldGetter>> = {
  pods: {
    "metadata.name": (o) => o.metadata.name,
    "metadata.namespace": (o) => str(o.metadata.namespace),
    "spec.nodeName": (o) => str(o.spec?.nodeName),
    "spec.restartPolicy": (o) => str(o.spec?.restartPolicy),
    "spec.schedulerName": (o) => str(o.spec?.schedulerName),
    "spec.serviceAccountName": (o) => str(o.spec?.serviceAccountName),
    "spec.hostNetwork": (o) => String(Boolean(o.spec?.hostNetwork)),
    "status.phase": (o) => str(o.status?.phase),
    "status.podIP": (o) => str(o.status?.podIP),
    "status.nominatedNodeName": (o) => str(o.status?.nominatedNodeName),
  },
  namespaces: {
    "metadata.name": (o) => o.metadata.name,
    "status.phase": (o) => str(o.status?.phase),
  },
  events: {
    "metadata.name": (o) => o.metadata.name,
    "metadata.namespace": (o) => str(o.metadata.namespace),
    "involvedObject.kind": (o) => str(o.involvedObject?.kind),
    "involvedObject.namespace": (o) => str(o.involvedObject?.namespace),
    "involvedObject.name": (o) => str(o.involvedObject?.name),
    "involvedObject.uid": (o) => str(o.involvedObject?.uid),
    "involvedObject.apiVersion": (o) => str(o.involvedObject?.apiVersion),
    "involvedObject.resourceVersion": (o) => str(o.involvedObject?.resourceVersion),
    "involvedObject.fieldPath": (o) => str(o.involvedObject?.fieldPath),
    reason: (o) => str(o.reason),
    reportingComponent: (o) => str(o.reportingComponent),
    source: (o) => str(o.source?.component),
    type: (o) => str(o.type),
  },
  secrets: {
    "metadata.name": (o) => o.metadata.name,
    "metadata.namespace": (o) => str(o.metadata.namespace),
    type: (o) => str(o.type),
  },
  configmaps: {
    "metadata.name": (o) => o.metadata.name,
    "metadata.namespace": (o) => str(o.metadata.namespace),
  },
};

export function parseFieldSelector(resource: Resource, raw: string | null | undefined): Matcher {
  if (!raw || !raw.trim()) return () => true;
  const tests: Matcher[] = [];
  for (const part0 of raw.split(",")) {
    const part = part0.trim();
    const m = part.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${raw}'; can't understand '${part}'`);
    const get = FIELDS[resource][m[1]];
    if (!get) throw badRequest(`field label not supported: ${m[1]}`);
    const want = m[3];
    tests.push(m[2] === "!=" ? (o) => get(o) !== want : (o) => get(o) === want);
  }
  return (o) => tests.every((t) => t(o));
}
