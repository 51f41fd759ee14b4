// Reading a stored log in pieces: where each chunk sits in the whole log, any byte range of it one
// chunk at a time and only as fast as the consumer takes it, and where its last N lines start, found
// by reading chunks backwards from the end. Nothing here ever holds more than one chunk in memory, so
// serving a 1 GB log costs no more than serving a small one.
import type { LogStore, TryLogKey } from "./logstore.ts";

export interface PlacedChunk {
  seq: number;
  /** Offset of the chunk's first byte in the whole log. */
  start: number;
  bytes: number;
}

/** The stored prefix of a try's log, as of one listing. */
export interface StoredLog {
  chunks: PlacedChunk[];
  size: number;
}

const NL = 0x0a;

/**
 * Lists a try's chunks with their offsets. Only the gap-free run from chunk 0 counts: the writer never
 * leaves holes, and a byte after one could not be placed in the log correctly.
 */
export async function listStoredLog(store: LogStore, key: TryLogKey): Promise<StoredLog> {
  const chunks: PlacedChunk[] = [];
  let size = 0;
  for (const c of await store.listChunks(key)) {
    if (c.seq !== chunks.length) break;
    chunks.push({ seq: c.seq, start: size, bytes: c.bytes });
    size += c.bytes;
  }
  return { chunks, size };
}

async function fetchChunk(store: LogStore, key: TryLogKey, c: PlacedChunk): Promise<Buffer> {
  const data = await store.getChunk(key, c.seq);
  // A chunk whose size differs from its listing would shift every later byte: fail rather than serve that.
  if (data.length !== c.bytes) throw new Error(`log chunk ${c.seq} has ${data.length} bytes, listed as ${c.bytes}`);
  return data;
}

/**
 * Bytes [from, to) of the stored log, one chunk (or a slice of one) per step. A generator, so the next
 * chunk is fetched only when the consumer asks for it.
 */
export async function* readStoredRange(store: LogStore, key: TryLogKey, log: StoredLog, from: number, to: number = log.size): AsyncGenerator<Buffer> {
  const end = Math.min(to, log.size);
  for (const c of log.chunks) {
    if (c.start + c.bytes <= from || c.bytes === 0) continue;
    if (c.start >= end) return;
    const data = await fetchChunk(store, key, c);
    yield data.subarray(Math.max(0, from - c.start), Math.min(c.bytes, end - c.start));
  }
}

/**
 * Offset where the last `lines` lines of the stored log start. A line ends at "\n"; a final line without
 * one still counts. Reads chunks from the end backwards and stops as soon as enough lines are found.
 */
export async function tailStart(store: LogStore, key: TryLogKey, log: StoredLog, lines: number): Promise<number> {
  if (lines <= 0) return log.size;
  let found = 0;
  let atEnd = true;
  for (let i = log.chunks.length - 1; i >= 0; i--) {
    const c = log.chunks[i]!;
    if (c.bytes === 0) continue;
    const data = await fetchChunk(store, key, c);
    let pos = data.length;
    // The log's very last "\n" ends its last line; it does not start another one.
    if (atEnd && data[pos - 1] === NL) pos -= 1;
    atEnd = false;
    while (pos > 0) {
      const nl = data.lastIndexOf(NL, pos - 1);
      if (nl === -1) break;
      found += 1;
      if (found === lines) return c.start + nl + 1;
      pos = nl;
    }
  }
  return 0;
}
