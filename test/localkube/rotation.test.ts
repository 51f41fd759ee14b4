// Container log rotation in localkube: what the Pod log endpoint serves once a log has rotated, that a
// follower crosses rotations without losing or repeating a byte, and what stays on disk. These need
// localkube's small, configurable rotation size (a real cluster rotates at its kubelet's
// containerLogMaxSize, 10 MiB by default), so they live here rather than in test/conformance/; the files
// on disk are read in the kubelet's CRI format, which is what localkube promises to write.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Log } from "@kubernetes/client-node";
import { OUTPUT_ANNOTATION, startLocalKube } from "../../localkube/index.ts";
import { podSpec, setup, sleep, terminal, terminated, waitForPod, WORKER_COMMAND, WORKER_IMAGE, type Env } from "./helpers.ts";

const LIMIT = 4096;
const FILES = 3;

let env: Env; // processes, rotating at LIMIT, FILES files
let instant: Env; // the same limits in instant mode: a pod's whole output is one write, so file layouts are exact
let lagging: Env; // bigger files, only two kept: a follower far behind outlives the files it still has to read
before(async () => {
  [env, instant, lagging] = await Promise.all([
    setup({ logMaxBytes: LIMIT, logMaxFiles: FILES }),
    setup({ logMaxBytes: LIMIT, logMaxFiles: FILES, instant: true }),
    setup({ logMaxBytes: 64 * 1024, logMaxFiles: 2 }),
  ]);
});
after(async () => {
  await Promise.all([env?.close(), instant?.close(), lagging?.close()]);
});

const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /;
const ROTATED = /^main\.log\.\d{8}-\d{6}\.\d{9}$/;

const sh = (e: Env, name: string, script: string, extra: Parameters<typeof podSpec>[2] = {}) =>
  e.core.createNamespacedPod({ namespace: "default", body: podSpec(name, ["sh", "-c", script], extra) });
const finished = (e: Env, name: string) => waitForPod(e.core, name, (p) => terminal(p) && !!terminated(p));
const read = (e: Env, name: string, extra: { tailLines?: number; limitBytes?: number; timestamps?: boolean } = {}) =>
  e.core.readNamespacedPodLog({ name, namespace: "default", ...extra });

/** The pod's log files on disk, oldest first: rotated `main.log.<time>` files, then the current `main.log`. */
async function logFiles(e: Env, name: string): Promise<{ dir: string; names: string[] }> {
  const pod = await e.core.readNamespacedPod({ name, namespace: "default" });
  const dir = join(e.dir, "localkube", "pods", `default_${name}_${pod.metadata!.uid}`);
  const all = readdirSync(dir).filter((f) => f.startsWith("main.log"));
  const rotated = all.filter((f) => f !== "main.log").sort();
  for (const f of rotated) assert.match(f, ROTATED);
  return { dir, names: [...rotated, "main.log"] };
}

/** The output a CRI log file holds (`<time> <stream> <P|F> <content>` per record). */
function decodeCri(raw: string): string {
  assert.ok(raw === "" || raw.endsWith("\n"), "a log file ends at a record boundary");
  let out = "";
  for (const line of raw.split("\n").slice(0, -1)) {
    const m = /^\S+ (?:stdout|stderr) ([PF]) (.*)$/s.exec(line);
    assert.ok(m, `not a CRI log record: ${JSON.stringify(line.slice(0, 80))}`);
    out += m[2] + (m[1] === "F" ? "\n" : "");
  }
  return out;
}

const recordsOf = (raw: string) => raw.split("\n").length - 1;

interface Follower {
  text(): string;
  ended: Promise<void>;
  /** Lets a held follower read on. */
  release(): void;
}

/** Follows a pod's log through client-node's Log. A `held` follower stops reading (back-pressure) after its first chunk until released. */
async function follow(e: Env, name: string, opts: { timestamps?: boolean; sinceTime?: string } = {}, held = false): Promise<Follower> {
  let text = "";
  let waiting: (() => void)[] = [];
  let open = !held;
  let onEnd: () => void = () => {};
  // Bounded, so a follower that never ends fails its test instead of hanging the file.
  const ended = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the follow stream of ${name} did not end; got ${text.length} bytes`)), 120_000);
    timer.unref();
    onEnd = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString("utf8");
      if (open) cb();
      else waiting.push(cb);
    },
  });
  sink.on("finish", () => onEnd());
  await new Log(e.kc).log("default", name, "main", sink, { follow: true, ...opts });
  return {
    text: () => text,
    ended,
    release() {
      open = true;
      const cbs = waiting;
      waiting = [];
      for (const cb of cbs) cb();
    },
  };
}

async function until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const strip = (stamped: string) =>
  stamped
    .split(/(?<=\n)/)
    .map((l) => {
      assert.match(l, STAMP);
      return l.replace(STAMP, "");
    })
    .join("");

/** Lines of varied length, one longer than LIMIT, and a last line without a newline; the same text from awk and here. */
const VARIED_AWK = `awk 'BEGIN { s = "abcdefghij"; while (length(s) < 6000) s = s s; for (i = 0; i < 1500; i++) printf "line %05d %s\\n", i, substr(s, 1, i == 700 ? 6000 : (i * 37) % 300); printf "no newline at the end" }'`;
function variedText(): string {
  let s = "abcdefghij";
  while (s.length < 6000) s += s;
  const lines = Array.from({ length: 1500 }, (_, i) => `line ${String(i).padStart(5, "0")} ${s.slice(0, i === 700 ? 6000 : (i * 37) % 300)}\n`);
  return lines.join("") + "no newline at the end";
}

describe("container log rotation", { concurrency: true }, () => {
  it("a read after rotation serves exactly the output since the last rotation; tailLines, limitBytes and sinceTime apply to that file", async () => {
    // 280 records of ~80 bytes fill five files and part of a sixth (records are one per line and of fixed
    // size, so this layout is the same every run): the current file starts with early lines, then the late ones.
    await sh(env, "after-rot", 'i=0; while [ $i -lt 280 ]; do echo "early $i some padding to fill the files"; i=$((i+1)); done; sleep 1.2; for j in 1 2 3 4 5; do echo "late $j"; done');
    await finished(env, "after-rot");
    const full =
      Array.from({ length: 280 }, (_, i) => `early ${i} some padding to fill the files\n`).join("") + [1, 2, 3, 4, 5].map((j) => `late ${j}\n`).join("");
    const { dir, names } = await logFiles(env, "after-rot");
    assert.equal(names.length, FILES, `only ${FILES} files are kept: ${names.join(", ")}`);
    const decoded = names.map((f) => decodeCri(readFileSync(join(dir, f), "utf8")));
    const current = decoded.at(-1)!;
    assert.ok(full.endsWith(decoded.join("")), "the kept files hold the end of the output, in order");
    assert.ok(current.length > 0 && current.length < full.length);

    const text = await read(env, "after-rot");
    assert.equal(text, current, "only the current file is served");

    const lines = current.split(/(?<=\n)/);
    assert.ok(lines.length > 3 && lines.length < 280, `current: ${JSON.stringify(current)}`);
    assert.equal(await read(env, "after-rot", { tailLines: 3 }), lines.slice(-3).join(""));
    assert.equal(await read(env, "after-rot", { tailLines: 1000 }), current, "tailLines beyond the current file gives that file, not earlier ones");
    assert.equal(await read(env, "after-rot", { limitBytes: 10 }), current.slice(0, 10), "limitBytes counts from the current file's start");

    const stamped = await read(env, "after-rot", { timestamps: true });
    assert.equal(strip(stamped), current);
    const past = new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const sinceAll = await follow(env, "after-rot", { sinceTime: past });
    await sinceAll.ended;
    assert.equal(sinceAll.text(), current, "sinceTime long ago still reads only the current file");
    // The late lines come 1.2 s after the early ones, so the whole second of the first late line holds no early line.
    const firstLate = stamped.split("\n").find((l) => l.replace(STAMP, "").startsWith("late "))!;
    const cut = firstLate.slice(0, 19) + "Z";
    const sinceLate = await follow(env, "after-rot", { sinceTime: cut });
    await sinceLate.ended;
    assert.equal(sinceLate.text(), lines.filter((l) => l.startsWith("late ")).join(""));
  });

  it("followers open across many rotations get every byte once, in order, with or without timestamps", async () => {
    const go = join(env.dir, "go-follow");
    await sh(env, "follow-rot", `echo ready; while [ ! -e '${go}' ]; do sleep 0.05; done; ${VARIED_AWK}`);
    await waitForPod(env.core, "follow-rot", (p) => p.status?.phase === "Running");
    const [plain, stamped] = await Promise.all([follow(env, "follow-rot"), follow(env, "follow-rot", { timestamps: true })]);
    await until(() => plain.text() === "ready\n" && STAMP.test(stamped.text()), "both followers to read the first line");
    writeFileSync(go, "");
    await Promise.all([plain.ended, stamped.ended]);

    const expected = "ready\n" + variedText();
    assert.ok(expected.length > 20 * LIMIT, "the output spans many rotations");
    assert.equal(plain.text(), expected);
    assert.equal(strip(stamped.text()), expected);
    const { names } = await logFiles(env, "follow-rot");
    assert.equal(names.length, FILES);
    const text = await read(env, "follow-rot");
    assert.ok(text.length < expected.length && expected.endsWith(text), "a new read sees only the current file");
  });

  it(
    "a follower further behind than the kept files still gets every byte: files it has yet to read stay open for it",
    { skip: !existsSync("/proc/self/fd") && "needs /proc to see open files" },
    async () => {
      const go = join(lagging.dir, "go-lag");
      // 8 MB: more than socket buffers can hold, so the held follower falls far behind the 2 × 64 KiB kept.
      const script = `echo ready; while [ ! -e '${go}' ]; do sleep 0.05; done; awk 'BEGIN { s = "0123456789"; while (length(s) < 1000) s = s s; for (i = 0; i < 8000; i++) printf "%05d %s\\n", i, substr(s, 1, 994) }'`;
      await sh(lagging, "lag", script);
      await waitForPod(lagging.core, "lag", (p) => p.status?.phase === "Running");
      const slow = await follow(lagging, "lag", {}, true);
      await until(() => slow.text() === "ready\n", "the follower to read the first line");
      writeFileSync(go, "");
      await finished(lagging, "lag");

      const { dir, names } = await logFiles(lagging, "lag");
      assert.equal(names.length, 2);
      const deletedOpen = readdirSync("/proc/self/fd").filter((fd) => {
        try {
          const target = readlinkSync(`/proc/self/fd/${fd}`);
          return target.startsWith(dir) && target.endsWith(" (deleted)");
        } catch {
          return false;
        }
      });
      assert.ok(deletedOpen.length > 0, "precondition: the follower is behind files rotation has deleted");

      slow.release();
      await slow.ended;
      let s = "0123456789";
      while (s.length < 1000) s += s;
      const expected = "ready\n" + Array.from({ length: 8000 }, (_, i) => `${String(i).padStart(5, "0")} ${s.slice(0, 994)}\n`).join("");
      assert.equal(slow.text().length, expected.length);
      assert.ok(slow.text() === expected, "the follower got the output exactly");
    },
  );

  it("rotates only at record boundaries; a record bigger than the limit fills a fresh file alone", async () => {
    const big = "x".repeat(3 * LIMIT);
    await instant.core.createNamespacedPod({
      namespace: "default",
      body: { metadata: { name: "big-record", annotations: { [OUTPUT_ANNOTATION]: `small\n${big}\nafter\n` } }, spec: podSpec("big-record", ["true"]).spec },
    });
    await finished(instant, "big-record");
    const { dir, names } = await logFiles(instant, "big-record");
    const raw = names.map((f) => readFileSync(join(dir, f), "utf8"));
    assert.deepEqual(raw.map(decodeCri), ["small\n", `${big}\n`, "after\n"]);
    assert.equal(recordsOf(raw[1]), 1);
    assert.ok(Buffer.byteLength(raw[1]) > LIMIT);
    assert.equal(await read(instant, "big-record"), "after\n");
  });

  it("keeps logMaxFiles files, each within the limit, and deletes older ones", async () => {
    const out = Array.from({ length: 600 }, (_, i) => `record ${i}\n`).join("");
    await instant.core.createNamespacedPod({
      namespace: "default",
      body: { metadata: { name: "many", annotations: { [OUTPUT_ANNOTATION]: out } }, spec: podSpec("many", ["true"]).spec },
    });
    await finished(instant, "many");
    const { dir, names } = await logFiles(instant, "many");
    assert.equal(names.length, FILES, `files on disk: ${names.join(", ")}`);
    const raw = names.map((f) => readFileSync(join(dir, f), "utf8"));
    for (const r of raw) assert.ok(Buffer.byteLength(r) <= LIMIT, "a file of small records stays within the limit");
    // Each file is as full as the next record allowed: the rotated ones could not take the next record.
    for (let i = 0; i < raw.length - 1; i++) {
      const nextRecord = raw[i + 1].slice(0, raw[i + 1].indexOf("\n") + 1);
      assert.ok(Buffer.byteLength(raw[i]) + Buffer.byteLength(nextRecord) > LIMIT);
    }
    const kept = raw.map(decodeCri);
    assert.ok(out.endsWith(kept.join("")) && kept.join("").length < out.length);
    assert.equal(await read(instant, "many"), kept.at(-1));
  });

  it("FallbackToLogsOnError takes the termination message from the current file only, as a kubelet does", async () => {
    const body = podSpec("fallback", ["sh", "-c", 'i=0; while [ $i -lt 200 ]; do echo "line $i of the fallback message."; i=$((i+1)); done; exit 1']);
    body.spec!.containers[0].terminationMessagePolicy = "FallbackToLogsOnError";
    await env.core.createNamespacedPod({ namespace: "default", body });
    const p = await finished(env, "fallback");
    const message = terminated(p)!.message!;
    const current = await read(env, "fallback");
    const full = Array.from({ length: 200 }, (_, i) => `line ${i} of the fallback message.\n`).join("");
    const last80 = full.split(/(?<=\n)/).slice(-80).join("");
    assert.ok(current.length < last80.length, "precondition: the current file holds fewer than the 80 lines a message may take");
    assert.equal(message, current);
  });

  it("refuses limits a kubelet would refuse", async () => {
    // A folder of its own: a localkube that did start would clear the pods of the one in env.dir.
    const base = { dataDir: join(env.dir, "refused"), workerImage: WORKER_IMAGE, workerCommand: WORKER_COMMAND };
    await assert.rejects(startLocalKube({ ...base, logMaxFiles: 1 }), /logMaxFiles must be a whole number >= 2, got 1/);
    await assert.rejects(startLocalKube({ ...base, logMaxBytes: 0 }), /logMaxBytes must be a whole number of bytes >= 1, got 0/);
  });
});
