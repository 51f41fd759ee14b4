import type { TryLogKey } from "./logstore.ts";

/** getChunk on a chunk that does not exist. Callers (e.g. the logs API) map it to 404. */
export class LogChunkNotFoundError extends Error {
  readonly code = "LOG_CHUNK_NOT_FOUND";
  constructor(
    readonly key: TryLogKey,
    readonly seq: number,
    options?: { cause?: unknown },
  ) {
    super(`log chunk ${seq} of ${key.dagId}/${key.runId}/${key.taskId}/try ${key.tryNumber} not found`, options);
    this.name = "LogChunkNotFoundError";
  }
}
