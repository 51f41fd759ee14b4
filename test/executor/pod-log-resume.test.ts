// Resuming a Pod log copy by timestamp: whatever byte the store stopped at, a read from its checkpoint
// gives back exactly the rest of the container's output, however the stream is cut into chunks.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CheckpointTrail, sinceTimeFor, stampNs, TimestampedLogDecoder, type LogCheckpoint } from "../../executor/pod-log-resume.ts";

interface Line {
  stamp: string;
  content: Buffer; // with its newline, except perhaps the last
}

/** A container's output as lines; several lines share a stamp (one write), some span seconds. */
function makeLog(seed: number, count: number): Line[] {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const lines: Line[] = [];
  let ns = 1_764_000_000_000_000_000n;
  for (let i = 0; i < count; i++) {
    if (i === 0 || rand() < 0.6) ns += BigInt(Math.floor(rand() * 700_000_000)); // a new write, later
    const len = Math.floor(rand() * (rand() < 0.05 ? 9000 : 60));
    const body = Buffer.alloc(len);
    for (let j = 0; j < len; j++) body[j] = rand() < 0.1 ? 0x80 + Math.floor(rand() * 0x7f) : 0x21 + Math.floor(rand() * 0x5d);
    const last = i === count - 1 && rand() < 0.5;
    lines.push({ stamp: formatStamp(ns), content: last ? body : Buffer.concat([body, Buffer.from("\n")]) });
  }
  return lines;
}

function formatStamp(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}Z`;
}

/** What a server sends with timestamps=true (and sinceTime): each line stamped once, at its start. */
function serve(lines: Line[], sinceTime?: string): Buffer {
  const since = sinceTime ? stampNs(sinceTime)! : null;
  return Buffer.concat(lines.filter((l) => since === null || stampNs(l.stamp)! >= since).flatMap((l) => [Buffer.from(l.stamp + " "), l.content]));
}

/** Feeds `data` to the decoder in pieces of random sizes. */
function decode(decoder: TimestampedLogDecoder, data: Buffer, seed: number): Buffer {
  let x = seed;
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    x = (x * 48271) % 2147483647;
    const n = 1 + (x % 50);
    out.push(...decoder.push(data.subarray(i, i + n)));
    i += n;
  }
  return Buffer.concat(out);
}

describe("timestamped Pod log resume", () => {
  it("gives back the exact output of a read from the start, cut anywhere", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const lines = makeLog(seed, 80);
      const whole = Buffer.concat(lines.map((l) => l.content));
      const got = decode(new TimestampedLogDecoder(null, 0, new CheckpointTrail(null)), serve(lines), seed);
      assert.ok(got.equals(whole), `seed ${seed}`);
    }
  });

  it("resumes from the checkpoint of any stored length with exactly the rest, even when the server sends whole seconds", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const lines = makeLog(seed, 60);
      const whole = Buffer.concat(lines.map((l) => l.content));
      const trail = new CheckpointTrail(null);
      decode(new TimestampedLogDecoder(null, 0, trail), serve(lines), seed);
      for (let stored = 0; stored <= whole.length; stored += 1 + Math.floor(whole.length / 97)) {
        const cp = trail.at(stored);
        const resumed = new TimestampedLogDecoder(cp, stored, new CheckpointTrail(cp));
        const got = decode(resumed, serve(lines, cp ? sinceTimeFor(cp) : undefined), seed + stored);
        assert.ok(got.equals(whole.subarray(stored)), `seed ${seed}, stored ${stored}`);
        assert.equal(resumed.gap, null);
        assert.equal(resumed.position, whole.length);
      }
    }
  });

  it("keeps checkpoints spaced out, never past the offset asked for", () => {
    const lines = makeLog(7, 3000);
    const trail = new CheckpointTrail(null);
    decode(new TimestampedLogDecoder(null, 0, trail), serve(lines), 7);
    const whole = Buffer.concat(lines.map((l) => l.content));
    let previous = -1;
    for (let s = 0; s <= whole.length; s += 1000) {
      const cp = trail.at(s)!;
      assert.ok(cp.offset <= s);
      assert.ok(cp.offset >= previous);
      previous = cp.offset;
    }
    trail.prune(whole.length);
    assert.equal(trail.at(0), null, "checkpoints before the stored end are forgotten");
    assert.ok(trail.at(whole.length));
  });

  it("reports a gap when the lines from the checkpoint on were rotated away, and carries on after what is stored", () => {
    const lines = makeLog(3, 40);
    const whole = Buffer.concat(lines.map((l) => l.content));
    const trail = new CheckpointTrail(null);
    decode(new TimestampedLogDecoder(null, 0, trail), serve(lines), 3);
    const stored = Math.floor(whole.length / 2);
    const cp: LogCheckpoint = trail.at(stored)!;
    // The kubelet now serves only a later file: the lines from the 30th on.
    const rotated = lines.slice(30);
    const resumed = new TimestampedLogDecoder(cp, stored, new CheckpointTrail(cp));
    const got = decode(resumed, serve(rotated, sinceTimeFor(cp)), 5);
    assert.deepEqual(resumed.gap, { expected: cp.since, found: rotated[0]!.stamp });
    assert.ok(got.equals(Buffer.concat(rotated.map((l) => l.content))));
  });

  it("refuses a stream without timestamps instead of storing it wrong", () => {
    const decoder = new TimestampedLogDecoder(null, 0, new CheckpointTrail(null));
    assert.throws(() => decoder.push(Buffer.from("hello world, this line has no stamp at all and goes on and on and on\n")), /timestamp/);
  });

  it("asks for whole seconds, rounded down", () => {
    assert.equal(sinceTimeFor({ since: "2026-12-01T22:03:14.987654321Z", offset: 0 }), "2026-12-01T22:03:14Z");
    assert.equal(stampNs("2026-12-01T22:03:14.5+01:00"), BigInt(Date.parse("2026-12-01T21:03:14Z")) * 1_000_000n + 500_000_000n);
    assert.equal(stampNs("yesterday"), null);
  });
});
