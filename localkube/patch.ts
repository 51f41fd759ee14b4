// PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch (smp.ts), and JSON Patch (RFC 6902).

import { strategicMerge } from "./smp.ts";
import { badRequest, invalid, fieldErr, unsupportedMediaType, KubeError } from "./status.ts";

export function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: any = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k.startsWith("$setElementOrder/") || k.startsWith("$deleteFromPrimitiveList/") || k === "$retainKeys") continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const unescape = (s: string) => s.replace(/~1/g, "/").replace(/~0/g, "~");

function parsePointer(p: unknown): string[] {
  if (typeof p !== "string" || (p !== "" && !p.startsWith("/"))) throw badRequest(`json patch: invalid path ${JSON.stringify(p)}`);
  return p === "" ? [] : p.slice(1).split("/").map(unescape);
}

function parentOf(doc: any, path: string[]): [any, string] {
  let cur = doc;
  for (const seg of path.slice(0, -1)) {
    if (cur === null || typeof cur !== "object" || !(seg in cur)) throw badRequest(`json patch: path /${path.join("/")} does not exist`);
    cur = cur[seg];
  }
  return [cur, path[path.length - 1]];
}

function getAt(doc: any, path: string[]): any {
  let cur = doc;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object" || !(seg in cur)) throw badRequest(`json patch: path /${path.join("/")} does not exist`);
    cur = cur[seg];
  }
  return cur;
}

export function jsonPatch(doc: any, ops: unknown): any {
  if (!Array.isArray(ops)) throw badRequest("json patch: the patch must be a JSON array of operations");
  let root = structuredClone(doc);
  for (const op of ops as any[]) {
    const path = parsePointer(op?.path);
    const add = (value: any) => {
      if (!path.length) return void (root = value);
      const [parent, last] = parentOf(root, path);
      if (Array.isArray(parent)) {
        const i = last === "-" ? parent.length : Number(last);
        if (!Number.isInteger(i) || i < 0 || i > parent.length) throw badRequest(`json patch: index ${last} out of range`);
        parent.splice(i, 0, value);
      } else if (parent !== null && typeof parent === "object") parent[last] = value;
      else throw badRequest(`json patch: cannot add at ${op.path}`);
    };
    const remove = () => {
      const [parent, last] = parentOf(root, path);
      getAt(root, path);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    };
    switch (op?.op) {
      case "add":
        add(structuredClone(op.value));
        break;
      case "remove":
        remove();
        break;
      case "replace":
        getAt(root, path);
        remove();
        add(structuredClone(op.value));
        break;
      case "move":
      case "copy": {
        const from = parsePointer(op.from);
        const v = structuredClone(getAt(root, from));
        if (op.op === "move") {
          const [parent, last] = parentOf(root, from);
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else delete parent[last];
        }
        add(v);
        break;
      }
      case "test":
        if (JSON.stringify(getAt(root, path)) !== JSON.stringify(op.value)) throw new KubeError(invalid("Pod", "", [fieldErr.invalid("test", op.path, "testing value failed")]).body);
        break;
      default:
        throw badRequest(`json patch: unsupported operation ${JSON.stringify(op?.op)}`);
    }
  }
  return root;
}

const PATCH_TYPES = ["application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json"];

/** Rejects unsupported patch types before the body is parsed (a YAML apply patch is not JSON). */
export function checkPatchType(contentType: string): void {
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (!PATCH_TYPES.includes(type)) throw unsupportedMediaType(type);
}

/** Applies a PATCH body according to its content type; 415 for types localkube does not implement. */
export function applyPatch(current: any, contentType: string, body: unknown): any {
  const type = contentType.split(";")[0].trim().toLowerCase();
  switch (type) {
    case "application/merge-patch+json":
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the patch must be a JSON object");
      return mergePatch(current, body);
    case "application/strategic-merge-patch+json":
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the patch must be a JSON object");
      return strategicMerge(current, body);
    case "application/json-patch+json":
      return jsonPatch(current, body);
    default:
      throw unsupportedMediaType(type);
  }
}
