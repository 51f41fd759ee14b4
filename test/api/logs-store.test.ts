// Reading finished logs from the log store through the API, byte for byte: a multi-MB binary log with no
// final newline, the last N lines of a log cut into many small chunks, HTTP byte ranges (206 and 416),
// and the 400s for query values that make no sense.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

/** Deterministic bytes that are not UTF-8 (0x80-0xff all over), with a newline now and then, no final one. */
function binaryPayload(size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = 12345;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x % 97 === 0 ? 0x0a : (x >> 8) & 0xff;
  }
  if (b[size - 1] === 0x0a) b[size - 1] = 0xff;
  return b;
}

/** The last n lines of `log`: a line ends at "\n"; a final line without one counts too. */
function lastLines(log: Buffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  const starts: number[] = log.length > 0 ? [0] : [];
  for (let i = 0; i < log.length - 1; i++) if (log[i] === 0x0a) starts.push(i + 1);
  return log.subarray(n >= starts.length ? 0 : starts[starts.length - n]);
}

describe("log reads from the log store", { timeout: 180_000 }, () => {
  let f: TestFerry;
  let dir: string;
  const payload = binaryPayload(3 * 1024 * 1024 + 4321);
  const ticks = Array.from({ length: 40 }, (_, i) => `tick ${i + 1}\n`).join("") + "the end, no newline";
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const logUrl = (dagId: string, query = "") => `${f.url}/api/v1/dags/${dagId}/runs/r1/tasks/t/logs${query}`;
  const get = async (dagId: string, query = "", headers: Record<string, string> = {}) => {
    const res = await fetch(logUrl(dagId, query), { headers: { ...auth, ...headers } });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const asApi = async (p: Promise<{ res: Response; bytes: Buffer }>) => {
    const { res, bytes } = await p;
    const text = bytes.toString();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, text, headers: res.headers };
  };

  before(async () => {
    // Logs far larger than a rotated kubelet log file keeps: no rotation here, so the multi-MB output
    // printed at once reaches the store whole (this file is about reading the store).
    f = await startTestFerry({ localkube: { logMaxBytes: 256 * 1024 * 1024 } });
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-logs-store-"));
    const file = path.join(dir, "payload.bin");
    await writeFile(file, payload);
    // Forty lines with pauses: at a 200 ms flush interval the log is stored as many small chunks.
    const tickScript = `for i in $(seq 1 40); do echo "tick $i"; if [ $((i % 2)) = 0 ]; then sleep 0.15; fi; done; printf 'the end, no newline'`;
    const dags = {
      logs_big: `podTask("t", { image: "alpine:3.20", command: ["sh", "-c", ${JSON.stringify(`cat '${file}'`)}] });`,
      logs_ticks: `podTask("t", { image: "alpine:3.20", command: ["sh", "-c", ${JSON.stringify(tickScript)}] });`,
    };
    for (const [dagId, body] of Object.entries(dags)) {
      assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, body))).status, 201);
      assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
    }
    for (const dagId of Object.keys(dags)) assert.equal((await f.waitForRun(dagId, "r1", 120_000)).state, "success");
  });
  after(async () => {
    await f?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves a multi-MB binary log without a final newline exactly as printed, with its length", async () => {
    const chunks = await f.ferry.logStore.listChunks({ dagId: "logs_big", runId: "r1", taskId: "t", tryNumber: 1 });
    assert.ok(chunks.length >= 4, `the log is stored in several chunks (${chunks.length})`);
    const { res, bytes } = await get("logs_big");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(res.headers.get("content-length"), String(payload.length));
    assert.equal(bytes.length, payload.length);
    assert.ok(bytes.equals(payload), "the same bytes as printed");
  });

  it("tails a log stored in many small chunks, across chunk boundaries", async () => {
    const key = { dagId: "logs_ticks", runId: "r1", taskId: "t", tryNumber: 1 };
    const chunks = await f.ferry.logStore.listChunks(key);
    assert.ok(chunks.length >= 5, `many chunks (${chunks.length})`);
    const last = await f.ferry.logStore.getChunk(key, chunks[chunks.length - 1]!.seq);
    assert.ok(last.toString().split("\n").length < 10, "ten lines reach back over more than the last chunk");
    const whole = Buffer.from(ticks);
    assert.ok((await get("logs_ticks")).bytes.equals(whole));
    for (const n of [0, 1, 2, 10, 17, 40, 41, 42, 1000]) {
      const { res, bytes } = await get("logs_ticks", `?tail=${n}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("accept-ranges"), "bytes");
      assert.equal(bytes.toString(), lastLines(whole, n).toString(), `tail=${n}`);
      assert.equal(res.headers.get("content-length"), String(bytes.length));
    }
    // Following with a tail starts at the same place and ends with the (finished) log.
    const followed = await get("logs_ticks", "?tail=3&follow=true");
    assert.equal(followed.bytes.toString(), "tick 39\ntick 40\nthe end, no newline");
    assert.equal(followed.res.headers.get("accept-ranges"), null, "no ranges on a followed log");
  });

  it("serves one byte range with 206 and Content-Range, and answers 416 for a range outside the log", async () => {
    const total = payload.length;
    const mib = 1024 * 1024;
    const cases: Array<[string, number, number]> = [
      ["bytes=0-0", 0, 0],
      ["bytes=1000-1999", 1000, 1999],
      [`bytes=${mib - 5}-${mib + 5}`, mib - 5, mib + 5], // across a chunk boundary
      [`bytes=${total - 100}-`, total - 100, total - 1],
      ["bytes=-10", total - 10, total - 1],
      [`bytes=-${total + 50}`, 0, total - 1],
      [`bytes=${total - 3}-${total + 1000}`, total - 3, total - 1],
      [" bytes = 7-8 ", 7, 8],
    ];
    for (const [range, first, last] of cases) {
      const { res, bytes } = await get("logs_big", "", { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("content-range"), `bytes ${first}-${last}/${total}`, range);
      assert.equal(res.headers.get("content-length"), String(last - first + 1), range);
      assert.equal(res.headers.get("accept-ranges"), "bytes");
      assert.ok(bytes.equals(payload.subarray(first, last + 1)), `${range}: the exact bytes`);
    }
    for (const range of [`bytes=${total}-`, `bytes=${total + 10}-${total + 20}`, "bytes=-0", "bytes=0-1,5-6", "bytes=5-1", "bytes=x-y", "bytes="]) {
      const r = await asApi(get("logs_big", "", { range }));
      apiError(r, 416, "range_not_satisfiable");
      assert.equal(r.headers.get("content-range"), `bytes */${total}`, range);
      assert.equal(r.headers.get("accept-ranges"), "bytes");
    }
    // A unit other than bytes is ignored (RFC 9110): the whole log.
    const other = await get("logs_ticks", "", { range: "lines=1-2" });
    assert.equal(other.res.status, 200);
    assert.equal(other.bytes.toString(), ticks);
  });

  it("answers 400 bad_request for a bad tail or follow, and for a range with tail or follow", async () => {
    for (const query of ["?tail=-1", "?tail=abc", "?tail=1.5", "?tail=", "?tail=1&tail=2", "?follow=maybe", "?try=x"]) {
      apiError(await asApi(get("logs_ticks", query)), 400, "bad_request");
    }
    apiError(await asApi(get("logs_ticks", "?tail=2", { range: "bytes=0-1" })), 400, "bad_request");
    apiError(await asApi(get("logs_ticks", "?follow=true", { range: "bytes=0-1" })), 400, "bad_request");
  });
});
