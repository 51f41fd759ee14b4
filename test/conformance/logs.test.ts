// Conformance: the log subresource through client-node's Log (follow, sinceTime) and
// readNamespacedPodLog — streaming, end of stream, timestamps, tailLines, limitBytes, sinceTime (whole
// seconds, and resuming a follow from a line's own timestamp), errors, and the log's lifetime (readable
// after exit, 404 once the Pod is deleted). Log rotation needs a small rotation size, so it is tested in
// test/localkube/rotation.test.ts.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { apiError, logStream, logText, openTarget, pod, raw, running, sleep, terminal, until, WAIT, waitForPod, type Target } from "./target.ts";

let t: Target;
before(async () => {
  t = await openTarget();
});
after(async () => {
  await t?.close();
});

const create = (body: V1Pod) => t.core.createNamespacedPod({ namespace: t.ns, body });
const read = (name: string, extra: { tailLines?: number; limitBytes?: number; timestamps?: boolean; container?: string } = {}) =>
  t.core.readNamespacedPodLog({ name, namespace: t.ns, ...extra });
const finished = (name: string) => waitForPod(t, name, (p) => terminal(p) && !!p.status?.containerStatuses?.[0]?.state?.terminated);
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$/;

describe("pod logs", { concurrency: true }, () => {
  it("follow streams output as it is written and ends when the container ends", async () => {
    await create(pod("follow-1", ["sh", "-c", "echo one; sleep 2; echo two"]));
    await waitForPod(t, "follow-1", running, WAIT.running);
    const f = await logStream(t, "follow-1", { follow: true });
    await until(() => f.text().startsWith("one\n"), WAIT.event, "the first line");
    assert.equal(f.text(), "one\n");
    assert.equal(f.hasEnded(), false, "the stream stays open while the container runs");
    await f.ended;
    assert.equal(f.text(), "one\ntwo\n");
  });

  it("concurrent followers each get every byte once, in order, including a final partial line", async () => {
    await create(pod("follow-2", ["sh", "-c", 'sleep 1; i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done; printf tail']));
    await waitForPod(t, "follow-2", (p) => running(p) || terminal(p), WAIT.running);
    const [a, b] = await Promise.all([logStream(t, "follow-2", { follow: true }), logStream(t, "follow-2", { follow: true })]);
    await Promise.all([a.ended, b.ended]);
    const expected = Array.from({ length: 500 }, (_, i) => `line ${i}\n`).join("") + "tail";
    assert.equal(a.text(), expected);
    assert.equal(b.text(), expected);
  });

  it("following a finished container returns its log and ends", async () => {
    await create(pod("follow-3", ["sh", "-c", "echo done"]));
    await finished("follow-3");
    const f = await logStream(t, "follow-3", { follow: true });
    await f.ended;
    assert.equal(f.text(), "done\n");
  });

  it("stdout and stderr share one log, in write order, readable after exit", async () => {
    // The pauses make the order certain on a cluster, where the two streams are separate pipes.
    await create(pod("mixed", ["sh", "-c", "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2; sleep 0.3; echo err2 >&2"]));
    await finished("mixed");
    assert.equal(await read("mixed"), "out1\nerr1\nout2\nerr2\n");
  });

  it("timestamps=true prefixes each line with RFC3339 at 9 fraction digits, UTC, and one space", async () => {
    await create(pod("stamps", ["sh", "-c", "echo a; echo 'b  c'"]));
    await finished("stamps");
    const text = await read("stamps", { timestamps: true });
    const lines = text.split("\n");
    assert.equal(lines.pop(), "");
    assert.deepEqual(lines.map((l) => STAMP.exec(l)?.[2]), ["a", "b  c"]);
    const times = lines.map((l) => Date.parse(STAMP.exec(l)![1]));
    assert.ok(times[0] <= times[1]);
    assert.ok(Math.abs(times[0] - Date.now()) < 10 * 60_000, "timestamps are about now");
    const followed = await logStream(t, "stamps", { follow: true, timestamps: true });
    await followed.ended;
    assert.equal(followed.text(), text);
  });

  it("tailLines and limitBytes select the end and the start of the log", async () => {
    await create(pod("parts", ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"]));
    await finished("parts");
    assert.equal(await read("parts"), "line1\nline2\nline3\nline4\nline5\n");
    assert.equal(await read("parts", { tailLines: 2 }), "line4\nline5\n");
    assert.equal(await read("parts", { tailLines: 10 }), "line1\nline2\nline3\nline4\nline5\n");
    assert.equal(await read("parts", { limitBytes: 8 }), "line1\nli");
    assert.equal(await read("parts", { tailLines: 2, limitBytes: 3 }), "lin");
    const tailed = await logStream(t, "parts", { follow: true, tailLines: 1 });
    await tailed.ended;
    assert.equal(tailed.text(), "line5\n");
  });

  it("sinceTime skips older lines", async () => {
    await create(pod("since", ["sh", "-c", "echo early; sleep 2; echo late"]));
    await finished("since");
    const stamped = (await read("since", { timestamps: true })).trim().split("\n");
    const early = Date.parse(STAMP.exec(stamped[0])![1]);
    // sinceTime has second precision: the next whole second after "early" is before "late" (2 s later).
    const cut = new Date(Math.floor(early / 1000) * 1000 + 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    assert.equal(await logText(t, "since", { sinceTime: cut }), "late\n");
    const past = new Date(Date.now() - 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    assert.equal(await logText(t, "since", { sinceTime: past }), "early\nlate\n");
    const future = new Date(Date.now() + 10 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    assert.equal(await logText(t, "since", { sinceTime: future }), "");
    assert.equal(await logText(t, "since", { sinceTime: past, tailLines: 1 }), "late\n");
  });

  it("sinceTime counts whole seconds: a fraction is dropped, so the lines from the start of that second come back", async () => {
    await create(pod("since-frac", ["sh", "-c", "echo early; sleep 2; echo late; echo later"]));
    await finished("since-frac");
    const stamped = (await read("since-frac", { timestamps: true })).trim().split("\n");
    assert.deepEqual(stamped.map((l) => STAMP.exec(l)?.[2]), ["early", "late", "later"]);
    // The API server hands sinceTime on to the kubelet as RFC3339 in whole seconds. A server that kept the
    // fraction would answer "" here: both late lines are before the last nanosecond of their second.
    const lateSecond = Math.floor(Date.parse(STAMP.exec(stamped[1])![1]) / 1000) * 1000;
    const cut = new Date(lateSecond).toISOString().slice(0, 19) + ".999999999Z";
    assert.equal(await logText(t, "since-frac", { sinceTime: cut }), "late\nlater\n");
  });

  it("a follow from a line's own timestamp (sinceTime + timestamps) repeats that line byte for byte and carries on to the end", async () => {
    // How a log copy resumes: ask from the last timestamp it stored and drop the lines it already has.
    await create(pod("resume", ["sh", "-c", "echo one; sleep 2; echo two; sleep 2; echo three"]));
    const deadline = Date.now() + WAIT.terminal;
    let seen = "";
    while (!seen.includes(" two\n")) {
      if (Date.now() > deadline) throw new Error(`"two" never appeared; log: ${JSON.stringify(seen)}`);
      await sleep(WAIT.poll);
      try {
        seen = await read("resume", { timestamps: true });
      } catch {
        // not started yet
      }
    }
    const twoLine = seen.split("\n")[1];
    assert.equal(STAMP.exec(twoLine)?.[2], "two");
    const f = await logStream(t, "resume", { follow: true, timestamps: true, sinceTime: STAMP.exec(twoLine)![1] });
    await f.ended;
    const lines = f.text().split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines[0], twoLine, "the line at sinceTime comes back with the same stamp");
    assert.deepEqual(lines.map((l) => STAMP.exec(l)?.[2]), ["two", "three"]);
    const final = await read("resume", { timestamps: true });
    assert.ok(final.endsWith(f.text()), "the follow's lines are the log's own, stamps included");
  });

  it("invalid options are 422 Invalid", async () => {
    await create(pod("bad-opts", ["true"]));
    await finished("bad-opts");
    const base = `/api/v1/namespaces/${t.ns}/pods/bad-opts/log`;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    for (const q of ["tailLines=-1", "limitBytes=0", "sinceSeconds=0", `sinceSeconds=5&sinceTime=${now}`]) {
      const r = await raw(t, "GET", `${base}?${q}`);
      assert.equal(r.status, 422, q);
      assert.equal(r.json().kind, "Status", q);
      assert.equal(r.json().reason, "Invalid", q);
    }
    const viaClient = await apiError(() => read("bad-opts", { tailLines: -1 }));
    assert.equal(viaClient.code, 422);
    assert.equal(viaClient.body.reason, "Invalid");
  });

  it("an unknown container name is 400 BadRequest", async () => {
    await create(pod("which", ["true"]));
    await finished("which");
    const { code, body } = await apiError(() => read("which", { container: "other" }));
    assert.equal(code, 400);
    assert.equal(body.kind, "Status");
    assert.equal(body.reason, "BadRequest");
    assert.equal(body.message, "container other is not valid for pod which");
    assert.equal(await read("which", { container: "main" }), "");
  });

  it("a missing pod is 404; a deleted pod's log is gone with it", async () => {
    const missing = await apiError(() => read("never-was"));
    assert.equal(missing.code, 404);
    assert.equal(missing.body.message, 'pods "never-was" not found');
    await create(pod("gone", ["echo", "bye"]));
    await finished("gone");
    assert.equal(await read("gone"), "bye\n");
    await t.core.deleteNamespacedPod({ name: "gone", namespace: t.ns });
    const after = await apiError(() => read("gone"));
    assert.equal(after.code, 404);
    assert.equal(after.body.reason, "NotFound");
    assert.equal(after.body.message, 'pods "gone" not found');
  });
});
