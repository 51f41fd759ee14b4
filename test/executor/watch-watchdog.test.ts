// The Pod watch's watchdog (executor/pod-watcher.ts): a watch that stays open but brings nothing, not
// even a bookmark (localkube's `watchSilent` fault: a half-dead connection), is dropped and the Pods are
// listed again, so the watcher, and the executor above it, still hear of every change. A watch that
// brings events is left alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { connectKube, type Kube } from "../../executor/kube.ts";
import { PodWatcher, type PodEvent } from "../../executor/pod-watcher.ts";
import { createLogger } from "../../lib/logger.ts";
import { startLocalKube, type LocalKube } from "../../localkube/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor } from "../support/ferry.ts";

const NS = "default";
const pod = (name: string, app: string): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: { app } },
  spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["true"] }] },
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A watcher of the Pods labelled app=<app>, with what it heard and what it logged. */
function watcherOf(kube: Kube, app: string, idleMs: number) {
  const events: PodEvent[] = [];
  const records: Array<Record<string, any>> = [];
  const log = createLogger("test", { format: "json", sink: (line) => records.push(JSON.parse(line)) });
  const watcher = new PodWatcher(kube, (e) => events.push(e), log, { labelSelector: `app=${app}`, idleMs });
  const names = (e: PodEvent) => (e.type === "resync" ? e.pods : [e.pod]).map((p) => p.metadata?.name);
  return {
    watcher,
    events,
    restarts: () => records.filter((r) => String(r.msg).startsWith("pod watch silent")),
    /** The first event that told of the Pod `name`. */
    firstSighting: (name: string) => events.find((e) => names(e).includes(name)),
  };
}

describe("the Pod watch's watchdog", { timeout: 120_000 }, () => {
  let lk: LocalKube;
  let dir: string;
  let kube: Kube;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-watchdog-"));
    lk = await startLocalKube({ dataDir: dir, workerImage: "unused", workerCommand: [process.execPath], instant: true });
    kube = connectKube({ kind: "kubeconfig-text", text: lk.kubeconfig(NS) }, NS);
  });
  after(async () => {
    await lk?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("restarts a watch that went silent and lists again, so a new Pod is still seen", async () => {
    const w = watcherOf(kube, "silent", 1000);
    w.watcher.start();
    try {
      await waitFor("the first list", async () => w.events.some((e) => e.type === "resync"), 10_000);
      await kube.core.createNamespacedPod({ namespace: NS, body: pod("before-silence", "silent") });
      await waitFor("the watch to bring the first Pod", async () => w.firstSighting("before-silence"), 10_000);

      lk.faults.set({ watchSilent: true }); // the open watch, and every new one, now brings nothing
      await kube.core.createNamespacedPod({ namespace: NS, body: pod("during-silence", "silent") });
      // Without the watchdog nothing would tell of it before client-node's own 31 s and a resync at 60 s.
      await waitFor("the Pod made while the watch is silent to be seen", async () => w.firstSighting("during-silence"), 15_000);
      assert.equal(w.firstSighting("during-silence")!.type, "resync", "a list found it: the silent watch could not have");
      assert.ok(w.restarts().length >= 1, "the restart is logged");
      assert.equal(w.restarts()[0]!.silentForMs, 1000);
    } finally {
      lk.faults.set({});
      await w.watcher.stop();
    }
  });

  it("leaves alone a watch that keeps bringing events", async () => {
    const w = watcherOf(kube, "busy", 1500);
    w.watcher.start();
    try {
      await waitFor("the first list", async () => w.events.some((e) => e.type === "resync"), 10_000);
      // localkube bookmarks every 10 s; only these events keep the watch from going quiet for 1.5 s.
      for (let i = 0; i < 10; i++) {
        await kube.core.createNamespacedPod({ namespace: NS, body: pod(`busy-${i}`, "busy") });
        await sleep(400);
      }
      await waitFor("the last Pod", async () => w.firstSighting("busy-9"), 10_000);
      assert.deepEqual(w.restarts(), [], "no restart while events come");
      assert.equal(w.events.filter((e) => e.type === "resync").length, 1, "listed once");
    } finally {
      await w.watcher.stop();
    }
  });
});

describe("the executor behind a silent watch", { timeout: 120_000 }, () => {
  it("still sees its Pods run and end", async () => {
    const f = await startTestFerry({ s3: false, env: { FERRY_KUBE_WATCH_IDLE_SECONDS: "1" } });
    try {
      f.ferry.localkube!.faults.set({ watchSilent: true });
      const source = dagFile("behind_silence", `  podTask("t", { image: "busybox", command: ["sh", "-c", "echo hello; sleep 1; echo bye"] });`);
      assert.equal((await f.api("POST", "/api/v1/dags", source)).status, 201);
      assert.equal((await f.api("POST", "/api/v1/dags/behind_silence/runs", { runId: "r1" })).status, 201);
      const run = await f.waitForRun("behind_silence", "r1", 60_000);
      assert.equal(run.state, "success");
      assert.equal((await f.api("GET", "/api/v1/dags/behind_silence/runs/r1/tasks/t/logs")).text, "hello\nbye\n");
    } finally {
      f.ferry.localkube?.faults.set({});
      await f.close();
    }
  });
});
