// What a client asks of the logs route: which try, follow or not, the last N lines, or one byte range
// (HTTP Range). Checked here, before anything is read, so bad input gets a 400 with a clear message.
import { badRequest } from "./errors.ts";

/** One HTTP byte range as written: `a-b`, `a-` (last = null) or `-n` (the last n bytes). */
export type ByteRange = { kind: "from"; first: number; last: number | null } | { kind: "suffix"; length: number };

export interface LogRequest {
  tryNumber: number | null;
  follow: boolean;
  tail: number | null;
  /** A Range header Ferry can act on; "multiple" and "invalid" are answered 416. */
  range: ByteRange | "multiple" | "invalid" | null;
}

export interface LogQuery {
  try?: unknown;
  follow?: unknown;
  tail?: unknown;
}

export function parseLogRequest(query: LogQuery, rangeHeader: string | undefined): LogRequest {
  const tryNumber = wholeNumber(query.try, "try", 1);
  const tail = wholeNumber(query.tail, "tail", 0);
  let follow = false;
  if (query.follow !== undefined) {
    if (query.follow === "true" || query.follow === "1" || query.follow === true) follow = true;
    else if (query.follow !== "false" && query.follow !== "0" && query.follow !== false) throw badRequest("follow must be true or false.");
  }
  const range = parseRange(rangeHeader);
  if (range !== null && tail !== null) throw badRequest("Ask for either tail or a Range, not both.");
  if (range !== null && follow) throw badRequest("A Range cannot be followed: drop the Range header or follow=true.");
  return { tryNumber, follow, tail, range };
}

function wholeNumber(raw: unknown, name: string, min: number): number | null {
  if (raw === undefined) return null;
  // A string as sent, or a number the route's query schema already made of it.
  const n = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : typeof raw === "number" ? raw : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw badRequest(`${name} must be a whole number from ${min}, got ${JSON.stringify(raw)}.`);
  return n;
}

/**
 * A Range header in another unit is ignored, as RFC 9110 asks; a `bytes` one that does not parse is
 * "invalid", and more than one range is "multiple" (Ferry serves one range per request).
 */
export function parseRange(header: string | undefined): LogRequest["range"] {
  if (header === undefined) return null;
  const m = /^\s*([A-Za-z]+)\s*=(.*)$/.exec(header);
  if (!m) return "invalid";
  if (m[1]!.toLowerCase() !== "bytes") return null;
  const specs = m[2]!
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (specs.length === 0) return "invalid";
  if (specs.length > 1) return "multiple";
  const spec = specs[0]!;
  const from = /^(\d+)-(\d*)$/.exec(spec);
  if (from) {
    const first = Number(from[1]);
    const last = from[2] === "" ? null : Number(from[2]);
    if (last !== null && last < first) return "invalid";
    return { kind: "from", first, last };
  }
  const suffix = /^-(\d+)$/.exec(spec);
  if (suffix) return { kind: "suffix", length: Number(suffix[1]) };
  return "invalid";
}

/** Bytes [start, end) of a log of `size` bytes that the range asks for, or null when none of them exist. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } | null {
  if (range.kind === "suffix") {
    if (range.length === 0 || size === 0) return null;
    return { start: Math.max(0, size - range.length), end: size };
  }
  if (range.first >= size) return null;
  return { start: range.first, end: range.last === null ? size : Math.min(range.last + 1, size) };
}
