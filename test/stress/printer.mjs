// A task for the stress test: prints a deterministic output of one kind to stdout and, right after each
// write, the same bytes to a file on the host, so the test can compare what the task printed with what
// Ferry stored. Run by localkube as a pod task's command: `node printer.mjs KIND FILE SEED [N] [MS] [LINGER_MS]`.
// It opens FILE with O_EXCL, so a try whose task ran twice fails loudly instead of merging two outputs.
// On SIGTERM (a cancel or a deadline) it finishes the write it is in and exits 143, so its file and its
// log must match exactly; a SIGKILL (memory limit, eviction) may land between the two writes of a chunk.
// Given LINGER_MS, it goes on printing that long after the SIGTERM first, as a task that cleans up does:
// its Pod already reports Failed, but its container still runs.
import { mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** PRNG (mulberry32) so the test can regenerate exactly what a printer prints. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The chunks a printer of `kind` writes, in order; `n` bounds the kinds that would go on for ever. */
export function* chunks(kind, seed, n) {
  const rand = prng(seed);
  if (kind === "quiet") {
    for (let i = 1; i <= 3; i++) yield Buffer.from(`quiet ${seed} line ${i}\n`);
  } else if (kind === "ticker") {
    for (let i = 1; i <= n; i++) yield Buffer.from(`tick ${seed} ${i} ${"x".repeat(Math.floor(rand() * 80))}\n`);
  } else if (kind === "mb") {
    // n bytes in 64 KiB writes of 100-byte lines.
    for (let sent = 0, line = 0; sent < n; ) {
      const parts = [];
      for (let size = 0; size < 65536 && sent + size < n; size += 100) parts.push(`${String(line++).padStart(12, "0")} ${"m".repeat(86)}\n`);
      const buf = Buffer.from(parts.join("")).subarray(0, n - sent);
      sent += buf.length;
      yield buf;
    }
  } else if (kind === "hugeline") {
    // One line of n bytes with no newline at all, in 256 KiB writes.
    for (let sent = 0; sent < n; ) {
      const buf = Buffer.alloc(Math.min(262144, n - sent), 0x61 + (sent % 26));
      sent += buf.length;
      yield buf;
    }
  } else if (kind === "binary") {
    // Bytes that are not UTF-8 (and newlines among them), in 4 KiB writes.
    for (let sent = 0; sent < n; ) {
      const buf = Buffer.alloc(Math.min(4096, n - sent));
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
      sent += buf.length;
      yield buf;
    }
  } else if (kind === "oom") {
    for (let i = 1; i <= n; i++) yield Buffer.from(`allocating block ${i}\n`);
  } else throw new Error(`unknown kind ${kind}`);
}

function writeAll(fd, buf) {
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
    }
  }
}

async function main() {
  const [kind, file, seedText, nText = "0", msText = "0", lingerText = "0"] = process.argv.slice(2);
  const seed = Number(seedText);
  const n = Number(nText);
  const ms = Number(msText);
  mkdirSync(dirname(file), { recursive: true });
  const out = openSync(file, "wx");
  const linger = Number(lingerText);
  let stopAt = null;
  const stopping = () => stopAt !== null && Date.now() - stopAt >= linger;
  process.on("SIGTERM", () => (stopAt ??= Date.now()));
  const hold = [];
  for (const chunk of chunks(kind, seed, n)) {
    if (stopping()) process.exit(143);
    writeAll(1, chunk);
    writeAll(out, chunk);
    if (kind === "oom") hold.push(Buffer.alloc(8 * 1024 * 1024, 1));
    await new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));
  }
  if (stopAt !== null) process.exit(143);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) await main();
