// Copies one Pod's output to the log store while it runs, so that the log is durable within about a
// second of being printed and complete once the container ends. Reads go through timestamp
// checkpoints (pod-log-reader.ts), so a copy that broke, or one an adopting executor resumes after a
// crash, carries on exactly where the store left off even after the kubelet rotated the log file.
//
// Every wait is bounded once the container has ended: a read that makes no progress for
// drainTimeoutMs is given up and read again, and after a few such tries the copy ends incomplete and
// says why; a read the API server refuses (429, 5xx) or cuts is asked again after a backoff, no sooner
// than its Retry-After, and after more of those (about a minute and a half at most) the same. Only the store may hold the copy up without bound: a store that is down delays the log,
// never drops it, and reading from the Pod pauses meanwhile so memory stays bounded.
import type { Metrics } from "../lib/metrics.ts";
import type { Logger } from "../lib/logger.ts";
import type { LogStore, TryLogKey } from "../logstore/logstore.ts";
import { TryLogWriter } from "../logstore/writer.ts";
import { kubeFailure, type Kube } from "./kube.ts";
import { kubeRetryDelayMs } from "./kube-retry.ts";
import { CheckpointTrail, type LogCheckpoint, type LogGap } from "./pod-log-resume.ts";
import { openPodLogFrom, type PodLogFromStream } from "./pod-log-reader.ts";

/** Unstored log bytes held in memory per try before reading from the Pod pauses. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Reads of an ended container's log that may stall (open, but no progress) before the copy gives up. */
const READS_AFTER_END = 3;
/**
 * Reads of an ended container's log that the API server may refuse (429, 5xx, no answer) or cut before
 * the copy gives up. Each is retried after a backoff with full jitter, never sooner than the server's
 * Retry-After (kube-retry.ts), so this many are about a minute and a half at the most.
 */
const READ_ERRORS_AFTER_END = 8;

export type ContainerState = "waiting" | "running" | "finished" | "gone";

export interface ShipResult {
  /** True when the whole output up to the container's end is in the store. */
  complete: boolean;
  bytes: number;
  /** Why the log is not complete, when it is not. */
  problem: string | null;
}

export interface LogProgress {
  bytes: number;
  checkpoint: LogCheckpoint | null;
}

/** What the copy tells the executor about itself, for the try's events. */
export interface ShipperNote {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface LogShipperOptions {
  /** Longest a printed byte waits in memory before it is put. @default 1000 */
  flushIntervalMs?: number;
  /** Largest chunk put to the store. @default 1 MiB */
  chunkBytes?: number;
  /** After the container ended, how long a read may go without progress before it is read again. @default 10000 */
  drainTimeoutMs?: number;
  /** The checkpoint Postgres holds for this try (null for a new copy). */
  checkpoint?: LogCheckpoint | null;
  /** Persists how far the store has the log (called as chunks land; calls never overlap). */
  saveProgress?: (p: LogProgress) => Promise<void>;
  note?: (n: ShipperNote) => void;
  /** Counts bytes stored and failed store writes. */
  metrics?: Pick<Metrics, "logBytes" | "logStoreErrors">;
}

type ReadOutcome = "ended" | "not_started" | "not_found" | "error" | "stalled" | "stopped";

export class LogShipper {
  private stateChanged: (() => void) | null = null;
  private stopped = false;
  private stream: PodLogFromStream | null = null;
  private writer: TryLogWriter | null = null;
  private readonly trail: CheckpointTrail;
  private saving: Promise<void> | null = null;
  private saveAgain = false;
  private storeDown = false;
  /** Part of the output had been rotated away before it could be read: the log cannot be whole. */
  private gapSeen = false;
  /** What the last failed read met, and the Retry-After its answer carried. */
  private lastError = "";
  private lastRetryAfterMs: number | null = null;

  constructor(
    private readonly kube: Kube,
    private readonly store: LogStore,
    private readonly key: TryLogKey,
    private readonly pod: { namespace: string; podName: string },
    /** The container's state as the executor last saw it. */
    private readonly state: () => ContainerState,
    private readonly log: Logger,
    private readonly opts: LogShipperOptions = {},
  ) {
    this.trail = new CheckpointTrail(opts.checkpoint ?? null);
  }

  /** Bytes of this try's log known to be in the store. */
  /** Bytes counted into the metrics so far (a resumed copy starts from what the store had). */
  private countedBytes = 0;

  get bytesStored(): number {
    return this.writer?.bytesStored ?? 0;
  }

  /** The executor calls this when the Pod's state changes, so waits end promptly. */
  poke(): void {
    this.stateChanged?.();
  }

  /**
   * Stops copying (the executor is shutting down): what was received is stored, the rest is left in
   * the Pod for the executor that adopts the try. run() then resolves with complete = false.
   */
  stop(): void {
    this.stopped = true;
    this.stream?.abort();
    this.poke();
  }

  /**
   * The wait before reading again after a failed read: `ms`, cut short only by stop() or a change of
   * the container's state (not by every poke: the watch pokes on any news of the Pod, and a backoff
   * that every event ended would send the next request at once).
   */
  private async backOff(ms: number): Promise<void> {
    const until = Date.now() + ms;
    const state = this.state();
    while (!this.stopped && this.state() === state && Date.now() < until) await this.waitForChange(until - Date.now());
  }

  /** Resolves on poke() or after `ms`. A newer wait replaces an older one, which then just times out. */
  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.stateChanged === done) self.stateChanged = null;
        resolve();
      }
      this.stateChanged = done;
    });
  }

  async run(): Promise<ShipResult> {
    const { writer } = await TryLogWriter.resume(this.store, this.key, {
      flushIntervalMs: this.opts.flushIntervalMs ?? 1000,
      maxChunkBytes: this.opts.chunkBytes,
      // A store that comes back is used again within seconds; the log waits in memory meanwhile.
      retryMaxMs: 5000,
      onStored: (bytes) => {
        this.opts.metrics?.logBytes.inc(Math.max(0, bytes - this.countedBytes));
        this.countedBytes = Math.max(this.countedBytes, bytes);
        if (this.storeDown) {
          this.storeDown = false;
          this.opts.note?.({ type: "Normal", reason: "LogStoreRecovered", message: `the log store took the log again (${bytes} bytes stored)` });
        }
        this.saveProgress();
      },
      onRetry: (err, attempt) => {
        this.opts.metrics?.logStoreErrors.inc();
        if (attempt === 3 && !this.storeDown) {
          this.storeDown = true;
          const message = `the log store refused the log (${(err as Error)?.message ?? err}); retrying with backoff, the Pod is kept until its log is stored`;
          this.log.warn("log store unavailable; retrying", { pod: this.pod.podName, err });
          this.opts.note?.({ type: "Warning", reason: "LogStoreUnavailable", message });
        }
      },
    });
    this.writer = writer;
    this.countedBytes = Math.max(this.countedBytes, writer.bytesStored);
    let problem: string | null = null;
    let complete = false;
    let errorsInARow = 0;
    let stallsAfterEnd = 0;
    let errorsAfterEnd = 0;
    try {
      while (!this.stopped) {
        const state = this.state();
        if (state === "gone") {
          problem = "the Pod was deleted before its log was read to the end";
          break;
        }
        if (state === "waiting") {
          await this.waitForChange(2000);
          continue;
        }
        const outcome = await this.readOnce(writer);
        if (outcome === "stopped") break;
        const ended = this.state() === "finished";
        if (outcome === "ended" && ended) {
          complete = true;
          break;
        }
        if (outcome === "not_found") {
          problem = "the Pod was deleted before its log was read to the end";
          break;
        }
        if (outcome === "not_started" && ended) {
          complete = true; // a container that ended without starting (bad command, no image) printed nothing
          break;
        }
        // A stalled read and a refused one are counted apart: a stream that goes quiet may do so again,
        // but an API server that sheds or fails a request (a 429, a 500) is asked again after a backoff.
        if (ended && outcome === "stalled" && ++stallsAfterEnd >= READS_AFTER_END) {
          problem = `the Pod's log could not be read to its end (${READS_AFTER_END} reads after the container ended stalled)`;
          break;
        }
        if (ended && outcome === "error" && ++errorsAfterEnd >= READ_ERRORS_AFTER_END) {
          problem = `the Pod's log could not be read to its end (${READ_ERRORS_AFTER_END} reads after the container ended failed; the last: ${this.lastError})`;
          break;
        }
        if (outcome === "error") await this.backOff(kubeRetryDelayMs(++errorsInARow, this.lastRetryAfterMs));
        else errorsInARow = 0;
        if (outcome === "not_started") await this.waitForChange(1000);
        // Ended before the container did: the connection dropped, or the watch has not told us yet.
        else if (outcome === "ended") await this.waitForChange(500);
      }
    } finally {
      if (this.stopped) {
        // Shutting down: store what arrived if the store answers soon; the adopting executor re-reads
        // the rest from the Pod, so nothing is lost by giving up on a store that is down.
        const closed = writer.close().then(() => true, () => false);
        const timer = new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref());
        if (!(await Promise.race([closed, timer]))) writer.destroy(new Error("executor stopped"));
      } else {
        await writer.close();
      }
    }
    if (complete && this.gapSeen) {
      complete = false;
      problem = "part of the output was rotated out of the Pod's log before it could be copied (see the LogGap event)";
    }
    await this.saving?.catch(() => {});
    await this.persist().catch(() => {});
    if (problem) {
      this.log.warn("log copy incomplete", { pod: this.pod.podName, problem, bytes: writer.bytesStored });
      this.opts.note?.({ type: "Warning", reason: "LogIncomplete", message: `${problem}; ${writer.bytesStored} bytes were stored` });
    }
    return { complete: complete && !this.stopped, bytes: writer.bytesStored, problem: this.stopped ? "the executor stopped" : problem };
  }

  /** One read of the Pod's log, from the first byte the writer has not been given yet. */
  private async readOnce(writer: TryLogWriter): Promise<ReadOutcome> {
    let blocked = 0;
    let lastProgress = Date.now();
    const sink = async (bytes: Buffer) => {
      lastProgress = Date.now();
      writer.write(bytes);
      // While the store lags (or is down), stop reading the Pod's log instead of buffering without end.
      if (writer.bytesBuffered > MAX_BUFFERED_BYTES) {
        blocked += 1;
        try {
          await writer.flush();
        } finally {
          blocked -= 1;
          lastProgress = Date.now();
        }
      }
    };
    let stream: PodLogFromStream;
    try {
      // Once the container has ended, a plain read returns what is left and ends by itself.
      const follow = this.state() === "running";
      stream = await openPodLogFrom(this.kube, this.pod, writer.bytesAccepted, this.trail, sink, { follow });
      this.stream = stream;
      if (this.stopped) stream.abort(); // stop() came while the request was opening
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 404) return "not_found";
      if (f.code === 400 || f.code === 204) return "not_started";
      this.log.warn("log stream failed; retrying", { pod: this.pod.podName, code: f.code, message: f.message });
      this.lastError = f.code ? `HTTP ${f.code}: ${f.message}` : f.message;
      this.lastRetryAfterMs = f.retryAfterMs;
      return "error";
    }
    const drainMs = this.opts.drainTimeoutMs ?? 10_000;
    try {
      for (;;) {
        const over = this.state() !== "running";
        // An ended container's stream must end by itself soon; one that goes quiet (and is not
        // waiting on the store) is given up and read again.
        const wait = over ? Math.max(0, lastProgress + drainMs - Date.now()) : 30_000;
        const result = await Promise.race([stream.done, this.waitForChange(Math.max(wait, 10)).then(() => "tick" as const)]);
        if (result === "ended") return "ended";
        if (result === "broken") {
          if (this.stopped) return "stopped";
          this.lastError = "the stream broke";
          this.lastRetryAfterMs = null;
          return "error";
        }
        if (this.stopped) {
          stream.abort();
          return "stopped";
        }
        if (this.state() !== "running" && blocked === 0 && Date.now() - lastProgress >= drainMs) {
          stream.abort();
          return "stalled";
        }
      }
    } finally {
      const gap = stream.gap();
      if (gap) {
        this.gapSeen = true;
        const message = `the output between ${gap.expected} and ${gap.found} had been rotated out of the Pod's log before it could be copied`;
        this.log.warn("log gap", { pod: this.pod.podName, ...gap });
        this.opts.note?.({ type: "Warning", reason: "LogGap", message });
      }
      this.stream = null;
    }
  }

  /** Persists the stored size and its checkpoint; one save at a time, the latest state winning. */
  private saveProgress(): void {
    if (!this.opts.saveProgress) return;
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = this.persist()
      .catch((err) => this.log.warn("could not save log progress; it is saved again with the next chunk", { pod: this.pod.podName, err }))
      .finally(() => {
        this.saving = null;
        if (this.saveAgain) {
          this.saveAgain = false;
          this.saveProgress();
        }
      });
  }

  private async persist(): Promise<void> {
    if (!this.opts.saveProgress || !this.writer) return;
    const bytes = this.writer.bytesStored;
    const checkpoint = this.trail.at(bytes);
    this.trail.prune(bytes);
    await this.opts.saveProgress({ bytes, checkpoint });
  }
}
