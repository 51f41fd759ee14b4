// TryLogWriter behaviour that does not depend on the backend: giving up, destroy, backpressure. Runs on
// a real FileLogStore, wrapped where a test needs to hold or fail puts.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, afterEach, before, describe, test } from "node:test";
import { FileLogStore, readTryLog, TryLogWriter, type LogStore, type TryLogKey } from "../../logstore/index.ts";

/** A real store whose puts fail while `down` is true. */
function switchable(inner: LogStore): LogStore & { down: boolean; puts: number } {
  return {
    down: false,
    puts: 0,
    url: inner.url,
    init: () => inner.init(),
    async putChunk(key, seq, data) {
      this.puts += 1;
      if (this.down) throw new Error("store is down");
      await inner.putChunk(key, seq, data);
    },
    listChunks: (key) => inner.listChunks(key),
    getChunk: (key, seq) => inner.getChunk(key, seq),
    deleteRunLogs: (dagId, runId) => inner.deleteRunLogs(dagId, runId),
  };
}

describe("TryLogWriter", () => {
  let tmp: string;
  let store: FileLogStore;
  let n = 0;
  const key = (): TryLogKey => ({ dagId: "d", runId: `r${++n}`, taskId: "t", tryNumber: 1 });
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "ferry-writer-"));
    store = new FileLogStore(tmp);
    await store.init();
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  // A failed assertion must not leave a retry loop keeping the test process alive.
  const writers: TryLogWriter[] = [];
  afterEach(() => {
    for (const w of writers.splice(0)) w.destroy();
  });

  test("maxRetries: gives up, fails close(), and refuses further writes", async () => {
    const flaky = switchable(store);
    flaky.down = true;
    const errors: unknown[] = [];
    const writer = new TryLogWriter(flaky, key(), { retryBaseMs: 1, retryMaxMs: 2, maxRetries: 3, onRetry: (e) => errors.push(e) });
    writers.push(writer);
    writer.write("lost\n");
    await assert.rejects(writer.close(), /failed 3 times/);
    assert.equal(errors.length, 3);
    assert.equal(writer.bytesStored, 0);
    assert.equal(writer.bytesBuffered, 5);
    assert.throws(() => writer.write("more"), /failed 3 times/);
  });

  test("destroy() stops retrying and fails a pending flush", async () => {
    const flaky = switchable(store);
    flaky.down = true;
    const writer = new TryLogWriter(flaky, key(), { retryBaseMs: 1, retryMaxMs: 2 });
    writers.push(writer);
    writer.write("x");
    const flushed = writer.flush();
    while (flaky.puts < 2) await new Promise((r) => setTimeout(r, 2));
    writer.destroy(new Error("pod gone"));
    await assert.rejects(flushed, /pod gone/);
    const puts = flaky.puts;
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(flaky.puts <= puts + 1, "no retries after destroy");
  });

  test("toWritable holds the source back while the store is down, then delivers everything", async () => {
    const flaky = switchable(store);
    flaky.down = true;
    const k = key();
    const writer = new TryLogWriter(flaky, k, { maxChunkBytes: 1000, flushIntervalMs: 1, retryBaseMs: 1, retryMaxMs: 5 });
    writers.push(writer);
    const pieces = 200;
    const size = 1000; // 200 kB: far more than the streams' own 16 kB buffers can soak up
    let pulled = 0;
    const source = new Readable({
      read() {
        if (pulled >= pieces) return this.push(null);
        pulled += 1;
        this.push(Buffer.alloc(size, pulled % 256));
      },
    });
    const done = pipeline(source, writer.toWritable({ highWaterBytes: 5000 }));
    try {
      while (flaky.puts < 5) await new Promise((r) => setTimeout(r, 2));
      assert.ok(pulled < pieces, `backpressure: only ${pulled} of ${pieces} pieces pulled while the store is down`);
    } finally {
      flaky.down = false;
    }
    await done;
    const log = await readTryLog(store, k);
    assert.equal(log.length, pieces * size);
    for (let i = 0; i < pieces; i++) assert.equal(log[i * size], (i + 1) % 256);
  });

  test("empty writes put nothing; strings are UTF-8", async () => {
    const k = key();
    const writer = new TryLogWriter(store, k);
    writers.push(writer);
    writer.write("");
    writer.write(Buffer.alloc(0));
    await writer.flush();
    assert.deepEqual(await store.listChunks(k), []);
    writer.write("日本");
    await writer.close();
    assert.equal((await readTryLog(store, k)).toString("utf8"), "日本");
  });
});
