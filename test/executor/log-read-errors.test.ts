// The log copy of an ended container when the API server refuses its reads for a while (429 with a
// Retry-After, 500): it asks again after a backoff, never sooner than the Retry-After, and stores the
// whole log once an answer comes. (It once counted a refused read like a stalled one and gave up after
// three of them, a second or two after the container ended: test/e2e/chaos.test.ts met it as a try that
// succeeded with an empty, incomplete log, on a cluster shedding 10% of requests.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { connectKube, type Kube } from "../../executor/kube.ts";
import { LogShipper, type ShipperNote } from "../../executor/log-shipper.ts";
import { TASK_CONTAINER_NAME } from "../../lib/pod-contract.ts";
import { silentLogger } from "../../lib/logger.ts";
import { startLocalKube, type FaultConfig, type LocalKube } from "../../localkube/index.ts";
import { openLogStore, readTryLog, type LogStore } from "../../logstore/index.ts";
import { waitFor } from "../support/ferry.ts";

describe("a log copy whose reads the API server refuses for a while", { timeout: 120_000 }, () => {
  let dir: string;
  let lk: LocalKube;
  let kube: Kube;
  let store: LogStore;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-log-errors-"));
    lk = await startLocalKube({ dataDir: path.join(dir, "kube"), workerImage: "unused", workerCommand: ["false"] });
    kube = connectKube({ kind: "kubeconfig-text", text: lk.kubeconfig() }, "default");
    store = openLogStore(`file://${path.join(dir, "logs")}`);
  });

  after(async () => {
    await lk?.close();
    await store?.close?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs a Pod to its end, then copies its log while the cluster has `faults` for `forMs`. */
  async function copyWhileFaulty(name: string, faults: FaultConfig, forMs: number) {
    const output = `${name} one\n${name} two\n${name} three\n`;
    await kube.core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name },
        spec: { restartPolicy: "Never", containers: [{ name: TASK_CONTAINER_NAME, image: "busybox", command: ["sh", "-c", `printf '${output.replace(/\n/g, "\\n")}'`] }] },
      },
    });
    await waitFor(`${name} to succeed`, async () => (await kube.core.readNamespacedPod({ namespace: "default", name })).status?.phase === "Succeeded");
    const key = { dagId: "d", runId: "r", taskId: name, tryNumber: 1 };
    const notes: ShipperNote[] = [];
    lk.faults.set(faults);
    const t0 = Date.now();
    const healed = new Promise<void>((resolve) =>
      setTimeout(() => {
        lk.faults.set({});
        resolve();
      }, forMs),
    );
    const shipper = new LogShipper(kube, store, key, { namespace: "default", podName: name }, () => "finished", silentLogger, {
      flushIntervalMs: 100,
      note: (n) => notes.push(n),
    });
    const result = await shipper.run();
    const ms = Date.now() - t0;
    await healed;
    return { result, ms, notes, stored: (await readTryLog(store, key)).toString(), output };
  }

  it("waits out 429s (each no sooner than its Retry-After) and stores the whole log", async () => {
    const { result, ms, notes, stored, output } = await copyWhileFaulty("throttled", { throttleRate: 1, retryAfterSeconds: 1 }, 3500);
    assert.deepEqual(notes, [], "no problem is noted");
    assert.equal(result.complete, true, `complete: ${result.problem}`);
    assert.equal(stored, output);
    assert.ok(ms >= 3500, `the copy read after the API answered again (${ms} ms)`);
  });

  it("waits out 500s and stores the whole log", async () => {
    const { result, notes, stored, output } = await copyWhileFaulty("failing", { errorRate: 1 }, 2500);
    assert.deepEqual(notes, [], "no problem is noted");
    assert.equal(result.complete, true, `complete: ${result.problem}`);
    assert.equal(stored, output);
  });
});
