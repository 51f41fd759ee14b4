// Container log capture and serving. The file uses the CRI log format the kubelet reads
// (`<RFC3339Nano> <stream> <P|F> <content>\n`, P = partial line), so every byte keeps its arrival time
// and stream while the raw output is still reconstructible exactly. Each write appends whole records
// and only then advances `size`, so readers never see half a record and each follower gets every byte
// once, in order.

import { EventEmitter } from "node:events";
import { closeSync, openSync, writeSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { ServerResponse } from "node:http";

const baseNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
/** Wall-clock nanoseconds, monotonic within this process (Date.now alone only has ms). */
export const nowNs = (): bigint => baseNs + process.hrtime.bigint();

/** Go's `2006-01-02T15:04:05.000000000Z07:00` in UTC: always 9 fraction digits. */
export function formatNs(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}Z`;
}

function parseTsNs(ts: string): bigint {
  const secs = Date.parse(ts.slice(0, 19) + "Z");
  const frac = (ts.slice(20, 29) + "000000000").slice(0, 9);
  return BigInt(secs) * 1_000_000n + BigInt(frac);
}

const NL = 0x0a;

export class LogFile extends EventEmitter {
  /** Bytes of complete records on disk; readers never read past it. */
  size = 0;
  ended = false;
  private fd: number | undefined;

  constructor(readonly path: string) {
    super();
    this.setMaxListeners(0);
    this.fd = openSync(path, "a");
  }

  write(stream: "stdout" | "stderr", chunk: Buffer): void {
    if (this.fd === undefined || chunk.length === 0) return;
    const ts = formatNs(nowNs());
    const parts: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl === -1 ? chunk.length : nl;
      parts.push(Buffer.from(`${ts} ${stream} ${nl === -1 ? "P" : "F"} `), chunk.subarray(start, end), Buffer.from("\n"));
      start = end + 1;
    }
    const rec = Buffer.concat(parts);
    // Synchronous so `size` is exact the moment a 'data' listener runs; log volume here is small.
    writeSync(this.fd, rec);
    this.size += rec.length;
    this.emit("data");
  }

  end(): void {
    if (this.ended) return;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.ended = true;
    this.emit("end");
  }

  /** Output lines reconstructed from disk (for FallbackToLogsOnError). */
  tailText(lines: number, maxBytes: number): string {
    const out: Buffer[] = [];
    let line: Buffer[] = [];
    for (const r of splitRecords(readFileSync(this.path).subarray(0, this.size))) {
      line.push(r.content);
      if (r.full) {
        line.push(Buffer.from("\n"));
        out.push(Buffer.concat(line));
        line = [];
      }
    }
    if (line.length) out.push(Buffer.concat(line));
    const buf = Buffer.concat(out.slice(-lines));
    return buf.subarray(Math.max(0, buf.length - maxBytes)).toString("utf8");
  }
}

interface LogRecord {
  ts: string;
  full: boolean;
  content: Buffer;
  length: number; // bytes of the record on disk, newline included
}

function parseRecord(line: Buffer): Omit<LogRecord, "length"> {
  const s1 = line.indexOf(0x20);
  const s2 = line.indexOf(0x20, s1 + 1);
  const s3 = line.indexOf(0x20, s2 + 1);
  return { ts: line.subarray(0, s1).toString(), full: line[s2 + 1] === 0x46 /* F */, content: line.subarray(s3 + 1) };
}

function* splitRecords(buf: Buffer): Generator<LogRecord> {
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(NL, start);
    if (nl === -1) return;
    yield { ...parseRecord(buf.subarray(start, nl)), length: nl + 1 - start };
    start = nl + 1;
  }
}

export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceNs?: bigint;
}

/** Byte offset where the last `n` output lines start (a line is records up to an F record). */
function tailOffset(buf: Buffer, n: number): number {
  const lineStarts: number[] = [];
  let atStart = true;
  let off = 0;
  for (const r of splitRecords(buf)) {
    if (atStart) lineStarts.push(off);
    atStart = r.full;
    off += r.length;
  }
  if (n === 0) return off;
  return lineStarts.length <= n ? 0 : lineStarts[lineStarts.length - n];
}

/** Streams a container log into `res` (headers already sent); resolves when done or the client left. */
export async function streamLog(file: LogFile, res: ServerResponse, opts: LogOptions): Promise<void> {
  const fh = await open(file.path, "r");
  let gone = false;
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  const onClose = () => {
    gone = true;
    poke();
  };
  res.on("close", onClose);
  file.on("data", poke);
  file.on("end", poke);
  try {
    let offset = 0;
    if (opts.tailLines !== undefined) {
      const size = file.size;
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
      offset = tailOffset(buf, opts.tailLines);
    }
    let atLineStart = true;
    let sent = 0;
    let leftover = Buffer.alloc(0);
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const ended = file.ended; // read before size: if ended, size is final
      while (!gone && offset < file.size) {
        const want = Math.min(chunk.length, file.size - offset);
        const { bytesRead } = await fh.read(chunk, 0, want, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const buf = leftover.length ? Buffer.concat([leftover, chunk.subarray(0, bytesRead)]) : Buffer.from(chunk.subarray(0, bytesRead));
        const out: Buffer[] = [];
        let used = 0;
        for (const r of splitRecords(buf)) {
          used += r.length;
          if (opts.sinceNs !== undefined && parseTsNs(r.ts) < opts.sinceNs) continue;
          if (opts.timestamps && atLineStart) out.push(Buffer.from(r.ts + " "));
          out.push(r.content);
          if (r.full) out.push(Buffer.from("\n"));
          atLineStart = r.full;
        }
        leftover = buf.subarray(used);
        let data = Buffer.concat(out);
        if (opts.limitBytes !== undefined && sent + data.length >= opts.limitBytes) {
          data = data.subarray(0, opts.limitBytes - sent);
          await write(res, data);
          return;
        }
        sent += data.length;
        if (data.length && !(await write(res, data))) return;
      }
      if (gone || !opts.follow || (ended && offset >= file.size)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (file.ended !== ended || offset < file.size || gone) resolve();
      });
      wake = undefined;
    }
  } finally {
    res.off("close", onClose);
    file.off("data", poke);
    file.off("end", poke);
    await fh.close();
    if (!res.writableEnded) res.end();
  }
}

function write(res: ServerResponse, data: Buffer): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}
