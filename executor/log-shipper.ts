// Copies one Pod's output to the log store while it runs, so that the log is durable within about a
// second of being printed and complete once the container ends. After a crash or a broken stream the
// copy resumes by byte offset: the container's log is re-read from its start and what the store already
// holds is skipped, so no byte is lost or stored twice.
import { Writable } from "node:stream";
import type { Logger } from "../app/logger.ts";
import type { LogStore, TryLogKey } from "../logstore/logstore.ts";
import { TryLogWriter } from "../logstore/writer.ts";
import { CONTAINER_NAME } from "./pod-spec.ts";
import { kubeFailure, openPodLog, type Kube, type PodLogStream } from "./kube.ts";

/** Unstored log bytes held in memory per try before reading from the Pod pauses. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export type ContainerState = "waiting" | "running" | "finished" | "gone";

export interface ShipResult {
  /** True when the whole output up to the container's end is in the store. */
  complete: boolean;
  bytes: number;
}

export interface LogShipperOptions {
  flushIntervalMs?: number;
  /** After the container ended, how long the open stream may take to drain before it is re-read. @default 10000 */
  drainTimeoutMs?: number;
}

export class LogShipper {
  private stateChanged: (() => void) | null = null;
  private stopped = false;
  private stream: PodLogStream | null = null;

  constructor(
    private readonly kube: Kube,
    private readonly store: LogStore,
    private readonly key: TryLogKey,
    private readonly podName: string,
    /** The container's state as the executor last saw it. */
    private readonly state: () => ContainerState,
    private readonly log: Logger,
    private readonly opts: LogShipperOptions = {},
  ) {}

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
    const { writer, storedBytes } = await TryLogWriter.resume(this.store, this.key, { flushIntervalMs: this.opts.flushIntervalMs ?? 1000 });
    let offset = storedBytes;
    let complete = false;
    let backoffMs = 250;
    try {
      while (!this.stopped) {
        const state = this.state();
        if (state === "gone") break;
        if (state === "waiting") {
          await this.waitForChange(2000);
          continue;
        }
        const attempt = await this.copyOnce(writer, offset);
        offset = attempt.offset;
        if (attempt.outcome === "stopped") break;
        if (attempt.outcome === "ended" && this.state() === "finished") {
          complete = true;
          break;
        }
        if (attempt.outcome === "not_found") break;
        if (attempt.outcome === "not_started") {
          // A container that ended without ever starting (bad command, image never pulled) has no log.
          if (this.state() === "finished") {
            complete = true;
            break;
          }
          await this.waitForChange(1000);
          continue;
        }
        if (attempt.outcome === "error") {
          await this.waitForChange(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 10_000);
        }
        if (attempt.outcome === "ended") {
          // Ended before we saw the container finish: either the connection dropped or the watch has
          // not told us yet. Give the watch a moment, then resume from `offset`.
          await this.waitForChange(500);
        }
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
    return { complete, bytes: writer.bytesStored };
  }

  /** One log request, from the start of the container's output, skipping `skip` bytes already stored. */
  private async copyOnce(
    writer: TryLogWriter,
    skip: number,
  ): Promise<{ outcome: "ended" | "not_started" | "not_found" | "error" | "stalled" | "stopped"; offset: number }> {
    let received = 0;
    let offset = skip;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const start = Math.max(0, skip - received);
        received += chunk.length;
        if (start < chunk.length) {
          const part = start === 0 ? chunk : chunk.subarray(start);
          writer.write(part);
          offset += part.length;
        }
        // While the store lags (or is down), stop reading the Pod's log instead of buffering without end.
        if (writer.bytesBuffered > MAX_BUFFERED_BYTES) writer.flush().then(() => cb(), cb);
        else cb();
      },
    });
    let stream: PodLogStream;
    try {
      stream = await openPodLog(this.kube, this.kube.namespace, this.podName, CONTAINER_NAME, sink, { follow: true });
      this.stream = stream;
      if (this.stopped) stream.abort(); // stop() came while the request was opening
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 404) return { outcome: "not_found", offset };
      if (f.code === 400 || f.code === 204) return { outcome: "not_started", offset };
      this.log.warn("log stream failed; retrying", { pod: this.podName, code: f.code, message: f.message });
      return { outcome: "error", offset };
    }
    // A stream that hangs (no end, no error) after the container has finished is read again.
    let finishedSince: number | null = null;
    for (;;) {
      const state = this.state();
      const over = state === "finished" || state === "gone";
      if (over) finishedSince ??= Date.now();
      const drainMs = this.opts.drainTimeoutMs ?? 10_000;
      const wait = finishedSince === null ? 30_000 : Math.max(0, finishedSince + drainMs - Date.now());
      const result = await Promise.race([stream.done, this.waitForChange(wait).then(() => "tick" as const)]);
      if (result === "ended") return { outcome: "ended", offset };
      if (result === "broken") return { outcome: "error", offset };
      if (this.stopped) {
        stream.abort();
        return { outcome: "stopped", offset };
      }
      if (finishedSince !== null && Date.now() - finishedSince >= drainMs) {
        stream.abort();
        return { outcome: "stalled", offset };
      }
    }
  }
}
