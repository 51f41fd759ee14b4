// Container log capture and serving. The file uses the CRI log format the kubelet reads
// (`<RFC3339Nano> <stream> <P|F> <content>\n`, P = partial line), so every byte keeps its arrival time
// and stream while the raw output is still reconstructible exactly. Each write appends whole records
// and only then advances the segment's `size`, so readers never see half a record and each follower
// gets every byte once, in order.
//
// Rotation copies the kubelet's container log manager: once the file would pass `maxBytes` it is renamed
// to `<name>.log.<timestamp>` and a fresh `<name>.log` is started, keeping at most `maxFiles` files in
// all. New requests read only the current file, as the kubelet serves only `0.log`. Unlike a kubelet,
// rotation is checked at each write, at a record boundary, instead of every 10 s.

import { EventEmitter } from "node:events";
import { closeSync, openSync, read, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
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

/** The kubelet's `20060102-150405` suffix, plus nanoseconds: localkube may rotate many times a second. */
function rotatedSuffix(ns: bigint): string {
  const iso = formatNs(ns);
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}.${iso.slice(20, 29)}`;
}

const NL = 0x0a;

export interface LogLimits {
  /** A write that would take the current file past this many bytes starts a new file first. */
  maxBytes: number;
  /** Files kept per container, the current one included (the kubelet's containerLogMaxFiles, >= 2). */
  maxFiles: number;
}

/** The kubelet's defaults: containerLogMaxSize 10Mi, containerLogMaxFiles 5. */
export const DEFAULT_LOG_LIMITS: LogLimits = { maxBytes: 10 * 1024 * 1024, maxFiles: 5 };

/**
 * One file of a container's log. `sealed` means no byte will be added (it was rotated away, or the
 * container ended); `next` is the file that replaced it, if any.
 */
export interface Segment {
  size: number;
  sealed: boolean;
  next?: Segment;
}

export class LogFile extends EventEmitter {
  /** The file at `path`, the only one new readers see. */
  current: Segment = { size: 0, sealed: false };
  ended = false;
  private fd: number | undefined;
  /** Rotated files still on disk, oldest first. */
  private readonly rotated: string[] = [];
  private lastRotationNs = 0n;

  constructor(
    readonly path: string,
    private readonly limits: LogLimits = DEFAULT_LOG_LIMITS,
  ) {
    super();
    this.setMaxListeners(0);
    this.fd = openSync(path, "a");
  }

  private lastNs = 0n;

  write(stream: "stdout" | "stderr", chunk: Buffer): void {
    if (this.fd === undefined || chunk.length === 0) return;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = () => {
      if (batchBytes === 0) return;
      // Synchronous so `size` is exact the moment a 'data' listener runs.
      writeAll(this.fd!, Buffer.concat(batch, batchBytes));
      this.current.size += batchBytes;
      batch = [];
      batchBytes = 0;
    };
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl === -1 ? chunk.length : nl;
      // Each record gets its own time, as a container runtime stamps each line as it reads it; never
      // the same as the one before, so a reader resuming from a line's stamp finds that very line.
      const ns = nowNs();
      this.lastNs = ns > this.lastNs ? ns : this.lastNs + 1n;
      const rec = Buffer.concat([Buffer.from(`${formatNs(this.lastNs)} ${stream} ${nl === -1 ? "P" : "F"} `), chunk.subarray(start, end), Buffer.from("\n")]);
      start = end + 1;
      const used = this.current.size + batchBytes;
      // A record never straddles two files; one bigger than the limit fills a fresh file on its own.
      if (used > 0 && used + rec.length > this.limits.maxBytes) {
        flush();
        this.rotate();
      }
      batch.push(rec);
      batchBytes += rec.length;
    }
    flush();
    this.emit("data");
  }

  end(): void {
    if (this.ended) return;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.current.sealed = true;
    this.ended = true;
    this.emit("end");
  }

  /**
   * Renames the current file away and starts a new one, then deletes the oldest rotated files beyond
   * `maxFiles`. Emits 'rotate' with the new segment while its file is at `path`, so a follower can open
   * it before any later rotation could delete it. If the new file cannot be made, the current one is
   * kept and simply grows, as the kubelet renames a log back when the runtime cannot reopen it.
   */
  private rotate(): void {
    let ns = nowNs();
    if (ns <= this.lastRotationNs) ns = this.lastRotationNs + 1n;
    const to = `${this.path}.${rotatedSuffix(ns)}`;
    let fd: number;
    try {
      renameSync(this.path, to);
    } catch {
      return;
    }
    try {
      fd = openSync(this.path, "a");
    } catch {
      renameSync(to, this.path);
      return;
    }
    this.lastRotationNs = ns;
    closeSync(this.fd!);
    this.fd = fd;
    this.rotated.push(to);
    while (this.rotated.length > this.limits.maxFiles - 1) rmSync(this.rotated.shift()!, { force: true });
    const next: Segment = { size: 0, sealed: false };
    this.current.sealed = true;
    this.current.next = next;
    this.current = next;
    this.emit("rotate", next);
  }

  /** Output lines of the current file reconstructed from disk (for FallbackToLogsOnError), as a kubelet reads them. */
  tailText(lines: number, maxBytes: number): string {
    const out: Buffer[] = [];
    let line: Buffer[] = [];
    for (const r of splitRecords(readFileSync(this.path).subarray(0, this.current.size))) {
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

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
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
  /** Fault: once the container ended, a follow stream stays open, silent, until the client leaves. */
  hangAtEnd?: boolean;
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

const readAt = (fd: number, buf: Buffer, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/** The first `size` bytes of a file. */
async function readHead(fd: number, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = await readAt(fd, buf.subarray(got), size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Streams a container log into `res` (headers already sent); resolves when done or the client left.
 * It reads the current file only; a follower then carries on through each file that replaces it, from
 * its start. Every file is opened in the same tick that makes it current (here, or in the 'rotate'
 * listener), so a rotation between two awaits can neither swap a file under the reader nor delete
 * one it has yet to read: an open descriptor still reads a file that rotation unlinked.
 */
export async function streamLog(file: LogFile, res: ServerResponse, opts: LogOptions): Promise<void> {
  let seg = file.current;
  let fd = openSync(file.path, "r");
  const ahead = new Map<Segment, number>();
  let gone = false;
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  const onClose = () => {
    gone = true;
    poke();
  };
  const onRotate = (next: Segment) => {
    try {
      ahead.set(next, openSync(file.path, "r"));
    } catch {
      // Missing from `ahead`: the follower stops with an error rather than skip that file's bytes.
    }
  };
  res.on("close", onClose);
  file.on("data", poke);
  file.on("end", poke);
  if (opts.follow) file.on("rotate", onRotate);
  try {
    let offset = 0;
    if (opts.tailLines !== undefined) offset = tailOffset(await readHead(fd, seg.size), opts.tailLines);
    let atLineStart = true;
    let sent = 0;
    let leftover = Buffer.alloc(0);
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const sealed = seg.sealed; // read before size: if sealed, size is final
      while (!gone && offset < seg.size) {
        const want = Math.min(chunk.length, seg.size - offset);
        const bytesRead = await readAt(fd, chunk, want, offset);
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
      if (gone || !opts.follow) return;
      if (sealed && offset >= seg.size) {
        if (!seg.next) {
          // The container ended. With the fault, keep the stream open and silent until the client leaves.
          if (opts.hangAtEnd) await new Promise<void>((resolve) => (gone ? resolve() : res.once("close", () => resolve())));
          return;
        }
        const nextFd = ahead.get(seg.next);
        if (nextFd === undefined) {
          res.destroy(new Error("localkube: could not open the rotated container log"));
          return;
        }
        ahead.delete(seg.next);
        closeSync(fd);
        fd = nextFd;
        seg = seg.next;
        offset = 0;
        leftover = Buffer.alloc(0); // records never straddle files, so this is empty already
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (seg.sealed !== sealed || offset < seg.size || gone) resolve();
      });
      wake = undefined;
    }
  } finally {
    res.off("close", onClose);
    file.off("data", poke);
    file.off("end", poke);
    file.off("rotate", onRotate);
    closeSync(fd);
    for (const f of ahead.values()) closeSync(f);
    if (!res.writableEnded && !res.destroyed) res.end();
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
