// A small renderer of the part of kustomize that deploy/kubernetes/kustomization.yaml uses, so the tests
// can check what `kubectl apply -k` would send without a kubectl or kustomize binary. It supports:
//   resources  files beside the kustomization (no folders, remote bases or other kustomizations)
//   labels     `pairs` added to every object's metadata.labels; with `includeTemplates: true` also to the
//              Pod templates of workloads (includeSelectors must be false: selectors are left alone)
//   images     `name` matched against every container and initContainer image; `newName` and `newTag`
//              applied as kustomize does (`digest` is not supported)
// Anything else in the kustomization (a field, or an option of one of these) is refused with an error
// naming it, so a kustomization that grows past this renderer fails its tests instead of being rendered
// wrongly. Semantics follow kustomize v5 (sigs.k8s.io/kustomize/api: builtins LabelTransformer and
// ImageTagTransformer).
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, parse } from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

export class UnsupportedKustomization extends Error {
  override name = "UnsupportedKustomization";
}

const TOP_LEVEL = new Set(["apiVersion", "kind", "resources", "labels", "images"]);
const LABEL_ENTRY = new Set(["pairs", "includeSelectors", "includeTemplates"]);
const IMAGE_ENTRY = new Set(["name", "newName", "newTag"]);
/** Kinds whose spec.template is a Pod template (kustomize's includeTemplates applies to these). */
const POD_TEMPLATE_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function refuseUnknown(where: string, value: Record<string, unknown>, allowed: Set<string>): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw new UnsupportedKustomization(`${where}: "${key}" is not supported by test/deploy/kustomize.ts`);
  }
}

/** Parses YAML text into its documents (empty documents dropped); any YAML error throws. */
export function parseYamlDocuments(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return []; // an empty stream
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** kustomize's image split: name, then `:tag` and/or `@digest`. A port in the registry is not a tag. */
export function splitImage(image: string): { name: string; tag: string | null; digest: string | null } {
  let rest = image;
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, tag: null, digest };
}

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
}

function applyImageRule(image: string, rule: ImageRule): string {
  const { name, tag, digest } = splitImage(image);
  if (name !== rule.name) return image;
  const newName = rule.newName ?? name;
  if (rule.newTag !== undefined) return `${newName}:${rule.newTag}`;
  return newName + (tag !== null ? `:${tag}` : "") + (digest !== null ? `@${digest}` : "");
}

/** Every Pod spec inside an object: a Pod's own, a workload's template, a CronJob's job template. */
export function podSpecsOf(obj: K8sObject): Array<Record<string, unknown>> {
  const spec = obj.spec;
  if (!isRecord(spec)) return [];
  if (obj.kind === "Pod") return [spec];
  if (obj.kind === "CronJob") {
    const jobSpec = isRecord(spec.jobTemplate) && isRecord(spec.jobTemplate.spec) ? spec.jobTemplate.spec : null;
    const podSpec = jobSpec && isRecord(jobSpec.template) && isRecord(jobSpec.template.spec) ? jobSpec.template.spec : null;
    return podSpec ? [podSpec] : [];
  }
  if (POD_TEMPLATE_KINDS.has(obj.kind) && isRecord(spec.template) && isRecord(spec.template.spec)) return [spec.template.spec];
  return [];
}

function containersOf(podSpec: Record<string, unknown>): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const field of ["initContainers", "containers"]) {
    const list = podSpec[field];
    if (Array.isArray(list)) for (const c of list) if (isRecord(c)) out.push(c);
  }
  if (podSpec.ephemeralContainers !== undefined) throw new UnsupportedKustomization("ephemeralContainers are not handled by the images transformer here");
  return out;
}

function asObject(value: unknown, file: string): K8sObject {
  if (!isRecord(value) || typeof value.apiVersion !== "string" || typeof value.kind !== "string" || !isRecord(value.metadata) || typeof value.metadata.name !== "string") {
    throw new Error(`${file}: every document must be a Kubernetes object with apiVersion, kind and metadata.name`);
  }
  return value as K8sObject;
}

/** Renders the kustomization in `dir` (as `kubectl kustomize dir` would, for the supported fields). */
export function renderKustomization(dir: string): K8sObject[] {
  const file = path.join(dir, "kustomization.yaml");
  const k = parse(readFileSync(file, "utf8"), { uniqueKeys: true }) as unknown;
  if (!isRecord(k)) throw new Error(`${file}: not a mapping`);
  refuseUnknown(file, k, TOP_LEVEL);
  if (k.apiVersion !== "kustomize.config.k8s.io/v1beta1" || k.kind !== "Kustomization") {
    throw new Error(`${file}: apiVersion must be kustomize.config.k8s.io/v1beta1 and kind Kustomization`);
  }

  const resources = k.resources ?? [];
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === "string")) throw new Error(`${file}: resources must be a list of paths`);
  const objects: K8sObject[] = [];
  const seenFiles = new Set<string>();
  for (const r of resources as string[]) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(r) || r.includes("?ref=") || r.startsWith("github.com/")) {
      throw new UnsupportedKustomization(`${file}: remote resource "${r}" is not supported`);
    }
    const p = path.resolve(dir, r);
    if (path.dirname(p) !== path.resolve(dir)) throw new UnsupportedKustomization(`${file}: resource "${r}" is not a file beside the kustomization`);
    if (statSync(p).isDirectory()) throw new UnsupportedKustomization(`${file}: resource "${r}" is a folder (a base); not supported`);
    if (seenFiles.has(p)) throw new Error(`${file}: resource "${r}" is listed twice`);
    seenFiles.add(p);
    for (const doc of parseYamlDocuments(readFileSync(p, "utf8"), p)) objects.push(asObject(doc, p));
  }

  // kustomize refuses two objects with the same identity.
  const ids = new Set<string>();
  for (const o of objects) {
    const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
    const id = `${group}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    if (ids.has(id)) throw new Error(`${file}: two objects are ${id}`);
    ids.add(id);
  }

  const labels = k.labels ?? [];
  if (!Array.isArray(labels)) throw new Error(`${file}: labels must be a list`);
  for (const entry of labels as unknown[]) {
    if (!isRecord(entry)) throw new Error(`${file}: each labels entry must be a mapping`);
    refuseUnknown(`${file} labels`, entry, LABEL_ENTRY);
    if (entry.includeSelectors === true) throw new UnsupportedKustomization(`${file}: labels with includeSelectors: true are not supported`);
    const pairs = entry.pairs;
    if (!isRecord(pairs) || !Object.values(pairs).every((v) => typeof v === "string")) throw new Error(`${file}: labels pairs must map strings to strings`);
    for (const o of objects) {
      if (entry.includeTemplates === true && o.kind === "CronJob") throw new UnsupportedKustomization(`${file}: labels includeTemplates on a CronJob is not supported`);
      o.metadata.labels = { ...(o.metadata.labels ?? {}), ...(pairs as Record<string, string>) };
      if (entry.includeTemplates === true && POD_TEMPLATE_KINDS.has(o.kind)) {
        const template = isRecord(o.spec) && isRecord(o.spec.template) ? o.spec.template : null;
        if (template) {
          const meta = isRecord(template.metadata) ? template.metadata : (template.metadata = {});
          meta.labels = { ...(isRecord(meta.labels) ? meta.labels : {}), ...(pairs as Record<string, string>) };
        }
      }
    }
  }

  const images = k.images ?? [];
  if (!Array.isArray(images)) throw new Error(`${file}: images must be a list`);
  for (const entry of images as unknown[]) {
    if (!isRecord(entry)) throw new Error(`${file}: each images entry must be a mapping`);
    refuseUnknown(`${file} images`, entry, IMAGE_ENTRY);
    for (const key of Object.keys(entry)) if (typeof entry[key] !== "string") throw new Error(`${file}: images.${key} must be a string (quote a numeric tag)`);
    const rule = entry as unknown as ImageRule;
    if (!rule.name) throw new Error(`${file}: an images entry needs a name`);
    for (const o of objects) {
      for (const podSpec of podSpecsOf(o)) {
        for (const c of containersOf(podSpec)) if (typeof c.image === "string") c.image = applyImageRule(c.image, rule);
      }
    }
  }
  return objects;
}
