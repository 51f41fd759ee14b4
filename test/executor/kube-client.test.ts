// The Kubernetes client that protects the API server (executor/kube.ts, kube-http.ts, kube-retry.ts),
// against localkube and against a server that never answers: writes keep to QPS and burst, reads do
// not wait for them, a 429's Retry-After is honoured, a create is never retried behind the executor's
// back, failed creates back off with jitter, and no request waits forever.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { V1Pod } from "@kubernetes/client-node";
import { connectKube, kubeFailure, openPodLog, type KubeClientOptions } from "../../executor/kube.ts";
import { KubeRequestTimeoutError } from "../../executor/kube-http.ts";
import { kubeRetryDelayMs, RetryAttempts } from "../../executor/kube-retry.ts";
import { PodControl } from "../../executor/pod-control.ts";
import { backoffCeilingMs } from "../../lib/backoff.ts";
import { createLogger } from "../../lib/logger.ts";
import { startLocalKube, type LocalKube } from "../../localkube/index.ts";
import { kubeconfigYaml } from "../../localkube/kubeconfig.ts";

const NS = "default";
const pod = (name: string): V1Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels: { app: "kube-client-test" } },
  spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["true"] }] },
});

/** A logger whose records the test reads (parsed JSON lines). */
function capturedLog() {
  const records: Array<Record<string, any>> = [];
  const log = createLogger("test", { format: "json", sink: (line) => records.push(JSON.parse(line)) });
  return { log, records, saying: (text: string) => records.filter((r) => String(r.msg).includes(text)) };
}

describe("the Kubernetes client", { timeout: 120_000 }, () => {
  let lk: LocalKube;
  let dir: string;
  const kubeWith = (opts: KubeClientOptions) => connectKube({ kind: "kubeconfig-text", text: lk.kubeconfig(NS) }, NS, opts);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-kube-client-"));
    // Instant Pods: nothing is spawned, so many creates cost little.
    lk = await startLocalKube({ dataDir: dir, workerImage: "unused", workerCommand: [process.execPath], instant: true, faultSeed: 7 });
  });
  after(async () => {
    await lk?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps many creates issued at once within QPS and burst, and logs the long waits", async () => {
    const qps = 4;
    const burst = 4;
    const n = 24;
    const { log, saying } = capturedLog();
    const kube = kubeWith({ qps, burst, log });
    const created = await Promise.all(Array.from({ length: n }, (_, i) => kube.core.createNamespacedPod({ namespace: NS, body: pod(`rate-${i}`) })));
    // The API server stamps each Pod when the create reaches it (whole seconds, as Kubernetes does).
    const seconds = created.map((p) => Math.floor(new Date(p.metadata!.creationTimestamp!).getTime() / 1000)).sort((a, b) => a - b);
    const first = seconds[0]!;
    const last = seconds.at(-1)!;
    assert.ok(last - first >= Math.floor((n - burst) / qps) - 1, `creates spread over ${last - first} s, not all at once`);
    // In any run of whole seconds [a, b], at most burst + qps * (b - a + 1) creates, plus a second's worth
    // of slack for a server that took a moment to answer and so stamped several in the same second.
    for (let a = first; a <= last; a++) {
      for (let b = a; b <= last; b++) {
        const count = seconds.filter((s) => s >= a && s <= b).length;
        const bound = burst + qps * (b - a + 1) + qps;
        assert.ok(count <= bound, `${count} creates stamped in seconds ${a - first}..${b - first}, more than ${bound}`);
      }
    }
    const waits = saying("waited for the client-side rate limit");
    assert.ok(waits.length > 0, "the throttled waits over a second are logged");
    for (const w of waits) assert.ok(w.waitedMs > 1000 && w.request === `POST /api/v1/namespaces/${NS}/pods`, JSON.stringify(w));
  });

  it("does not make reads wait for the write limit", async () => {
    const kube = kubeWith({ qps: 1, burst: 1 });
    await kube.core.createNamespacedPod({ namespace: NS, body: pod("reads-1") }); // the one write token is gone
    const started = performance.now();
    await Promise.all(Array.from({ length: 20 }, () => kube.core.readNamespacedPod({ namespace: NS, name: "reads-1" })));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 10_000, `20 reads took ${Math.round(elapsed)} ms; limited like writes they would take 20 s`);
  });

  it("retries a throttled read no earlier than its Retry-After", async () => {
    const { log, saying } = capturedLog();
    const kube = kubeWith({ log });
    lk.faults.set({ throttleRate: 1, retryAfterSeconds: 2 });
    let throttledAt = 0;
    const clearOnceThrottled = setInterval(() => {
      if (throttledAt || saying("request failed; retrying").length === 0) return;
      throttledAt = performance.now();
      lk.faults.set({}); // the retry is answered
    }, 5);
    try {
      const list = await kube.core.listNamespacedPod({ namespace: NS, labelSelector: "app=kube-client-test" });
      const answeredAt = performance.now();
      assert.ok(list.items.length > 0);
      assert.ok(throttledAt > 0, "the first try was throttled");
      const [retry] = saying("request failed; retrying");
      assert.equal(retry!.code, 429);
      assert.ok(retry!.retryInMs >= 2000, `waits ${retry!.retryInMs} ms, at least the Retry-After`);
      assert.ok(answeredAt - throttledAt >= 2000 - 5, `answered ${Math.round(answeredAt - throttledAt)} ms after the 429`);
    } finally {
      clearInterval(clearOnceThrottled);
      lk.faults.set({});
    }
  });

  it("never retries a create itself: a throttled create comes back with the server's Retry-After", async () => {
    const { log, saying } = capturedLog();
    const kube = kubeWith({ log });
    lk.faults.set({ throttleRate: 1, retryAfterSeconds: 3 });
    try {
      const err = await kube.core.createNamespacedPod({ namespace: NS, body: pod("throttled-1") }).then(
        () => assert.fail("the create should have been throttled"),
        (e: unknown) => e,
      );
      const f = kubeFailure(err);
      assert.equal(f.code, 429);
      assert.equal(f.retryAfterMs, 3000);
      assert.deepEqual(saying("retrying"), [], "the client sent it once");

      // PodControl turns it into the executor's retry, no sooner than the server asked.
      const outcome = await new PodControl(kube, log).create({ namespace: NS, name: "throttled-1" }, pod("throttled-1"));
      assert.equal(outcome.kind, "retry");
      assert.ok(outcome.kind === "retry" && outcome.afterMs >= 3000, JSON.stringify(outcome));
    } finally {
      lk.faults.set({});
    }
  });

  it("backs a try's failing creates off with jitter, each within its doubling window", async () => {
    const kube = kubeWith({});
    const control = new PodControl(kube, createLogger("test", { level: "silent" }));
    lk.faults.set({ errorRate: 1 });
    const delays: number[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const outcome = await control.create({ namespace: NS, name: "failing-1" }, pod("failing-1"));
        assert.equal(outcome.kind, "retry");
        if (outcome.kind === "retry") delays.push(outcome.afterMs);
      }
      // Another try's first failure starts from the smallest window.
      const other = await control.create({ namespace: NS, name: "failing-2" }, pod("failing-2"));
      assert.ok(other.kind === "retry" && other.afterMs < 500, JSON.stringify(other));
    } finally {
      lk.faults.set({});
    }
    delays.forEach((d, i) => assert.ok(d >= 0 && d < backoffCeilingMs(i + 1, { baseMs: 500, capMs: 30_000 }), `retry ${i + 1} waits ${d} ms`));
    assert.ok(new Set(delays).size > 1, `jittered, not fixed: ${delays.join(", ")}`);
    // Once created, the try's count starts over.
    const created = await control.create({ namespace: NS, name: "failing-1" }, pod("failing-1"));
    assert.equal(created.kind, "created");
  });

  it("computes a retry's delay from the try's failures in a row and the server's Retry-After", () => {
    const half = () => 0.5;
    assert.deepEqual([1, 2, 3, 4, 7, 12].map((n) => kubeRetryDelayMs(n, null, half)), [250, 500, 1000, 2000, 15_000, 15_000]);
    assert.equal(kubeRetryDelayMs(1, 4000, half), 4000, "Retry-After wins over a shorter backoff");
    assert.equal(kubeRetryDelayMs(7, 1000, half), 15_000, "and a longer backoff over Retry-After");
    const attempts = new RetryAttempts(half);
    assert.deepEqual([attempts.failed("a", null), attempts.failed("a", null), attempts.failed("b", null), attempts.failed("a", null)], [250, 500, 250, 1000]);
    attempts.settled("a");
    assert.equal(attempts.failed("a", null), 250, "a settled key starts over");
    const bounded = new RetryAttempts(half, 2);
    bounded.failed("x", null);
    bounded.failed("x", null);
    bounded.failed("y", null);
    bounded.failed("z", null); // x, failed longest ago, is forgotten
    assert.equal(bounded.failed("x", null), 250);
  });
});

describe("the Kubernetes client and a server that never answers", { timeout: 60_000 }, () => {
  let server: net.Server;
  const held = new Set<net.Socket>();
  let url = "";

  before(async () => {
    // Takes connections and never says a word, as a wedged API server or a half-open proxy would.
    server = net.createServer((socket) => {
      held.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => held.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const requestTimeoutMs = 500;
  // The watch idle time is long, so only the connection-setup timeout can end a watch here.
  const kube = () => connectKube({ kind: "kubeconfig-text", text: kubeconfigYaml(url) }, NS, { requestTimeoutMs, watchIdleMs: 60_000 });
  /** Settles within 15 s or fails the test: nothing here may wait for the server for ever. */
  const settles = <T>(p: Promise<T>) =>
    Promise.race([p.then(() => assert.fail("expected no answer")), new Promise((_, reject) => setTimeout(() => reject(new Error("still waiting after 15 s")), 15_000))]).catch(
      (e: unknown) => e,
    );

  it("gives up on a read, and on a create, after the request timeout", async () => {
    const k = kube();
    for (const call of [() => k.core.readNamespacedPod({ namespace: NS, name: "x" }), () => k.core.createNamespacedPod({ namespace: NS, body: pod("x") })]) {
      const started = performance.now();
      const err = await settles(call());
      assert.ok(err instanceof KubeRequestTimeoutError, String(err));
      assert.ok(performance.now() - started >= requestTimeoutMs - 5);
      assert.equal(kubeFailure(err).code, 0, "a timeout reads as a failure to reach the server (transient)");
    }
  });

  it("gives up setting up a watch or a log follow after the request timeout", async () => {
    const k = kube();
    let started = performance.now();
    const watchEnded = new Promise<unknown>((resolve) => {
      void k.watch.watch(`/api/v1/namespaces/${NS}/pods`, { allowWatchBookmarks: true }, () => {}, resolve);
    });
    const watchErr = await Promise.race([watchEnded, new Promise((resolve) => setTimeout(() => resolve("still waiting after 15 s"), 15_000))]);
    assert.ok(watchErr instanceof Error, `the watch ended with an error: ${String(watchErr)}`);
    assert.ok(performance.now() - started >= requestTimeoutMs - 5);

    started = performance.now();
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const logErr = await settles(openPodLog(k, NS, "x", "main", sink, { follow: true }));
    assert.ok(logErr instanceof Error && !/still waiting/.test(logErr.message), String(logErr));
    assert.ok(performance.now() - started >= requestTimeoutMs - 5);
  });
});
