// How a try's log maps onto object keys / file paths. Shared by every backend so the layout in
// logstore.ts is defined exactly once.
import type { TryLogKey } from "./logstore.ts";

/** Highest sequence number that still fits the fixed 8-digit name (keeps name order == numeric order). */
export const MAX_SEQ = 99_999_999;

const CHUNK_NAME = /^(\d{8})\.log$/;

/**
 * Makes an id safe as one path segment. Ids are restricted upstream to [A-Za-z0-9_.-], and run ids may
 * add ':' and '+'; those stay readable. Everything else is percent-encoded, '%' included, so the mapping
 * is one-to-one ("a/b" and "a%2Fb" land in different folders), and "." / ".." are encoded too so a
 * segment can never walk out of its folder.
 */
export function escapeSegment(id: string): string {
  if (id === "") throw new Error("log store: empty id in a log key");
  if (id === ".") return "%2E";
  if (id === "..") return "%2E%2E";
  try {
    return id.replace(/[^A-Za-z0-9_.:+-]/gu, (c) => {
      const encoded = encodeURIComponent(c);
      // encodeURIComponent leaves !'()*~ alone; encode them too so only the readable set is literal.
      return encoded === c ? "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0") : encoded;
    });
  } catch {
    throw new Error(`log store: id ${JSON.stringify(id)} is not valid Unicode`);
  }
}

/** `<dagId>/<runId>`, relative to the store's prefix: the folder holding every log of one run. */
export function runPath(dagId: string, runId: string): string {
  return `${escapeSegment(dagId)}/${escapeSegment(runId)}`;
}

/** `<dagId>/<runId>/<taskId>/<tryNumber>`, relative to the store's prefix. */
export function tryPath(key: TryLogKey): string {
  if (!Number.isSafeInteger(key.tryNumber) || key.tryNumber < 0) {
    throw new Error(`log store: tryNumber must be a non-negative integer, got ${key.tryNumber}`);
  }
  return `${runPath(key.dagId, key.runId)}/${escapeSegment(key.taskId)}/${key.tryNumber}`;
}

/** `00000042.log` */
export function chunkName(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQ) {
    throw new Error(`log store: chunk seq must be an integer in 0..${MAX_SEQ}, got ${seq}`);
  }
  return `${String(seq).padStart(8, "0")}.log`;
}

/** The seq of a chunk file/object name, or undefined for anything else (temp files, strays). */
export function parseChunkName(name: string): number | undefined {
  const m = CHUNK_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** `<dagId>/<runId>/<taskId>/<tryNumber>/<seq 8 digits>.log`, relative to the store's prefix. */
export function chunkKey(key: TryLogKey, seq: number): string {
  return `${tryPath(key)}/${chunkName(seq)}`;
}
