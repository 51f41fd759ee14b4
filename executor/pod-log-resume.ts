// Reading a Pod's log from where the log store left off, in a way that survives kubelet log rotation.
// A kubelet rotates a container's log file (containerLogMaxSize, 10 MiB by default) and then serves
// only the current file, so "skip the first N bytes of the log" misplaces or loses bytes once a
// rotation happened. Instead the log is read with `timestamps=true`: every line comes stamped with the
// time the runtime received it, and a checkpoint (T, O) says "the first line stamped T begins at byte
// O of the stored log". To resume, the Pod is asked for its log since T; lines stamped before T are
// dropped, the rest begins at byte O, and what the store already holds past O is skipped.
//
// The kubelet stamps a line once, at its start (its 16 KiB parts after a split carry no stamp of their
// own), so a line's content is everything after the first space up to and including its newline.

export interface LogCheckpoint {
  /** A line's stamp exactly as the server sent it (RFC 3339 with nanoseconds). */
  since: string;
  /** Byte of the container's output where the first line stamped `since` begins. */
  offset: number;
}

/** Lines stamped before the checkpoint were gone from the Pod's current log file (rotated away). */
export interface LogGap {
  expected: string;
  found: string;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;
const MAX_STAMP = 64;
/** A checkpoint is kept at most every this many bytes: enough to resume near the end, few to hold. */
const CHECKPOINT_SPACING = 4096;

/** Nanoseconds since the epoch of a stamp, or null when it is not one. */
export function stampNs(stamp: string): bigint | null {
  const m = STAMP.exec(stamp);
  if (!m) return null;
  const ms = Date.parse(m[1] + m[3]);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/**
 * `sinceTime` for a checkpoint: whole seconds, rounded down. API servers hand the kubelet whole
 * seconds anyway, and the lines before the exact stamp are dropped here.
 */
export function sinceTimeFor(cp: LogCheckpoint): string {
  const ns = stampNs(cp.since);
  if (ns === null) throw new Error(`not a log timestamp: ${JSON.stringify(cp.since)}`);
  return new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Checkpoints of one try's log, oldest first, spaced out; shared by every read of one copy. */
export class CheckpointTrail {
  private points: LogCheckpoint[] = [];

  constructor(start: LogCheckpoint | null) {
    if (start) this.points.push(start);
  }

  record(cp: LogCheckpoint): void {
    const last = this.points.at(-1);
    if (last && cp.offset - last.offset < CHECKPOINT_SPACING) return;
    this.points.push(cp);
  }

  /** The latest checkpoint at or before `offset`: a read resumed from it covers every byte from `offset`. */
  at(offset: number): LogCheckpoint | null {
    let found: LogCheckpoint | null = null;
    for (const p of this.points) {
      if (p.offset > offset) break;
      found = p;
    }
    return found;
  }

  /** Forgets checkpoints older than the one for `offset` (bytes up to it are stored for good). */
  prune(offset: number): void {
    const keep = this.at(offset);
    if (keep) this.points = this.points.filter((p) => p.offset >= keep.offset);
  }
}

/**
 * Turns a `timestamps=true` log stream back into the container's exact bytes, emitting only those
 * from byte `from` on. Without a checkpoint the stream must be the log from its start.
 */
export class TimestampedLogDecoder {
  /** Byte of the container's output that the next content byte of the stream is. */
  position: number;
  gap: LogGap | null = null;
  private atLineStart = true;
  private stamp: Buffer[] = [];
  private stampBytes = 0;
  private dropping: boolean;
  private dropLine = false;
  private readonly sinceNs: bigint | null;
  private lastStamp: string | null = null;

  constructor(
    private readonly checkpoint: LogCheckpoint | null,
    private readonly from: number,
    private readonly trail: CheckpointTrail,
  ) {
    this.sinceNs = checkpoint ? stampNs(checkpoint.since) : null;
    if (checkpoint && this.sinceNs === null) throw new Error(`not a log timestamp: ${JSON.stringify(checkpoint.since)}`);
    if (checkpoint && checkpoint.offset > from) throw new Error("a log checkpoint past the resume point cannot cover it");
    this.dropping = checkpoint !== null;
    this.position = checkpoint ? checkpoint.offset : 0;
  }

  /** The container's bytes in `chunk` at or past `from`, in order (slices of `chunk`). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.atLineStart) {
        const space = chunk.indexOf(0x20, i);
        const end = space === -1 ? chunk.length : space;
        this.stamp.push(chunk.subarray(i, end));
        this.stampBytes += end - i;
        if (this.stampBytes > MAX_STAMP) throw new Error("the Pod's log lines carry no timestamps (was timestamps=true ignored?)");
        if (space === -1) return out;
        this.startLine(Buffer.concat(this.stamp).toString("latin1"));
        this.stamp = [];
        this.stampBytes = 0;
        i = space + 1;
        continue;
      }
      const nl = chunk.indexOf(0x0a, i);
      const end = nl === -1 ? chunk.length : nl + 1;
      if (!this.dropLine) {
        const len = end - i;
        const skip = Math.min(len, Math.max(0, this.from - this.position));
        if (skip < len) out.push(chunk.subarray(i + skip, end));
        this.position += len;
      }
      if (nl !== -1) {
        this.atLineStart = true;
        this.dropLine = false;
      }
      i = end;
    }
    return out;
  }

  private startLine(stamp: string): void {
    this.atLineStart = false;
    const ns = stampNs(stamp);
    if (ns === null) throw new Error(`the Pod's log has a line without a timestamp: ${JSON.stringify(stamp.slice(0, 40))}`);
    if (this.dropping) {
      if (ns < this.sinceNs!) {
        this.dropLine = true;
        return;
      }
      this.dropping = false;
      if (stamp !== this.checkpoint!.since) {
        // The lines from the checkpoint on were rotated out of the file the kubelet serves: what is
        // left starts somewhere after them. Carry on from what is stored, and say so.
        this.gap = { expected: this.checkpoint!.since, found: stamp };
        this.position = this.from;
      }
    }
    if (stamp !== this.lastStamp) {
      this.trail.record({ since: stamp, offset: this.position });
      this.lastStamp = stamp;
    }
  }
}
