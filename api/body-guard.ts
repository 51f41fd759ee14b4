// What a request body may not hold, whatever its route: a NUL character (U+0000), which Postgres
// stores in neither text nor jsonb (it would fail at the insert, a 500), and JSON nested deeper than
// MAX_BODY_DEPTH (serializing it again would exhaust the stack). Checked before the route's schema, by
// walking the parsed body without recursion.
import type { FastifyRequest } from "fastify";
import { badRequest } from "./errors.ts";

export const MAX_BODY_DEPTH = 64;

/** A path for a message: a deep one keeps its start and its end. */
function shown(path: string): string {
  return path.length > 120 ? `${path.slice(0, 60)}...${path.slice(-40)}` : path;
}

function step(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** The first problem of a parsed body, or null. */
export function unstorable(body: unknown): { field: string; message: string } | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: "body", depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) return { field: shown(path), message: `${shown(path)} contains a NUL character (U+0000), which Ferry cannot store.` };
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_BODY_DEPTH) return { field: shown(path), message: `${shown(path)} is nested more than ${MAX_BODY_DEPTH} levels deep.` };
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    for (const [key, item] of entries) {
      if (typeof key === "string" && key.includes("\u0000")) {
        return { field: shown(path), message: `${shown(path)} has a key with a NUL character (U+0000), which Ferry cannot store.` };
      }
      stack.push({ value: item, path: step(path, key), depth: depth + 1 });
    }
  }
  return null;
}

/** A preValidation hook: refuses a body Ferry could not store or serialize with 400 bad_request. */
export async function guardBody(req: FastifyRequest): Promise<void> {
  if (req.body === undefined || req.body === null) return;
  const problem = unstorable(req.body);
  if (problem) throw badRequest(problem.message, { field: problem.field });
}
