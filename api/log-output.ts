// The body of a log response as a stream its producer writes into with backpressure: write() waits while
// the client is behind, and throws ClientGone once the client has left, so a producer never reads ahead
// of the connection nor keeps reading for nobody. A producer that fails destroys the body, which makes
// the HTTP response end as an error (a cut chunked body), never a short 200.
import { PassThrough } from "node:stream";

export class ClientGone extends Error {
  override name = "ClientGone";
}

export class LogOutput {
  readonly stream = new PassThrough();
  private goneListeners = new Set<() => void>();

  constructor() {
    this.stream.on("close", () => {
      for (const l of [...this.goneListeners]) l();
      this.goneListeners.clear();
    });
  }

  /** The client went away (or the body was ended): nothing more can be sent. */
  get gone(): boolean {
    return this.stream.destroyed || this.stream.writableEnded;
  }

  /** Calls `fn` once the body closes; returns a function that cancels that. */
  onGone(fn: () => void): () => void {
    if (this.gone) {
      fn();
      return () => {};
    }
    this.goneListeners.add(fn);
    return () => this.goneListeners.delete(fn);
  }

  /** Queues `bytes`; resolves once the client has room for more. */
  async write(bytes: Buffer): Promise<void> {
    if (this.gone) throw new ClientGone("the client went away");
    if (bytes.length === 0 || this.stream.write(bytes)) return;
    await new Promise<void>((resolve) => {
      let cancel = () => {};
      const done = () => {
        this.stream.off("drain", done);
        cancel();
        resolve();
      };
      this.stream.on("drain", done);
      cancel = this.onGone(done);
    });
    if (this.stream.destroyed) throw new ClientGone("the client went away");
  }

  /** Waits `ms`, or less if the client leaves. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        cancel();
        resolve();
      }, ms);
      const cancel = this.onGone(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Runs the producer: its success ends the body, its failure destroys it. */
  run(produce: (out: LogOutput) => Promise<void>, onError: (err: unknown) => void): this {
    void (async () => {
      try {
        await produce(this);
        this.stream.end();
      } catch (err) {
        if (err instanceof ClientGone || this.stream.destroyed) return;
        onError(err);
        this.stream.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    })();
    return this;
  }
}
