// Entry point of the log store: pick a backend from FERRY_LOG_STORE, and read a try's log back.
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FileLogStore } from "./file.ts";
import type { LogStore, TryLogKey } from "./logstore.ts";
import { S3LogStore, type S3LogStoreOptions } from "./s3.ts";

export type { LogStore, StoredChunk, TryLogKey } from "./logstore.ts";
export { LogChunkNotFoundError } from "./errors.ts";
export { chunkKey, chunkName, escapeSegment, parseChunkName, runPath, tryPath, MAX_SEQ } from "./paths.ts";
export { FileLogStore } from "./file.ts";
export { S3LogStore, parseS3Url, s3ForcePathStyle, type S3LogStoreOptions } from "./s3.ts";
export { TryLogWriter, type TryLogWriterOptions } from "./writer.ts";

export interface OpenLogStoreOptions {
  /** Settings for the S3 backend (client config overrides, env to read). Ignored for file://. */
  s3?: S3LogStoreOptions;
  /** Base for relative file:// paths; default process.cwd(). */
  cwd?: string;
}

/** `s3://bucket/prefix` → S3LogStore; `file:///abs/path` or `file://relative/path` → FileLogStore. */
export function openLogStore(url: string, opts: OpenLogStoreOptions = {}): LogStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "s3") return new S3LogStore(url, opts.s3);
  if (scheme === "file") return new FileLogStore(fileUrlToPath(url, opts.cwd ?? process.cwd()));
  throw new Error(
    `log store: unsupported URL ${JSON.stringify(url)}; FERRY_LOG_STORE must be s3://bucket/prefix, ` +
      `file:///absolute/path or file://relative/path`,
  );
}

/** FERRY_LOG_STORE, or the embedded default: a `logs` folder in the data folder. */
export function logStoreUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_LOG_STORE) return env.FERRY_LOG_STORE;
  return pathToFileURL(path.resolve(env.FERRY_DATA_DIR || ".ferry", "logs")).href;
}

// file:///abs is a proper URL; file://relative/path is not (URL would read "relative" as a host), so
// anything not starting with a '/' after the scheme is taken as a path relative to cwd.
function fileUrlToPath(url: string, cwd: string): string {
  const rest = url.replace(/^file:\/\//i, "");
  if (rest === url || rest === "") throw new Error(`log store: ${JSON.stringify(url)} is not a file://path URL`);
  if (rest.startsWith("/")) return fileURLToPath(`file://${rest}`);
  return path.resolve(cwd, decodeURIComponent(rest));
}

/** The whole log of one try, in memory. For small logs and tests; prefer streamTryLog for serving. */
export async function readTryLog(store: LogStore, key: TryLogKey): Promise<Buffer> {
  const chunks = await store.listChunks(key);
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(await store.getChunk(key, c.seq));
  return Buffer.concat(parts);
}

/**
 * The log of one try as a byte stream, fetching one chunk at a time and only when the consumer wants
 * more, so a large log never sits in memory. The chunk list is taken once, when reading starts.
 */
export function streamTryLog(store: LogStore, key: TryLogKey): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const c of await store.listChunks(key)) {
      const data = await store.getChunk(key, c.seq);
      if (data.length > 0) yield data;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
