// The global pod template (FERRY_POD_TEMPLATE): a YAML file holding a Pod, a PodTemplate or a
// PodTemplateSpec that every task try's Pod starts from, under the DAG's podDefaults, the task's own
// fields and Ferry's (README.md, "Pod spec"). It is read and checked once, when Ferry starts, so a
// mistake stops Ferry with every problem named instead of failing each try's Pod later.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ConfigError } from "../config/config.ts";
import { TASK_CONTAINER_NAME } from "../lib/pod-contract.ts";

/** The template as Ferry uses it: the metadata it takes and the Pod spec, its container named `task`. */
export interface PodTemplate {
  /** Where it was read from, for messages. */
  source: string;
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  /** A Kubernetes PodSpec (JSON); `containers` holds at most the task container's base. */
  spec: Record<string, unknown>;
}

/** A ConfigError, so `ferry start` prints its message alone and stops. */
export class PodTemplateError extends ConfigError {}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Metadata Ferry sets itself (name, namespace) or never sets (generateName): read and ignored. */
const IGNORED_METADATA = ["name", "namespace", "generateName", "uid", "resourceVersion", "creationTimestamp"];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads and checks the template file; throws a PodTemplateError naming every problem. */
export function loadPodTemplate(path: string): PodTemplate {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new PodTemplateError(`FERRY_POD_TEMPLATE=${path}: cannot read the pod template: ${(err as Error).message}`);
  }
  return parsePodTemplate(text, path);
}

export function parsePodTemplate(text: string, source: string): PodTemplate {
  const fail = (problems: string[]) =>
    new PodTemplateError(`the pod template ${source} is not valid (FERRY_POD_TEMPLATE):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  // YAML 1.1, as kubectl reads manifests: `defaultMode: 0644` is octal, `yes` is true.
  const docs = parseAllDocuments(text, { version: "1.1" });
  if (!Array.isArray(docs) || docs.length === 0) throw fail(["the file holds no YAML document: write one Pod, PodTemplate or PodTemplateSpec"]);
  const syntax = docs.flatMap((d) =>
    d.errors.map((e) => {
      const at = e.linePos?.[0];
      return `${at ? `line ${at.line}, column ${at.col}: ` : ""}${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`;
    }),
  );
  if (syntax.length > 0) throw fail(syntax);
  const contents = docs.filter((d) => d.contents !== null);
  if (contents.length !== 1) throw fail([`the file holds ${contents.length} YAML documents: write exactly one Pod, PodTemplate or PodTemplateSpec`]);
  const root: unknown = contents[0]!.toJS();
  const problems: string[] = [];
  const template = readTemplate(root, problems);
  if (problems.length > 0 || !template) throw fail(problems);
  return { source, ...template };
}

function readTemplate(root: unknown, problems: string[]): Omit<PodTemplate, "source"> | null {
  if (!isObj(root)) {
    problems.push("the document must be a mapping: a Pod (kind: Pod), a PodTemplate (kind: PodTemplate) or a PodTemplateSpec (metadata and spec)");
    return null;
  }
  let body: Obj = root;
  let at = "";
  if (root.apiVersion !== undefined && root.apiVersion !== "v1") problems.push(`apiVersion: must be "v1", got ${JSON.stringify(root.apiVersion)}`);
  if (root.kind === "PodTemplate") {
    for (const key of Object.keys(root)) if (!["apiVersion", "kind", "metadata", "template"].includes(key)) problems.push(`${key}: unknown field; a PodTemplate has apiVersion, kind, metadata and template`);
    if (!isObj(root.template)) {
      problems.push("template: a PodTemplate holds its Pod in template: { metadata, spec }");
      return null;
    }
    body = root.template;
    at = "template.";
  } else if (root.kind !== undefined && root.kind !== "Pod") {
    problems.push(`kind: must be Pod or PodTemplate (or left out for a PodTemplateSpec), got ${JSON.stringify(root.kind)}`);
    return null;
  }
  const allowed = at === "" ? ["apiVersion", "kind", "metadata", "spec"] : ["metadata", "spec"];
  for (const key of Object.keys(body)) if (!allowed.includes(key)) problems.push(`${at}${key}: unknown field; a pod template has ${allowed.join(", ")}`);
  const metadata = readMetadata(body.metadata, `${at}metadata`, problems);
  if (body.spec !== undefined && !isObj(body.spec)) problems.push(`${at}spec: must be a mapping (a PodSpec)`);
  const spec: Obj = isObj(body.spec) ? structuredClone(body.spec) : {};
  readSpec(spec, `${at}spec`, problems);
  return { metadata, spec };
}

function stringMap(value: unknown, path: string, problems: string[]): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    problems.push(`${path}: must be a mapping of strings`);
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) if (typeof v !== "string") problems.push(`${path}.${k}: must be a string (quote it), got ${JSON.stringify(v)}`);
  return value as Record<string, string>;
}

function readMetadata(value: unknown, path: string, problems: string[]): PodTemplate["metadata"] {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) {
    problems.push(`${path}: must be a mapping`);
    return {};
  }
  const out: PodTemplate["metadata"] = {};
  for (const key of Object.keys(value)) {
    if (key === "labels" || key === "annotations" || IGNORED_METADATA.includes(key)) continue;
    problems.push(`${path}.${key}: Ferry takes only labels and annotations from the template's metadata (and sets name and namespace itself)`);
  }
  const labels = stringMap(value.labels, `${path}.labels`, problems);
  const annotations = stringMap(value.annotations, `${path}.annotations`, problems);
  if (labels) out.labels = labels;
  if (annotations) out.annotations = annotations;
  return out;
}

function readContainer(c: unknown, path: string, problems: string[]): void {
  if (!isObj(c)) {
    problems.push(`${path}: must be a mapping (a Container)`);
    return;
  }
  for (const key of ["command", "args"]) {
    const v = c[key];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string"))) problems.push(`${path}.${key}: must be a list of strings`);
  }
  if (c.env !== undefined) {
    if (!Array.isArray(c.env)) problems.push(`${path}.env: must be a list of { name, value } or { name, valueFrom }`);
    else
      c.env.forEach((e, i) => {
        if (!isObj(e) || typeof e.name !== "string" || e.name === "") problems.push(`${path}.env[${i}]: needs a name`);
        else if (e.value !== undefined && typeof e.value !== "string") problems.push(`${path}.env[${i}].value: must be a string (quote it), got ${JSON.stringify(e.value)}`);
      });
  }
  for (const key of ["envFrom", "volumeMounts", "ports"]) if (c[key] !== undefined && !Array.isArray(c[key])) problems.push(`${path}.${key}: must be a list`);
  for (const key of ["resources", "securityContext"]) if (c[key] !== undefined && !isObj(c[key])) problems.push(`${path}.${key}: must be a mapping`);
}

function readSpec(spec: Obj, path: string, problems: string[]): void {
  const containers = spec.containers;
  if (containers !== undefined) {
    if (!Array.isArray(containers)) problems.push(`${path}.containers: must be a list`);
    else if (containers.length > 1) {
      problems.push(
        `${path}.containers: a template has at most one container, the base of each task's own (Ferry names it "${TASK_CONTAINER_NAME}"); ` +
          "put sidecars in initContainers with restartPolicy: Always (Kubernetes' native sidecars), which Ferry stops once the task ends",
      );
    } else if (containers.length === 1) {
      readContainer(containers[0], `${path}.containers[0]`, problems);
      // Whatever it was called, it is the task's container now.
      if (isObj(containers[0])) containers[0].name = TASK_CONTAINER_NAME;
    }
  }
  const init = spec.initContainers;
  if (init !== undefined) {
    if (!Array.isArray(init)) problems.push(`${path}.initContainers: must be a list`);
    else {
      const names = new Set<string>();
      init.forEach((c, i) => {
        const at = `${path}.initContainers[${i}]`;
        readContainer(c, at, problems);
        if (!isObj(c)) return;
        if (typeof c.name !== "string" || !DNS_LABEL.test(c.name) || c.name.length > 63) problems.push(`${at}.name: must be a DNS-1123 label (lowercase letters, digits and '-'), got ${JSON.stringify(c.name)}`);
        else if (c.name === TASK_CONTAINER_NAME) problems.push(`${at}.name: "${TASK_CONTAINER_NAME}" is the task's own container; give this one another name`);
        else if (names.has(c.name)) problems.push(`${at}.name: "${c.name}" is given twice`);
        else names.add(c.name);
        if (typeof c.image !== "string" || c.image.trim() === "") problems.push(`${at}.image: is required`);
        if (c.restartPolicy !== undefined && c.restartPolicy !== "Always") problems.push(`${at}.restartPolicy: only "Always" (a sidecar), or left out (an init container)`);
      });
    }
  }
  if (spec.volumes !== undefined) {
    if (!Array.isArray(spec.volumes)) problems.push(`${path}.volumes: must be a list`);
    else spec.volumes.forEach((v, i) => (!isObj(v) || typeof v.name !== "string" ? problems.push(`${path}.volumes[${i}]: needs a name`) : undefined));
  }
  for (const key of ["nodeSelector"]) stringMap(spec[key], `${path}.${key}`, problems);
  for (const key of ["tolerations", "imagePullSecrets", "hostAliases"]) if (spec[key] !== undefined && !Array.isArray(spec[key])) problems.push(`${path}.${key}: must be a list`);
  for (const key of ["securityContext", "affinity"]) if (spec[key] !== undefined && !isObj(spec[key])) problems.push(`${path}.${key}: must be a mapping`);
  if (spec.ephemeralContainers !== undefined) problems.push(`${path}.ephemeralContainers: cannot be set when a Pod is created`);
  // Ferry's own: every try's Pod runs once, and its container is named by Ferry.
  delete spec.restartPolicy;
}
