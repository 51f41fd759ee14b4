// Ships one try's live output to the log store as numbered chunks. The executor feeds it the Pod's log
// stream; it cuts chunks by size or age, puts them strictly in order and one at a time, and retries a
// failed put with the same seq and bytes until it lands, so the stored log is always a prefix of the
// output: nothing dropped, nothing duplicated, never a hole.
import { Writable } from "node:stream";
import type { LogStore, TryLogKey } from "./logstore.ts";
import { MAX_SEQ } from "./paths.ts";

export interface TryLogWriterOptions {
  /** Longest a byte waits in memory before it is put (the "durable within seconds" bound). */
  flushIntervalMs?: number;
  /** Chunk size: a full chunk is put at once; no chunk is larger. */
  maxChunkBytes?: number;
  /** Seq of the first chunk this writer puts (resume continues after what is stored). */
  startSeq?: number;
  /** Bytes already stored before startSeq, so bytesStored is an offset into the whole try's log. */
  startBytes?: number;
  /** First retry delay; doubles per failed attempt (with jitter) up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Failed attempts of one chunk after which the writer gives up and fails. Default: never give up. */
  maxRetries?: number;
  /** Told about every failed put (for logging / metrics); the writer retries on its own. */
  onRetry?: (err: unknown, attempt: number, seq: number) => void;
  /** Told after each chunk lands, with the offset up to which the log is now stored. */
  onStored?: (bytesStored: number) => void;
}

type ResumeOptions = Omit<TryLogWriterOptions, "startSeq" | "startBytes">;

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class TryLogWriter {
  /**
   * Continues a try whose earlier writer died (scheduler crash). The caller re-reads the output from the
   * start, skips `storedBytes` of it, and writes the rest to `writer`.
   */
  static async resume(
    store: LogStore,
    key: TryLogKey,
    opts: ResumeOptions = {},
  ): Promise<{ writer: TryLogWriter; storedBytes: number }> {
    const chunks = await store.listChunks(key);
    // This writer never leaves holes, so one means the log was damaged outside Ferry; continuing
    // would silently misplace bytes.
    chunks.forEach((c, i) => {
      if (c.seq !== i) throw new Error(`log store: chunk ${i} of ${key.dagId}/${key.runId}/${key.taskId}/${key.tryNumber} is missing`);
    });
    const storedBytes = chunks.reduce((sum, c) => sum + c.bytes, 0);
    const writer = new TryLogWriter(store, key, { ...opts, startSeq: chunks.length, startBytes: storedBytes });
    return { writer, storedBytes };
  }

  private readonly flushIntervalMs: number;
  private readonly maxChunkBytes: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxRetries: number;
  private readonly onRetry?: TryLogWriterOptions["onRetry"];
  private readonly onStored?: TryLogWriterOptions["onStored"];

  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private accepted: number; // offset just past the last byte written to us
  private stored: number; // offset just past the last byte confirmed stored
  private seq: number;
  private flushTo = 0; // bytes up to this offset go out now, without waiting for a full chunk
  private timer: NodeJS.Timeout | undefined;
  private pump: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  private isClosed = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly store: LogStore,
    readonly key: TryLogKey,
    opts: TryLogWriterOptions = {},
  ) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.maxChunkBytes = opts.maxChunkBytes ?? 1024 * 1024;
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.maxRetries = opts.maxRetries ?? Infinity;
    this.onRetry = opts.onRetry;
    this.onStored = opts.onStored;
    this.seq = opts.startSeq ?? 0;
    this.accepted = this.stored = opts.startBytes ?? 0;
    if (!(this.maxChunkBytes >= 1)) throw new Error("TryLogWriter: maxChunkBytes must be >= 1");
    if (!(this.flushIntervalMs >= 0)) throw new Error("TryLogWriter: flushIntervalMs must be >= 0");
  }

  /** Offset into the try's log up to which every byte is durably stored. */
  get bytesStored(): number {
    return this.stored;
  }

  /** Offset just past the last byte written to the writer (stored or not). */
  get bytesAccepted(): number {
    return this.accepted;
  }

  /** Bytes written but not yet stored (grows while the store is failing). */
  get bytesBuffered(): number {
    return this.pendingBytes;
  }

  /** Seq the next chunk will be put under. */
  get nextSeq(): number {
    return this.seq;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Buffers `data`; it is put within flushIntervalMs, or at once when a chunk fills up. */
  write(data: Buffer | Uint8Array | string): void {
    if (this.failure) throw this.failure;
    if (this.isClosed) throw new Error("TryLogWriter: write after close");
    // Copy: the caller may reuse its buffer, and ours must stay intact until it is stored.
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
    if (buf.length === 0) return;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    this.accepted += buf.length;
    if (this.pendingBytes >= this.maxChunkBytes) this.kick();
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flushTo = Math.max(this.flushTo, this.accepted);
      this.kick();
    }, this.flushIntervalMs);
  }

  /** Resolves once everything written so far is stored. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const upTo = this.accepted;
    if (this.stored >= upTo) return Promise.resolve();
    this.flushTo = Math.max(this.flushTo, upTo);
    this.clearTimer();
    const done = this.waitFor(upTo);
    this.kick();
    return done;
  }

  /** Stops accepting writes and resolves once everything is stored. */
  async close(): Promise<void> {
    this.isClosed = true;
    await this.flush();
    this.clearTimer();
  }

  /** Gives up: stops timers and retries, and fails pending flush()/close(). Unstored bytes are dropped. */
  destroy(reason: Error = new Error("TryLogWriter destroyed")): void {
    if (this.failure) return;
    this.failure = reason;
    this.isClosed = true;
    this.clearTimer();
    this.wake?.();
    for (const w of this.waiters.splice(0)) w.reject(reason);
  }

  /**
   * A Writable over this writer, for `pipeline(podLogStream, writer.toWritable())`. It applies
   * backpressure while more than highWaterBytes are unstored (e.g. the store is down), and its end
   * closes the writer.
   */
  toWritable(opts: { highWaterBytes?: number } = {}): Writable {
    const highWater = opts.highWaterBytes ?? 4 * this.maxChunkBytes;
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        try {
          this.write(chunk);
        } catch (err) {
          callback(err as Error);
          return;
        }
        if (this.pendingBytes <= highWater) callback();
        else this.waitFor(this.accepted - highWater).then(() => callback(), callback);
      },
      final: (callback) => {
        this.close().then(() => callback(), callback);
      },
    });
  }

  private waitFor(upTo: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.stored >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ upTo, resolve, reject }));
  }

  private hasWork(): boolean {
    return this.pendingBytes >= this.maxChunkBytes || (this.pendingBytes > 0 && this.flushTo > this.stored);
  }

  private kick(): void {
    if (this.pump || this.failure) return;
    this.pump = this.run().then(
      () => {
        this.pump = undefined;
        if (this.hasWork()) this.kick();
      },
      (err: unknown) => {
        this.pump = undefined;
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  // The single loop that puts chunks, so they are put in order and one at a time.
  private async run(): Promise<void> {
    while (!this.failure && this.hasWork()) {
      if (this.seq > MAX_SEQ) throw new Error(`TryLogWriter: more than ${MAX_SEQ + 1} chunks in one try`);
      const size = Math.min(this.pendingBytes, this.maxChunkBytes);
      const chunk = this.peek(size);
      await this.putWithRetry(this.seq, chunk);
      this.drop(size);
      this.seq += 1;
      this.stored += size;
      this.onStored?.(this.stored);
      this.waiters = this.waiters.filter((w) => {
        if (w.upTo > this.stored) return true;
        w.resolve();
        return false;
      });
    }
  }

  // A retry puts the very same bytes under the same seq: if a "failed" put did land, the retry just
  // replaces it with identical content, so nothing is duplicated.
  private async putWithRetry(seq: number, chunk: Buffer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.putChunk(this.key, seq, chunk);
        return;
      } catch (err) {
        if (this.failure) throw this.failure;
        this.onRetry?.(err, attempt, seq);
        if (attempt >= this.maxRetries) {
          throw new Error(`TryLogWriter: putting chunk ${seq} failed ${attempt} times`, { cause: err });
        }
        const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
        await this.sleep(backoff * (0.5 + Math.random() / 2));
        if (this.failure) throw this.failure;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** The first `n` pending bytes, left in the buffer until they are stored. */
  private peek(n: number): Buffer {
    const first = this.pending[0];
    if (first.length >= n) return first.subarray(0, n);
    const parts: Buffer[] = [];
    let left = n;
    for (const b of this.pending) {
      if (left === 0) break;
      const part = b.length <= left ? b : b.subarray(0, left);
      parts.push(part);
      left -= part.length;
    }
    return Buffer.concat(parts, n);
  }

  private drop(n: number): void {
    // Count whole buffers first and remove them with one splice: shift() per buffer would be
    // quadratic when a long outage has piled up many small writes.
    let left = n;
    let whole = 0;
    while (whole < this.pending.length && this.pending[whole].length <= left) {
      left -= this.pending[whole].length;
      whole += 1;
    }
    this.pending.splice(0, whole);
    if (left > 0) this.pending[0] = this.pending[0].subarray(left);
    this.pendingBytes -= n;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
