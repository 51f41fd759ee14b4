// Pod logs through client-node's Log (follow) and readNamespacedPodLog (one-shot).

import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { ApiException, Log, type V1Pod } from "@kubernetes/client-node";
import { podSpec, setup, sleep, terminal, waitForPod, type Env } from "./helpers.ts";

let env: Env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

const create = (body: V1Pod) => env.core.createNamespacedPod({ namespace: "default", body });
const read = (name: string, extra: Record<string, unknown> = {}) => env.core.readNamespacedPodLog({ name, namespace: "default", ...extra });

/** Follows a pod's log; `text()` is what arrived so far, `ended` resolves when the stream finishes. */
async function follow(name: string, opts: Record<string, unknown> = {}) {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString("utf8")));
  const ended = new Promise<void>((resolve) => out.on("finish", () => resolve()));
  const ctl = await new Log(env.kc).log("default", name, "main", out, { follow: true, ...opts });
  return { text: () => text, ended, ctl };
}

async function until(pred: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
}

describe("pod logs", () => {
  it("follow streams lines as they are printed and ends when the process exits", async () => {
    const gate = join(env.dir, "gate-1");
    await create(podSpec("follow-1", ["sh", "-c", `echo one; while [ ! -f ${gate} ]; do sleep 0.05; done; echo two`]));
    await waitForPod(env.core, "follow-1", (p) => p.status?.phase === "Running");
    const f = await follow("follow-1");
    let ended = false;
    void f.ended.then(() => (ended = true));
    await until(() => f.text() === "one\n");
    await sleep(200);
    assert.equal(ended, false, "the stream must stay open while the container runs");
    await writeFile(gate, "");
    await f.ended;
    assert.equal(f.text(), "one\ntwo\n");
  });

  it("concurrent followers each get every byte once, in order, including a final partial line", async () => {
    const gate = join(env.dir, "gate-2");
    await create(podSpec("follow-2", ["sh", "-c", `while [ ! -f ${gate} ]; do sleep 0.05; done; i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done; printf tail`]));
    await waitForPod(env.core, "follow-2", (p) => p.status?.phase === "Running");
    const a = await follow("follow-2");
    const b = await follow("follow-2");
    await writeFile(gate, "");
    await Promise.all([a.ended, b.ended]);
    const expected = Array.from({ length: 500 }, (_, i) => `line ${i}\n`).join("") + "tail";
    assert.equal(a.text(), expected);
    assert.equal(b.text(), expected);
  });

  it("interleaves stdout and stderr in write order and stays readable after exit", async () => {
    await create(podSpec("mixed", ["sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2"]));
    await waitForPod(env.core, "mixed", terminal);
    assert.equal(await read("mixed"), "out1\nerr1\nout2\nerr2\n");
  });

  it("timestamps use RFC3339 with 9 fraction digits and one space", async () => {
    await create(podSpec("stamps", ["sh", "-c", "echo a; echo b"]));
    await waitForPod(env.core, "stamps", terminal);
    const text = await read("stamps", { timestamps: true });
    const lines = text.split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 2);
    for (const [i, line] of lines.entries()) assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z ${"ab"[i]}$`));
  });

  it("tailLines, limitBytes and sinceTime select parts of the log", async () => {
    await create(podSpec("parts", ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"]));
    await waitForPod(env.core, "parts", terminal);
    assert.equal(await read("parts", { tailLines: 2 }), "line4\nline5\n");
    assert.equal(await read("parts", { limitBytes: 8 }), "line1\nli");
    // readNamespacedPodLog has no sinceTime parameter (the OpenAPI spec omits it), so ask directly.
    const future = new Date(Date.now() + 60_000).toISOString();
    const since = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/parts/log?sinceTime=${future}`);
    assert.equal(await since.text(), "");
    const past = new Date(Date.now() - 60_000).toISOString();
    assert.equal(await (await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/parts/log?sinceTime=${past}&tailLines=1`)).text(), "line5\n");
    const r = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/parts/log?tailLines=-1`);
    assert.equal(r.status, 422);
    assert.equal((await r.json()).reason, "Invalid");
  });

  it("rejects an unknown container name with 400", async () => {
    const r = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/parts/log?container=other`);
    assert.equal(r.status, 400);
    assert.equal((await r.json()).message, "container other is not valid for pod parts");
  });

  it("is 404 once the pod object is deleted", async () => {
    await create(podSpec("gone", ["echo", "bye"]));
    await waitForPod(env.core, "gone", terminal);
    assert.equal(await read("gone"), "bye\n");
    await env.core.deleteNamespacedPod({ name: "gone", namespace: "default" });
    await assert.rejects(read("gone"), (e: unknown) => e instanceof ApiException && e.code === 404);
    const r = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/gone/log`);
    assert.equal(r.status, 404);
    assert.equal((await r.json()).message, 'pods "gone" not found');
  });
});
