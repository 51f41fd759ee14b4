// The stored-log reader the logs route is built on, against a real folder store: byte ranges and tails
// match the whole log exactly for every chunking, chunks are fetched only as the consumer takes them,
// and a tail reads only the chunks it needs, from the end.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FileLogStore } from "../../logstore/file.ts";
import type { LogStore, TryLogKey } from "../../logstore/logstore.ts";
import { listStoredLog, readStoredRange, tailStart } from "../../logstore/reader.ts";

/** The reference: where the last n lines start, a line ending at "\n" and a final unterminated one counting. */
function referenceTailStart(log: Buffer, n: number): number {
  if (n === 0) return log.length;
  const starts: number[] = log.length > 0 ? [0] : [];
  for (let i = 0; i < log.length - 1; i++) if (log[i] === 0x0a) starts.push(i + 1);
  return n >= starts.length ? 0 : starts[starts.length - n]!;
}

/** The same store, counting the chunks it is asked for. */
function counting(store: LogStore): { store: LogStore; gets: () => number } {
  let gets = 0;
  const wrapped = Object.create(store) as LogStore;
  wrapped.getChunk = (k, s) => {
    gets += 1;
    return store.getChunk(k, s);
  };
  return { store: wrapped, gets: () => gets };
}

describe("stored log reader", () => {
  let dir: string;
  let store: FileLogStore;
  let n = 0;
  const freshKey = (): TryLogKey => ({ dagId: "reader", runId: `r${++n}`, taskId: "t", tryNumber: 1 });
  async function put(key: TryLogKey, chunks: Buffer[]): Promise<Buffer> {
    for (const [seq, c] of chunks.entries()) await store.putChunk(key, seq, c);
    return Buffer.concat(chunks);
  }
  async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const b of it) parts.push(b);
    return Buffer.concat(parts);
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-reader-"));
    store = new FileLogStore(dir);
    await store.init();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads any byte range exactly, across chunk boundaries and empty chunks", async () => {
    const key = freshKey();
    // Binary, not UTF-8, no final newline; chunk sizes uneven, one empty.
    const sizes = [7, 1, 0, 300, 64, 1, 999, 5];
    const chunks = sizes.map((size, i) => Buffer.from(Array.from({ length: size }, (_, j) => (i * 37 + j * 11 + 0x80) & 0xff)));
    const whole = await put(key, chunks);
    const log = await listStoredLog(store, key);
    assert.equal(log.size, whole.length);
    assert.deepEqual(await collect(readStoredRange(store, key, log, 0)), whole);
    for (const [from, to] of [[0, 1], [6, 8], [7, 8], [8, 308], [100, 1377], [1376, 1377], [1377, 1377], [0, 5000], [50, 50]] as const) {
      assert.deepEqual(await collect(readStoredRange(store, key, log, from, to)), whole.subarray(from, to), `bytes ${from}-${to}`);
    }
  });

  it("fetches a chunk only when the consumer asks for more", async () => {
    const key = freshKey();
    const whole = await put(key, Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i)));
    const c = counting(store);
    const it = readStoredRange(c.store, key, await listStoredLog(c.store, key), 0);
    const first = await it.next();
    assert.equal(first.done, false);
    await new Promise((r) => setImmediate(r));
    assert.equal(c.gets(), 1, "one chunk read for the first piece, none ahead of the consumer");
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    assert.deepEqual(Buffer.concat([first.value as Buffer, rest]), whole);
    assert.equal(c.gets(), 40);
  });

  it("finds the last N lines for every N, with and without a final newline, over many chunkings", async () => {
    const texts = [
      "line 1\nline 2\nline 3\n",
      "line 1\nline 2\nno newline at the end",
      "\n\n\n",
      "x",
      "\n",
      "",
      "a\n\nb\n\n",
    ];
    for (const text of texts) {
      const whole = Buffer.from(text);
      for (const cut of [1, 2, 3, 5, 100]) {
        const key = freshKey();
        const chunks: Buffer[] = [];
        for (let i = 0; i < whole.length; i += cut) chunks.push(whole.subarray(i, i + cut));
        chunks.push(Buffer.alloc(0)); // an empty last chunk must not hide the final newline
        await put(key, chunks);
        const log = await listStoredLog(store, key);
        for (let lines = 0; lines <= 6; lines++) {
          assert.equal(await tailStart(store, key, log, lines), referenceTailStart(whole, lines), `${JSON.stringify(text)} cut ${cut}, tail ${lines}`);
        }
      }
    }
  });

  it("reads only the chunks a tail needs, from the end", async () => {
    const key = freshKey();
    const chunks = Array.from({ length: 30 }, (_, i) => Buffer.from(Array.from({ length: 10 }, (_, j) => `c${i}l${j}\n`).join("")));
    const whole = await put(key, chunks);
    const c = counting(store);
    const log = await listStoredLog(c.store, key);
    const start = await tailStart(c.store, key, log, 15);
    assert.equal(start, referenceTailStart(whole, 15));
    assert.equal(c.gets(), 2, "15 lines of 10-line chunks: the last two chunks only");
  });

  it("counts only the gap-free chunks from 0 as stored", async () => {
    const key = freshKey();
    await store.putChunk(key, 0, Buffer.from("ab"));
    await store.putChunk(key, 1, Buffer.from("cd"));
    await store.putChunk(key, 3, Buffer.from("gh"));
    const log = await listStoredLog(store, key);
    assert.equal(log.size, 4);
    assert.deepEqual(await collect(readStoredRange(store, key, log, 0)), Buffer.from("abcd"));
  });
});
