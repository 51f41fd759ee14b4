// Instant mode: pods finish at once with scripted output / exit code / termination message and
// nothing is spawned, yet watchers see the same status steps and logs read as usual.

import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { ApiException, CoreV1Api, KubeConfig, Log, Watch, type V1Pod } from "@kubernetes/client-node";
import { EXIT_CODE_ANNOTATION, OUTPUT_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from "../../localkube/index.ts";
import { setup, sleep, terminal, terminated, type Env } from "./helpers.ts";

let env: Env;
let kc: KubeConfig;
let core: CoreV1Api;
before(async () => {
  env = await setup({ workerCommand: ["/nonexistent/worker"], instant: true });
  ({ kc, core } = env);
});
after(async () => {
  await env.close();
});

function pod(name: string, annotations: Record<string, string> = {}, command = ["/definitely/not/a/binary"], image = "alpine:3.20"): V1Pod {
  return {
    metadata: { name, annotations },
    spec: { restartPolicy: "Never", containers: [{ name: "main", image, command }] },
  };
}

async function waitTerminal(name: string): Promise<V1Pod> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const p = await core.readNamespacedPod({ name, namespace: "default" });
    if (terminal(p)) return p;
    await sleep(20);
  }
  throw new Error(`pod ${name} did not finish`);
}

async function logs(name: string, opts: { follow?: boolean; timestamps?: boolean } = {}): Promise<string> {
  let out = "";
  const sink = new Writable({ write: (c, _e, cb) => ((out += c), cb()) });
  const finished = new Promise<void>((resolve) => sink.on("finish", () => resolve()));
  await new Log(kc).log("default", name, "main", sink, opts);
  await finished;
  return out;
}

describe("instant mode", () => {
  it("runs a pod through Pending -> Running -> Failed, each step its own resourceVersion, with the scripted result", async () => {
    const list = await core.listNamespacedPod({ namespace: "default" });
    const evs: { type: string; obj: any }[] = [];
    let ctl: AbortController | undefined;
    const done = new Promise<void>((resolve, reject) => {
      void new Watch(kc)
        .watch(
          "/api/v1/namespaces/default/pods",
          { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=scripted" },
          (type, obj) => {
            evs.push({ type, obj });
            if (terminal(obj)) resolve();
          },
          (err) => reject(err ?? new Error("watch ended early")),
        )
        .then((c) => (ctl = c));
    });
    await core.createNamespacedPod({
      namespace: "default",
      body: pod("scripted", { [OUTPUT_ANNOTATION]: "hello\nworld\n", [EXIT_CODE_ANNOTATION]: "3", [TERMINATION_MESSAGE_ANNOTATION]: "boom" }),
    });
    await done;
    ctl?.abort();
    assert.deepEqual(
      evs.map((e) => [e.type, e.obj.status.phase]),
      [
        ["ADDED", "Pending"],
        ["MODIFIED", "Pending"],
        ["MODIFIED", "Pending"],
        ["MODIFIED", "Running"],
        ["MODIFIED", "Failed"],
      ],
    );
    const rvs = evs.map((e) => e.obj.metadata.resourceVersion);
    assert.equal(new Set(rvs).size, rvs.length);
    assert.equal(evs[2].obj.status.containerStatuses[0].state.waiting.reason, "ContainerCreating");
    assert.ok(evs[3].obj.status.containerStatuses[0].state.running.startedAt);
    const p = await core.readNamespacedPod({ name: "scripted", namespace: "default" });
    assert.equal(terminated(p)?.exitCode, 3);
    assert.equal(terminated(p)?.reason, "Error");
    assert.equal(terminated(p)?.message, "boom");
    assert.equal(await logs("scripted"), "hello\nworld\n");
    assert.equal(await logs("scripted", { follow: true }), "hello\nworld\n");
    assert.match(await logs("scripted", { timestamps: true }), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello\n/);
  });

  it("defaults: no annotations -> Succeeded, exit 0, Completed, empty log; nothing is spawned (the command doesn't exist)", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("plain") });
    const p = await waitTerminal("plain");
    assert.equal(p.status?.phase, "Succeeded");
    assert.equal(terminated(p)?.exitCode, 0);
    assert.equal(terminated(p)?.reason, "Completed");
    assert.equal(terminated(p)?.message, undefined);
    assert.equal(await logs("plain"), "");
    const worker = pod("worker", { [OUTPUT_ANNOTATION]: "done" }, [], "ferry/worker:test");
    await core.createNamespacedPod({ namespace: "default", body: worker });
    assert.equal((await waitTerminal("worker")).status?.phase, "Succeeded");
    assert.equal(await logs("worker"), "done");
  });

  it("an unusable exit-code annotation is a StartError (exit 128)", async () => {
    await core.createNamespacedPod({ namespace: "default", body: pod("bad-code", { [EXIT_CODE_ANNOTATION]: "three" }) });
    const p = await waitTerminal("bad-code");
    assert.equal(p.status?.phase, "Failed");
    assert.equal(terminated(p)?.reason, "StartError");
    assert.equal(terminated(p)?.exitCode, 128);
    assert.match(terminated(p)!.message!, /exit-code/);
  });

  it("many pods finish, events are written, and deletion works as usual", async () => {
    const names = Array.from({ length: 100 }, (_, i) => `bulk-${i}`);
    await Promise.all(names.map((n, i) => core.createNamespacedPod({ namespace: "default", body: pod(n, { [EXIT_CODE_ANNOTATION]: String(i % 2) }) })));
    for (const n of names) await waitTerminal(n);
    const list = await core.listNamespacedPod({ namespace: "default", labelSelector: "", fieldSelector: "status.phase=Failed" });
    assert.equal(list.items.filter((p) => p.metadata?.name?.startsWith("bulk-")).length, 50);
    const events = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=bulk-0" });
    assert.deepEqual(events.items.map((e) => e.reason), ["Scheduled", "Pulled", "Created", "Started"]);
    await Promise.all(names.map((n) => core.deleteNamespacedPod({ name: n, namespace: "default" })));
    for (const n of names) {
      try {
        await core.readNamespacedPod({ name: n, namespace: "default" });
        assert.fail(`${n} still exists`);
      } catch (e) {
        assert.ok(e instanceof ApiException && e.code === 404);
      }
    }
  });
});
