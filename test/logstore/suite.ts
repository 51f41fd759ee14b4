// One behaviour suite for every LogStore backend; backends.test.ts runs it against a folder and
// against a real S3 API (s3rver). Never asserts timings: waits poll with a generous deadline only so a
// broken writer fails instead of hanging.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { afterEach, test } from "node:test";
import {
  LogChunkNotFoundError,
  openLogStore,
  readTryLog,
  streamTryLog,
  TryLogWriter,
  type LogStore,
  type StoredChunk,
  type TryLogKey,
} from "../../logstore/index.ts";

export interface BackendHarness {
  /** A store at a location (bucket / folder) that does not exist yet, under the prefix "logs". */
  newStore(): LogStore;
  /** Whether that location exists, checked without going through the store. */
  exists(store: LogStore): Promise<boolean>;
  /** Every object / file at that location, relative to the bucket / the folder holding "logs". */
  listAll(store: LogStore): Promise<string[]>;
}

let keyCounter = 0;
function freshKey(overrides: Partial<TryLogKey> = {}): TryLogKey {
  keyCounter += 1;
  return { dagId: "nightly_report", runId: `manual__2026-01-01T00:00:00+00:00.${keyCounter}`, taskId: "extract", tryNumber: 1, ...overrides };
}

async function waitUntil(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts);
}

function seqs(chunks: StoredChunk[]): number[] {
  return chunks.map((c) => c.seq);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    range(Math.min(limit, items.length)).map(async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/**
 * A real store whose putChunk fails on chosen calls, either before the write reaches the store or
 * after it landed (a lost response). It also records the order and overlap of puts.
 */
class FlakyStore implements LogStore {
  calls = 0;
  active = 0;
  maxActive = 0;
  putSeqs: number[] = [];
  constructor(
    private readonly inner: LogStore,
    private readonly failBefore: Set<number>,
    private readonly failAfter: Set<number>,
  ) {}
  get url(): string {
    return this.inner.url;
  }
  init(): Promise<void> {
    return this.inner.init();
  }
  async putChunk(key: TryLogKey, seq: number, data: Buffer): Promise<void> {
    const call = ++this.calls;
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.putSeqs.push(seq);
    try {
      await new Promise((r) => setImmediate(r));
      if (this.failBefore.has(call)) throw new Error(`injected failure before put #${call}`);
      await this.inner.putChunk(key, seq, data);
      if (this.failAfter.has(call)) throw new Error(`injected failure after put #${call}`);
    } finally {
      this.active -= 1;
    }
  }
  listChunks(key: TryLogKey): Promise<StoredChunk[]> {
    return this.inner.listChunks(key);
  }
  getChunk(key: TryLogKey, seq: number): Promise<Buffer> {
    return this.inner.getChunk(key, seq);
  }
  deleteRunLogs(dagId: string, runId: string): Promise<void> {
    return this.inner.deleteRunLogs(dagId, runId);
  }
}

export function logStoreSuite(harness: () => BackendHarness): void {
  // A failed assertion must not leave a writer's timer or retry loop keeping the test process alive.
  const writers: TryLogWriter[] = [];
  const tracked = (writer: TryLogWriter): TryLogWriter => {
    writers.push(writer);
    return writer;
  };
  afterEach(() => {
    for (const w of writers.splice(0)) w.destroy();
  });

  async function ready(): Promise<LogStore> {
    const store = harness().newStore();
    await store.init();
    return store;
  }

  test("init creates a missing bucket/folder, and is idempotent even when run concurrently", async () => {
    const h = harness();
    const a = h.newStore();
    assert.equal(await h.exists(a), false);
    const b = openLogStore(a.url);
    try {
      await Promise.all([a.init(), b.init()]);
      assert.equal(await h.exists(a), true);
      await a.init();
      const key = freshKey();
      await b.putChunk(key, 0, Buffer.from("ok\n"));
      assert.deepEqual(await a.getChunk(key, 0), Buffer.from("ok\n"));
    } finally {
      await b.close?.();
    }
  });

  test("put, list, get; putting a seq again replaces it; a missing chunk is LogChunkNotFoundError", async () => {
    const store = await ready();
    const key = freshKey();
    assert.deepEqual(await store.listChunks(key), []);
    await store.putChunk(key, 0, Buffer.from("hello "));
    await store.putChunk(key, 1, Buffer.from("world\n"));
    assert.deepEqual(await store.listChunks(key), [
      { seq: 0, bytes: 6 },
      { seq: 1, bytes: 6 },
    ]);
    assert.deepEqual(await store.getChunk(key, 0), Buffer.from("hello "));
    await store.putChunk(key, 1, Buffer.from("there!\n"));
    assert.deepEqual(await store.listChunks(key), [
      { seq: 0, bytes: 6 },
      { seq: 1, bytes: 7 },
    ]);
    assert.deepEqual(await readTryLog(store, key), Buffer.from("hello there!\n"));
    // tries are separate logs
    assert.deepEqual(await store.listChunks({ ...key, tryNumber: 2 }), []);
    await assert.rejects(store.getChunk(key, 7), LogChunkNotFoundError);
    await assert.rejects(store.getChunk({ ...key, tryNumber: 2 }, 0), LogChunkNotFoundError);
  });

  test("more than 10 chunks, put out of order, list in numeric order", async () => {
    const store = await ready();
    const key = freshKey();
    const order = [11, 3, 10, 0, 7, 1, 9, 2, 12, 5, 4, 8, 6];
    await Promise.all(order.map((seq) => store.putChunk(key, seq, Buffer.from(`line ${seq}\n`))));
    const listed = await store.listChunks(key);
    assert.deepEqual(seqs(listed), range(13));
    assert.deepEqual(
      listed.map((c) => c.bytes),
      range(13).map((i) => Buffer.byteLength(`line ${i}\n`)),
    );
    assert.equal((await readTryLog(store, key)).toString(), range(13).map((i) => `line ${i}\n`).join(""));
  });

  test("readTryLog and streamTryLog are byte-exact, with UTF-8 and binary split across chunks", async () => {
    const store = await ready();
    const key = freshKey();
    const text = Buffer.from("héllo wörld — 日本語 🚀 ok\n", "utf8");
    const binary = Buffer.from([0, 1, 2, 10, 13, 127, 128, 192, 255, 0xc3]);
    // Cut at sizes 1..5 so cuts land inside multi-byte characters, then a few large binary chunks.
    const parts: Buffer[] = [];
    const small = Buffer.concat([text, binary]);
    for (let at = 0, size = 1; at < small.length; at += size, size = (size % 5) + 1) parts.push(small.subarray(at, at + size));
    parts.push(randomBytes(100_000), Buffer.from("é"), randomBytes(70_000));
    const whole = Buffer.concat(parts);
    await inParallel(range(parts.length), 16, (i) => store.putChunk(key, i, parts[i]));
    assert.deepEqual(await readTryLog(store, key), whole);
    assert.deepEqual(await collect(streamTryLog(store, key)), whole);
    assert.ok(parts.length > 10);
    assert.equal((await readTryLog(store, key)).subarray(0, text.length).toString("utf8"), text.toString("utf8"));
    // an unknown try streams as empty
    assert.deepEqual(await collect(streamTryLog(store, freshKey())), Buffer.alloc(0));
  });

  test("streamTryLog fetches chunks lazily (one at a time, on demand)", async () => {
    const inner = await ready();
    const key = freshKey();
    const big = randomBytes(64 * 1024);
    for (const seq of range(4)) await inner.putChunk(key, seq, big);
    let gets = 0;
    const counting: LogStore = {
      url: inner.url,
      init: () => inner.init(),
      putChunk: (k, s, d) => inner.putChunk(k, s, d),
      listChunks: (k) => inner.listChunks(k),
      getChunk: (k, s) => {
        gets += 1;
        return inner.getChunk(k, s);
      },
      deleteRunLogs: (d, r) => inner.deleteRunLogs(d, r),
    };
    const stream = streamTryLog(counting, key);
    const iter = stream[Symbol.asyncIterator]();
    const first = await iter.next();
    assert.equal(first.done, false);
    assert.ok(gets < 4, `expected lazy reads, ${gets} of 4 chunks already fetched`);
    let total = (first.value as Buffer).length;
    for (let r = await iter.next(); !r.done; r = await iter.next()) total += (r.value as Buffer).length;
    assert.equal(total, 4 * big.length);
  });

  test("writer puts a chunk as soon as maxChunkBytes is reached, and keeps the rest buffered", async () => {
    const store = await ready();
    const key = freshKey();
    const writer = tracked(new TryLogWriter(store, key, { maxChunkBytes: 10, flushIntervalMs: 3_600_000 }));
    writer.write("0123456");
    writer.write(Buffer.from("789abcdefghijKLMNO"));
    await waitUntil("two full chunks stored", () => writer.bytesStored === 20);
    assert.deepEqual(await store.listChunks(key), [
      { seq: 0, bytes: 10 },
      { seq: 1, bytes: 10 },
    ]);
    assert.equal(writer.bytesBuffered, 5);
    assert.equal(writer.nextSeq, 2);
    await writer.close();
    assert.deepEqual(await store.listChunks(key), [
      { seq: 0, bytes: 10 },
      { seq: 1, bytes: 10 },
      { seq: 2, bytes: 5 },
    ]);
    assert.equal((await readTryLog(store, key)).toString(), "0123456789abcdefghijKLMNO");
    assert.equal(writer.bytesStored, 25);
  });

  test("writer puts pending data once flushIntervalMs has passed, without flush()", async () => {
    const store = await ready();
    const key = freshKey();
    const writer = tracked(new TryLogWriter(store, key, { flushIntervalMs: 20 }));
    writer.write("a");
    writer.write("b\n");
    await waitUntil("first chunk stored", async () => (await store.listChunks(key)).length === 1);
    assert.equal((await store.getChunk(key, 0)).toString(), "ab\n");
    writer.write("c\n");
    await waitUntil("second chunk stored", async () => (await store.listChunks(key)).length === 2);
    assert.equal((await readTryLog(store, key)).toString(), "ab\nc\n");
    await writer.close();
    assert.equal((await store.listChunks(key)).length, 2, "close with nothing pending puts no empty chunk");
  });

  test("flush() and close() store everything written; writes after close are refused", async () => {
    const store = await ready();
    const key = freshKey();
    const writer = tracked(new TryLogWriter(store, key, { flushIntervalMs: 3_600_000 }));
    writer.write("one\n");
    await writer.flush();
    assert.equal(writer.bytesStored, 4);
    await writer.flush(); // nothing pending: no new chunk
    writer.write("two\n");
    writer.write("three\n");
    await writer.close();
    assert.equal((await readTryLog(store, key)).toString(), "one\ntwo\nthree\n");
    assert.deepEqual(seqs(await store.listChunks(key)), [0, 1]);
    assert.throws(() => writer.write("four\n"), /after close/);
    await writer.close();
  });

  test("toWritable pipes a stream through the writer and closes it at the end", async () => {
    const store = await ready();
    const key = freshKey();
    const writer = tracked(new TryLogWriter(store, key, { maxChunkBytes: 1000 }));
    const data = randomBytes(10_500);
    const { pipeline } = await import("node:stream/promises");
    const { Readable } = await import("node:stream");
    await pipeline(Readable.from([data.subarray(0, 3333), data.subarray(3333, 7777), data.subarray(7777)]), writer.toWritable({ highWaterBytes: 1500 }));
    assert.equal(writer.closed, true);
    assert.deepEqual(await readTryLog(store, key), data);
    assert.equal((await store.listChunks(key)).length, 11);
  });

  test("resume continues at the next seq with the stored byte count", async () => {
    const store = await ready();
    const key = freshKey();
    const output = Buffer.from("abcdefghij-and-the-rest-of-the-output\n");

    const empty = await TryLogWriter.resume(store, key);
    tracked(empty.writer);
    assert.equal(empty.storedBytes, 0);
    assert.equal(empty.writer.nextSeq, 0);
    empty.writer.destroy();

    // First executor: stores two chunks, then dies with "ij" still buffered.
    const first = tracked(new TryLogWriter(store, key, { maxChunkBytes: 4, flushIntervalMs: 3_600_000 }));
    first.write(output.subarray(0, 10));
    await waitUntil("8 bytes stored", () => first.bytesStored === 8);
    first.destroy();

    // Second executor: re-reads the Pod log from the start and skips what is stored.
    const { writer, storedBytes } = await TryLogWriter.resume(store, key, { maxChunkBytes: 4 });
    tracked(writer);
    assert.equal(storedBytes, 8);
    assert.equal(writer.nextSeq, 2);
    assert.equal(writer.bytesStored, 8);
    writer.write(output.subarray(storedBytes));
    await writer.close();
    assert.equal(writer.bytesStored, output.length);
    assert.deepEqual(await readTryLog(store, key), output);
    const chunks = await store.listChunks(key);
    assert.deepEqual(seqs(chunks), range(chunks.length));

    // And once more after a clean end: nothing to add, next seq after the last.
    const again = await TryLogWriter.resume(store, key);
    tracked(again.writer);
    assert.equal(again.storedBytes, output.length);
    assert.equal(again.writer.nextSeq, chunks.length);
    await again.writer.close();
    assert.equal((await store.listChunks(key)).length, chunks.length);
  });

  test("a writer whose store fails a few times and recovers stores every byte exactly once", async () => {
    const real = await ready();
    const key = freshKey();
    // Calls 1, 2, 6, 9-11 fail before reaching the store; calls 4 and 13 land but their response is lost.
    const flaky = new FlakyStore(real, new Set([1, 2, 6, 9, 10, 11]), new Set([4, 13]));
    const retries: number[] = [];
    const writer = tracked(new TryLogWriter(flaky, key, {
      maxChunkBytes: 50,
      flushIntervalMs: 2,
      retryBaseMs: 1,
      retryMaxMs: 4,
      onRetry: (_err, _attempt, seq) => retries.push(seq),
    }));
    const pieces = range(120).map((i) => randomBytes((i * 7) % 23));
    for (const [i, piece] of pieces.entries()) {
      writer.write(piece);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await writer.close();
    const expected = Buffer.concat(pieces);
    assert.deepEqual(await readTryLog(real, key), expected);
    assert.equal(writer.bytesStored, expected.length);
    const chunks = await real.listChunks(key);
    assert.deepEqual(seqs(chunks), range(chunks.length));
    assert.ok(chunks.every((c) => c.bytes <= 50));
    assert.equal(retries.length, 8, "every injected failure was retried");
    assert.equal(flaky.maxActive, 1, "puts are one at a time");
    assert.deepEqual(flaky.putSeqs, [...flaky.putSeqs].sort((a, b) => a - b), "puts are in seq order");
  });

  test("listChunks pages past 1000 chunks", async () => {
    const store = await ready();
    const key = freshKey();
    const n = 1005;
    await inParallel(range(n), 16, (seq) => store.putChunk(key, seq, Buffer.from(seq % 2 ? "x" : "yy")));
    const listed = await store.listChunks(key);
    assert.equal(listed.length, n);
    assert.deepEqual(seqs(listed), range(n));
    assert.equal(listed.reduce((sum, c) => sum + c.bytes, 0), 1.5 * (n - 1) + 2);
  });

  test("deleteRunLogs removes every try of every task of one run, past 1000 objects, and nothing else", async () => {
    const h = harness();
    const store = h.newStore();
    await store.init();
    const runId = "manual__2026-01-01T00:00:00+00:00";
    // 3 tasks x 2 tries x 170 chunks = 1020 objects: more than one S3 list page and one DeleteObjects call.
    const doomed: TryLogKey[] = ["extract", "count", "load"].flatMap((taskId) =>
      [1, 2].map((tryNumber) => ({ dagId: "nightly_report", runId, taskId, tryNumber })),
    );
    const puts = doomed.flatMap((key) => range(170).map((seq) => ({ key, seq })));
    await inParallel(puts, 16, ({ key, seq }) => store.putChunk(key, seq, Buffer.from(`${key.taskId} ${seq}\n`)));
    // Neighbours that share a prefix of the path without being this run.
    const kept: TryLogKey[] = [
      { dagId: "nightly_report", runId: `${runId}0`, taskId: "extract", tryNumber: 1 },
      { dagId: "nightly_report", runId: "manual__2026-01-02T00:00:00+00:00", taskId: "extract", tryNumber: 1 },
      { dagId: "nightly_report_v2", runId, taskId: "extract", tryNumber: 1 },
    ];
    for (const key of kept) await store.putChunk(key, 0, Buffer.from("keep me\n"));
    assert.equal((await h.listAll(store)).length, puts.length + kept.length);

    await store.deleteRunLogs("nightly_report", runId);

    for (const key of doomed) assert.deepEqual(await store.listChunks(key), [], `${key.taskId}/${key.tryNumber} is gone`);
    for (const key of kept) assert.equal((await readTryLog(store, key)).toString(), "keep me\n", `${key.dagId}/${key.runId} is kept`);
    assert.equal((await h.listAll(store)).length, kept.length);
    // Idempotent: again, and for a run that never had a log.
    await store.deleteRunLogs("nightly_report", runId);
    await store.deleteRunLogs("nightly_report", "never-ran");
    assert.equal((await h.listAll(store)).length, kept.length);
  });

  test("deleteRunLogs of an id that would escape its folder deletes only that id's logs", async () => {
    const h = harness();
    const store = h.newStore();
    await store.init();
    const odd: TryLogKey = { dagId: "d", runId: "..", taskId: "t", tryNumber: 1 };
    const other: TryLogKey = { dagId: "d", runId: "r", taskId: "t", tryNumber: 1 };
    await store.putChunk(odd, 0, Buffer.from("odd\n"));
    await store.putChunk(other, 0, Buffer.from("other\n"));
    await store.deleteRunLogs("d", "..");
    await store.deleteRunLogs("..", "..");
    assert.deepEqual(await store.listChunks(odd), []);
    assert.equal((await readTryLog(store, other)).toString(), "other\n");
    assert.equal((await h.listAll(store)).length, 1);
  });

  test("ids cannot escape their folder, stay distinct, and readable ones stay readable", async () => {
    const h = harness();
    const store = h.newStore();
    await store.init();
    const keys: TryLogKey[] = [
      { dagId: "..", runId: "../../etc", taskId: "a/b", tryNumber: 1 },
      { dagId: ".", runId: "/abs", taskId: "..%2F", tryNumber: 0 },
      { dagId: "d", runId: "a/b", taskId: "t", tryNumber: 1 },
      { dagId: "d", runId: "a%2Fb", taskId: "t", tryNumber: 1 },
      { dagId: "d", runId: "scheduled__2026-01-01T02:00:00+09:00", taskId: "x y~é", tryNumber: 3 },
    ];
    for (const [i, key] of keys.entries()) await store.putChunk(key, 0, Buffer.from(`log ${i}\n`));
    for (const [i, key] of keys.entries()) {
      assert.equal((await readTryLog(store, key)).toString(), `log ${i}\n`);
    }
    const all = (await h.listAll(store)).sort();
    assert.equal(all.length, keys.length);
    for (const p of all) {
      const segments = p.split("/");
      assert.equal(segments[0], "logs", `${p} is under the prefix`);
      assert.equal(segments.length, 6, `${p} is <prefix>/<dag>/<run>/<task>/<try>/<seq>.log`);
      for (const s of segments) assert.ok(s !== "" && s !== "." && s !== "..", `${p} has no empty or dot segment`);
    }
    assert.ok(all.includes("logs/d/scheduled__2026-01-01T02:00:00+09:00/x%20y%7E%C3%A9/3/00000000.log"), all.join("\n"));
    assert.ok(all.includes("logs/%2E%2E/..%2F..%2Fetc/a%2Fb/1/00000000.log"), all.join("\n"));
  });
}
