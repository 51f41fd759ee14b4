// The log store keeps every task try's log durably, outside the Pod. Layout (both backends):
//   <prefix>/<dagId>/<runId>/<taskId>/<tryNumber>/<seq>.log
// where <seq> is a zero-padded 8-digit chunk number starting at 00000000. Concatenating the chunks in
// name order gives exactly the container's output. Chunks are immutable once written.

import type { TryIdentity } from "../lib/pod-contract.ts";

/** A try's log is found by the try's identity, the same one that names its Pod. */
export type TryLogKey = TryIdentity;

export interface StoredChunk {
  seq: number;
  bytes: number;
}

export interface LogStore {
  /** Human-readable location, e.g. s3://bucket/prefix or file:///abs/path. */
  readonly url: string;
  /** Prepares the store (creates the bucket or folder if missing). Idempotent. */
  init(): Promise<void>;
  /** Writes one chunk. Writing the same seq again replaces it (used only on resume after a crash). */
  putChunk(key: TryLogKey, seq: number, data: Buffer): Promise<void>;
  /** The chunks stored for a try, in order. Empty if none. */
  listChunks(key: TryLogKey): Promise<StoredChunk[]>;
  /** Reads one chunk. Rejects with LogChunkNotFoundError (logstore/errors.ts) if it does not exist. */
  getChunk(key: TryLogKey, seq: number): Promise<Buffer>;
  /**
   * Deletes every log of one run (all tries of all its tasks: `<prefix>/<dagId>/<runId>/`), for
   * retention. Idempotent: logs already gone, or never written, are not an error. Rejects if any of
   * them may still be there, so the caller keeps the run's rows and tries again later.
   */
  deleteRunLogs(dagId: string, runId: string): Promise<void>;
  /** Releases connections (S3's HTTP sockets). Optional: a folder has nothing to release. */
  close?(): Promise<void>;
}
