// The log copy resumes exactly across kubelet log rotation. localkube rotates a container's log at 64 KiB
// and then serves only the current file, as a kubelet does, so the old byte-offset resume ("read the Pod
// log from its start and skip the N bytes already stored") would skip bytes that were never stored.
// Here an executor dies after several rotations, another adopts the try and resumes from the timestamp
// checkpoint: the stored log is exactly what the task printed. And when the checkpoint's line has been
// rotated out of the file the Pod serves, the copy says so (a LogGap event) and carries on from what
// is left, so the stored log is a prefix of the output and then a contiguous tail, never misplaced.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readTryLog, type TryLogKey } from "../../logstore/index.ts";
import { stampNs } from "../../executor/pod-log-resume.ts";
import { TASK_CONTAINER_NAME } from "../../lib/pod-contract.ts";
import { extraExecutor, startTestFerry, waitFor, type ExtraExecutor, type TestFerry } from "../support/ferry.ts";

const LOG_MAX_BYTES = 64 * 1024;
const LOG_MAX_FILES = 5;
/** Each printed line is this long, newline included; in localkube's CRI file it takes 40 bytes more. */
const LINE_BYTES = 100;
const CRI_RECORD_BYTES = LINE_BYTES + 40;
const PAD = "p".repeat(LINE_BYTES - "line 000000 \n".length);

/** Lines `from` .. `to` - 1, exactly as the task's `emit` prints them. */
function lines(from: number, to: number): Buffer {
  let s = "";
  for (let i = from; i < to; i++) s += `line ${String(i).padStart(6, "0")} ${PAD}\n`;
  return Buffer.from(s);
}

// A file holds 468 records of 140 bytes, so after PHASE1 lines (five files and 230 lines) the current
// file holds the last ~23 KB, well past the stored checkpoint, and room for PHASE3 more lines.
const PHASE1 = 5 * 468 + 230;
const PHASE3 = 200;
// Scenario 2 prints this much while no executor copies: more than all the files localkube keeps.
const PHASE2 = 2600;
assert.ok(PHASE2 * CRI_RECORD_BYTES > LOG_MAX_BYTES * LOG_MAX_FILES);

/**
 * The task's script: phase 1 at a steady pace (20 lines, then 20 ms), then it waits for `gate`. With
 * `bulk`, it prints `bulk` more lines, creates `done` and waits for `gate2`. Then PHASE3 lines, and it exits.
 */
function script(o: { gate: string; bulk?: { lines: number; done: string; gate2: string } }): string {
  const emit = `emit() { i=$1; while [ $i -lt $2 ]; do printf 'line %06d %s\\n' $i ${PAD}; i=$((i+1)); if [ $((i % 20)) -eq 0 ]; then sleep 0.02; fi; done; }`;
  const wait = (file: string) => `until [ -e '${file}' ]; do sleep 0.1; done`;
  const steps = [emit, `emit 0 ${PHASE1}`, wait(o.gate)];
  let at = PHASE1;
  if (o.bulk) {
    steps.push(`emit ${at} ${at + o.bulk.lines}`, `touch '${o.bulk.done}'`, wait(o.bulk.gate2));
    at += o.bulk.lines;
  }
  steps.push(`emit ${at} ${at + PHASE3}`);
  return steps.join("; ");
}

function dagSource(dagId: string, command: string): string {
  return `
import { dag, podTask } from "ferry";
export default dag(${JSON.stringify(dagId)}, { schedule: null }, () => {
  podTask("print", { image: "busybox", command: ["sh", "-c", ${JSON.stringify(command)}] });
});
`;
}

interface Stamped {
  stamp: string;
  content: string; // with its newline
}

/** The Pod's log as its endpoint serves it now (the current file only), line by line with stamps. */
async function currentFile(f: TestFerry, podName: string): Promise<Stamped[]> {
  const text = await f.ferry.kube.core.readNamespacedPodLog({ name: podName, namespace: "default", container: TASK_CONTAINER_NAME, timestamps: true });
  assert.ok(text.endsWith("\n"), "the served log ends with a whole line");
  return text
    .split(/(?<=\n)/)
    .map((l) => {
      const sp = l.indexOf(" ");
      assert.ok(sp > 0 && stampNs(l.slice(0, sp)) !== null, `a stamped line: ${JSON.stringify(l.slice(0, 60))}`);
      return { stamp: l.slice(0, sp), content: l.slice(sp + 1) };
    });
}

async function storedBytes(f: TestFerry, key: TryLogKey): Promise<number> {
  return (await f.ferry.logStore.listChunks(key)).reduce((n, c) => n + c.bytes, 0);
}

/** The checkpoint Postgres holds for the try, which the adopting executor resumes from. */
async function checkpointOf(f: TestFerry, podName: string): Promise<{ since: string; offset: number; bytes: number }> {
  const [row] = await f.testDb.db.query<{ log_resume_since: string | null; log_resume_offset: string | null; log_bytes: string }>(
    `SELECT log_resume_since, log_resume_offset, log_bytes FROM task_tries WHERE pod_name = $1`,
    [podName],
  );
  assert.ok(row?.log_resume_since && row.log_resume_offset !== null, `the dead executor saved a checkpoint: ${JSON.stringify(row)}`);
  return { since: row.log_resume_since, offset: Number(row.log_resume_offset), bytes: Number(row.log_bytes) };
}

async function events(f: TestFerry, dagId: string, runId: string): Promise<{ type: string; reason: string; message: string }[]> {
  const res = await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/print/events?try=1`);
  assert.equal(res.status, 200, res.text);
  return res.body.events;
}

/** Starts the run and waits until the first executor has stored all of phase 1; returns the Pod's name. */
async function runUntilPhase1Stored(f: TestFerry, dagId: string, runId: string, command: string): Promise<{ key: TryLogKey; podName: string }> {
  assert.equal((await f.api("POST", "/api/v1/dags", dagSource(dagId, command))).status, 201);
  assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId })).status, 201);
  const key = { dagId, runId, taskId: "print", tryNumber: 1 };
  const phase1 = lines(0, PHASE1).length;
  await waitFor("phase 1 to be stored", async () => (await storedBytes(f, key)) >= phase1, 90_000);
  const detail = (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/print`)).body;
  const podName: string = detail.tries[0].podName;
  assert.ok(podName, "the try has a Pod");
  return { key, podName };
}

/** Waits for the run to end and for its try's log copy to be over; returns the try. */
async function finished(f: TestFerry, dagId: string, runId: string): Promise<any> {
  const run = await f.waitForRun(dagId, runId, 90_000);
  assert.equal(run.state, "success", JSON.stringify(run));
  assert.equal(run.tasks[0].tryNumber, 1, "adopted, not retried");
  return waitFor("the try's log copy to end", async () => {
    const t = (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}/tasks/print`)).body.tries[0];
    return t.logFinishedAt ? t : null;
  });
}

describe("log copy across kubelet log rotation", { timeout: 240_000 }, () => {
  let f: TestFerry;
  let second: ExtraExecutor | null = null;
  afterEach(async () => {
    await second?.stop();
    second = null;
    await f?.close();
  });

  it("an adopting executor resumes exactly where the dead one stopped, after several rotations", async () => {
    f = await startTestFerry({ s3: false, executor: { leaseMs: 1500 }, localkube: { logMaxBytes: LOG_MAX_BYTES, logMaxFiles: LOG_MAX_FILES } });
    const gate = path.join(f.dataDir, "gate");
    const { key, podName } = await runUntilPhase1Stored(f, "rotating", "r1", script({ gate }));
    const printed = Buffer.concat([lines(0, PHASE1), lines(PHASE1, PHASE1 + PHASE3)]);

    // "Crash": the executor stops without handing its try back, so its lease has to run out.
    await f.ferry.executor!.stop({ releaseLeases: false });
    const before = await readTryLog(f.ferry.logStore, key);
    assert.ok(before.equals(lines(0, PHASE1)), `the first executor stored phase 1 exactly (${before.length} bytes)`);
    const cp = await checkpointOf(f, podName);

    // Rotation happened: the Pod now serves far less than the store holds, so skipping the stored byte
    // count in what it serves would skip output that was never stored.
    const served = await currentFile(f, podName);
    const servedText = served.map((l) => l.content).join("");
    assert.ok(servedText.length > 0 && servedText.length < LOG_MAX_BYTES && servedText.length < before.length, `the Pod serves ${servedText.length} of ${before.length} bytes`);
    assert.ok(before.toString().endsWith(servedText), "the current file holds the end of phase 1");
    // Precondition of an exact resume: the checkpoint's line (the first stamped `since`) is still served.
    assert.ok(stampNs(served[0].stamp)! < stampNs(cp.since)!, `the current file starts (${served[0].stamp}) before the checkpoint ${cp.since}`);
    assert.ok(cp.offset <= before.length && cp.offset >= before.length - servedText.length, `checkpoint offset ${cp.offset} lies in the current file`);

    writeFileSync(gate, "");
    second = await extraExecutor(f, { leaseMs: 1500 });
    second.executor.start();
    const t = await finished(f, "rotating", "r1");

    const stored = await readTryLog(f.ferry.logStore, key);
    assert.equal(stored.length, printed.length, "no byte lost, none twice");
    assert.ok(stored.equals(printed), "the stored log is exactly what the task printed");
    const api = await f.api("GET", "/api/v1/dags/rotating/runs/r1/tasks/print/logs?try=1");
    assert.equal(api.status, 200);
    assert.equal(api.text, printed.toString());
    assert.equal(t.logComplete, true);
    assert.equal(t.logBytes, printed.length);
    const evs = await events(f, "rotating", "r1");
    assert.deepEqual(evs.filter((e) => e.reason === "LogGap" || e.reason === "LogIncomplete"), []);
  });

  it("when the checkpoint's line was rotated out, the gap is reported and the rest follows it, never misplaced", async () => {
    f = await startTestFerry({ executor: { leaseMs: 1500 }, localkube: { logMaxBytes: LOG_MAX_BYTES, logMaxFiles: LOG_MAX_FILES } });
    const gate = path.join(f.dataDir, "gate");
    const done = path.join(f.dataDir, "bulk-done");
    const gate2 = path.join(f.dataDir, "gate2");
    const { key, podName } = await runUntilPhase1Stored(f, "gapping", "r1", script({ gate, bulk: { lines: PHASE2, done, gate2 } }));
    const printed = lines(0, PHASE1 + PHASE2 + PHASE3);

    await f.ferry.executor!.stop({ releaseLeases: false });
    const before = await readTryLog(f.ferry.logStore, key);
    assert.ok(before.equals(lines(0, PHASE1)), `the first executor stored phase 1 exactly (${before.length} bytes)`);
    const cp = await checkpointOf(f, podName);

    // With no executor copying, the task prints more than every file localkube keeps.
    writeFileSync(gate, "");
    await waitFor("the bulk to be printed", async () => existsSync(done), 90_000);
    const served = await currentFile(f, podName);
    const servedText = served.map((l) => l.content).join("");
    assert.ok(printed.subarray(0, (PHASE1 + PHASE2) * LINE_BYTES).toString().endsWith(servedText), "the current file holds the end of the bulk");
    assert.ok(stampNs(served[0].stamp)! > stampNs(cp.since)!, `the checkpoint's line (${cp.since}) is gone from the current file (from ${served[0].stamp})`);

    second = await extraExecutor(f, { leaseMs: 1500 });
    second.executor.start();
    // Only once the adopting copy is reading (so a rotation now would be followed, not skipped) does the task go on.
    // (A resume that skipped past what the Pod serves would store nothing here, and time out.)
    await waitFor("the adopting executor to store the current file", async () => (await storedBytes(f, key)) > before.length);
    writeFileSync(gate2, "");
    const t = await finished(f, "gapping", "r1");

    const stored = await readTryLog(f.ferry.logStore, key);
    const a = before.length;
    assert.ok(stored.subarray(0, a).equals(printed.subarray(0, a)), "the stored log starts with exactly what was stored before the crash");
    const tail = stored.subarray(a);
    const b = printed.length - tail.length;
    assert.ok(b >= a, `the tail after the gap (${tail.length} bytes) overlaps what was stored before it: stored ${stored.length}, printed ${printed.length}`);
    assert.ok(tail.equals(printed.subarray(b)), "everything stored after the gap is a contiguous tail of the output");
    assert.equal(tail.toString(), servedText + lines(PHASE1 + PHASE2, PHASE1 + PHASE2 + PHASE3).toString(), "the tail is the file the Pod served, then what followed");
    assert.ok(b > a, "bytes were lost to rotation (the gap is real)");

    const api = await f.api("GET", "/api/v1/dags/gapping/runs/r1/tasks/print/logs?try=1");
    assert.equal(api.status, 200);
    assert.equal(api.text, stored.toString(), "the API serves what the store holds");
    assert.equal(t.logBytes, stored.length);

    const evs = await events(f, "gapping", "r1");
    const gaps = evs.filter((e) => e.reason === "LogGap");
    assert.equal(gaps.length, 1, JSON.stringify(evs));
    assert.equal(gaps[0].type, "Warning");
    assert.ok(gaps[0].message.includes(cp.since) && gaps[0].message.includes(served[0].stamp), `the LogGap event names the stamps: ${gaps[0].message}`);
    assert.equal(t.logComplete, false, "a log with a gap is not whole");
    assert.equal(evs.filter((e) => e.reason === "LogIncomplete").length, 1, "and the try says why it is not");
  });
});
