// Small checkers shared by the validators. Each records a problem and returns undefined instead of
// throwing, so one pass finds every problem in a DAG.
import type { DagProblem, SourcePosition } from "./types.ts";

export class Problems {
  readonly list: DagProblem[] = [];

  add(path: string, message: string, at?: SourcePosition): void {
    this.list.push(at ? { path, message, line: at.line, column: at.column } : { path, message });
  }
}

export type Json = unknown;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Describes a value for messages: what the author wrote, roughly. */
export function describe(value: unknown): string {
  if (isPlainObject(value) && typeof value.$unsupported === "string") return value.$unsupported;
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${typeof value} ${String(value)}`;
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  const safe = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
  if (base === "") return safe;
  return safe.startsWith('"') ? `${base}[${safe}]` : `${base}.${safe}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** Past this many candidates a suggestion is not worth its cost (n candidates per unknown name). */
const MAX_SUGGESTION_CANDIDATES = 1000;

export function didYouMean(name: string, candidates: readonly string[]): string {
  if (candidates.length > MAX_SUGGESTION_CANDIDATES || name.length > 200) return "";
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? ` Did you mean "${best}"?` : "";
}

export function checkKnownKeys(
  problems: Problems,
  path: string,
  value: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
  at?: SourcePosition,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      problems.add(joinPath(path, key), `unknown ${what} "${key}".${didYouMean(key, allowed)}`, at);
    }
  }
}

export function checkString(problems: Problems, path: string, value: unknown, at?: SourcePosition): string | undefined {
  if (typeof value === "string") return value;
  problems.add(path, `must be a string, got ${describe(value)}`, at);
  return undefined;
}

export function checkStringArray(problems: Problems, path: string, value: unknown, at?: SourcePosition): string[] | undefined {
  if (!Array.isArray(value)) {
    problems.add(path, `must be an array of strings, got ${describe(value)}`, at);
    return undefined;
  }
  let ok = true;
  value.forEach((item, i) => {
    if (typeof item !== "string") {
      problems.add(joinPath(path, i), `must be a string, got ${describe(item)} (convert it with String())`, at);
      ok = false;
    }
  });
  return ok ? (value as string[]) : undefined;
}

export function checkStringRecord(
  problems: Problems,
  path: string,
  value: unknown,
  at?: SourcePosition,
): Record<string, string> | undefined {
  if (!isPlainObject(value) || "$unsupported" in value) {
    problems.add(path, `must be an object of strings, got ${describe(value)}`, at);
    return undefined;
  }
  let ok = true;
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      problems.add(joinPath(path, key), `must be a string, got ${describe(item)} (convert it with String())`, at);
      ok = false;
    }
  }
  return ok ? (value as Record<string, string>) : undefined;
}

/** Checks a JSON-only value (params, Kubernetes pass-through shapes): no functions, NaN, cycles. */
export function checkJson(problems: Problems, path: string, value: unknown, at?: SourcePosition): boolean {
  if (isPlainObject(value)) {
    if (typeof value.$unsupported === "string") {
      problems.add(path, `must be JSON, got ${value.$unsupported}`, at);
      return false;
    }
    let ok = true;
    for (const [key, item] of Object.entries(value)) ok = checkJson(problems, joinPath(path, key), item, at) && ok;
    return ok;
  }
  if (Array.isArray(value)) {
    let ok = true;
    value.forEach((item, i) => {
      ok = checkJson(problems, joinPath(path, i), item, at) && ok;
    });
    return ok;
  }
  return true;
}

// The shapes Kubernetes objects are built from, for the checks of Pod fields.

export function checkBoolean(problems: Problems, path: string, value: unknown, at?: SourcePosition): boolean | undefined {
  if (typeof value === "boolean") return value;
  problems.add(path, `must be true or false, got ${describe(value)}`, at);
  return undefined;
}

export function checkInt(problems: Problems, path: string, value: unknown, min: number, at?: SourcePosition): number | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= 2147483647) return value;
  problems.add(path, `must be an integer of at least ${min}, got ${describe(value)}`, at);
  return undefined;
}

export function checkObject(problems: Problems, path: string, value: unknown, shape: string, at?: SourcePosition): Record<string, unknown> | undefined {
  if (isPlainObject(value) && !("$unsupported" in value)) return value;
  problems.add(path, `must be an object like ${shape}, got ${describe(value)}`, at);
  return undefined;
}

/** Checks an object's keys and each known field; unknown keys are problems with a suggestion. */
export function checkFields(
  problems: Problems,
  path: string,
  value: Record<string, unknown>,
  checks: Record<string, (path: string, value: unknown) => unknown>,
  what: string,
  at?: SourcePosition,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = Object.keys(checks);
  for (const [key, item] of Object.entries(value)) {
    if (!known.includes(key)) problems.add(joinPath(path, key), `unknown ${what} field "${key}"; it has ${known.join(", ")}.${didYouMean(key, known)}`, at);
    else if (item !== undefined) {
      const checked = checks[key]!(joinPath(path, key), item);
      if (checked !== undefined) out[key] = checked;
    }
  }
  return out;
}

export function checkArray(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown[] | undefined {
  if (Array.isArray(value)) return checkJson(problems, path, value, at) ? value : undefined;
  problems.add(path, `must be an array, got ${describe(value)}`, at);
  return undefined;
}

/** A list of Kubernetes objects passed through as given, each with the string field `key` it merges by, unique. */
export function checkKeyedList(problems: Problems, path: string, value: unknown, key: string, example: string, at?: SourcePosition): unknown[] | undefined {
  const list = checkArray(problems, path, value, at);
  if (list === undefined) return undefined;
  const seen = new Set<string>();
  let ok = true;
  list.forEach((item, i) => {
    const itemPath = joinPath(path, i);
    if (!isPlainObject(item)) {
      problems.add(itemPath, `must be an object like ${example}, got ${describe(item)}`, at);
      ok = false;
    } else if (typeof item[key] !== "string" || item[key] === "") {
      problems.add(joinPath(itemPath, key), `is required: a string (entries are merged by ${key})`, at);
      ok = false;
    } else if (seen.has(item[key])) {
      problems.add(joinPath(itemPath, key), `${JSON.stringify(item[key])} is given twice; each ${key} must be unique`, at);
      ok = false;
    } else seen.add(item[key]);
  });
  return ok ? list : undefined;
}

/** A Kubernetes object passed through as given (affinity, seLinuxOptions, ...): any JSON object. */
export const passThroughObject = (problems: Problems, at?: SourcePosition) => (p: string, v: unknown) => (isPlainObject(v) && checkJson(problems, p, v, at) ? v : isPlainObject(v) ? undefined : problems.add(p, `must be an object, got ${describe(v)}`, at));
