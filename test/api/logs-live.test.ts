// Reading a log while its Pod still runs: the store's bytes joined to the rest from the Pod, byte for
// byte; tails and ranges of a growing log; and a follow whose Pod stream is cut after the Pod was
// reclaimed, which must carry on from the store with no byte lost or repeated.
//
// The executor here stores a chunk only when 1 MiB is full (its flush interval is very long), so while
// the task runs the store holds a known prefix and the rest is only in the Pod. Gates (files the task
// waits for) decide when the task goes on, so nothing depends on timing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApi } from "../../api/server.ts";
import { silentLogger } from "../../lib/logger.ts";
import { sha256 } from "../../lib/tokens.ts";
import { connectKube, isNotFound } from "../../executor/kube.ts";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";
import { dagFile } from "../support/api.ts";

function binaryPayload(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x % 89 === 0 ? 0x0a : (x >> 8) & 0xff;
  }
  if (b[size - 1] === 0x0a) b[size - 1] = 0xfe;
  return b;
}

/** A TCP proxy in front of localkube whose traffic back to the client can be held and then cut. */
class CuttableProxy {
  private server = net.createServer((client) => this.accept(client));
  private sockets = new Set<net.Socket>();
  private holding = false;
  /** Bytes from localkube dropped while held: output that was on its way to the API when cut. */
  heldBytes = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  hold(): void {
    this.holding = true;
  }

  /** Cuts every open connection (as a dropped node or API connection would) and lets new ones through. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.holding = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (d: Buffer) => upstream.write(d));
    upstream.on("data", (d: Buffer) => {
      if (this.holding) this.heldBytes += d.length;
      else client.write(d);
    });
  }
}

describe("log reads while the Pod runs", { timeout: 180_000 }, () => {
  let f: TestFerry;
  let dir: string;
  let proxy: CuttableProxy;
  let proxied: FastifyInstance;
  let proxiedUrl: string;
  const MiB = 1024 * 1024;
  const part1 = binaryPayload(MiB + 300 * 1024, 7); // one full stored chunk, the rest only in the Pod
  const payload2 = binaryPayload(300 * 1024, 11);
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const gate = (name: string) => path.join(dir, name);
  const read = async (base: string, dagId: string, query = "", headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}/api/v1/dags/${dagId}/runs/r1/tasks/t/logs${query}`, { headers: { ...auth, ...headers } });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const taskState = async (dagId: string) => (await f.api("GET", `/api/v1/dags/${dagId}/runs/r1`)).body?.tasks?.[0]?.state;
  const stored = async (dagId: string) =>
    (await f.ferry.logStore.listChunks({ dagId, runId: "r1", taskId: "t", tryNumber: 1 })).reduce((n, c) => n + c.bytes, 0);
  async function start(dagId: string, script: string): Promise<void> {
    const body = `podTask("t", { image: "alpine:3.20", command: ["sh", "-c", ${JSON.stringify(script)}] });`;
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, body))).status, 201);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
  }

  before(async () => {
    // The Pod-log remainder is found by byte offset, which kubelet log rotation would shift: no rotation here.
    f = await startTestFerry({ executor: { logFlushIntervalMs: 600_000 }, localkube: { logMaxBytes: 256 * 1024 * 1024 } });
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-logs-live-"));
    await writeFile(path.join(dir, "part1.bin"), part1);
    await writeFile(path.join(dir, "payload2.bin"), payload2);

    // A second API on the same Ferry whose way to the Pods goes through the proxy.
    const target = new URL(f.ferry.localkube!.url);
    proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.listen();
    const kubeconfig = f.ferry.localkube!.kubeconfig(f.ferry.kube.namespace);
    const viaProxy = kubeconfig.replace(f.ferry.localkube!.url, `http://127.0.0.1:${proxy.port}`);
    assert.notEqual(viaProxy, kubeconfig);
    proxied = buildApi({
      db: f.ferry.db,
      auth: { adminTokenHash: sha256(TEST_TOKEN), workerSecret: "unused-in-this-test" },
      compile: () => Promise.resolve({ ok: false, error: { code: "compile_error", message: "this API only reads logs" } }),
      logStore: f.ferry.logStore,
      kube: connectKube({ kind: "kubeconfig-text", text: viaProxy }, f.ferry.kube.namespace),
      log: silentLogger,
    });
    await proxied.listen({ port: 0, host: "127.0.0.1" });
    proxiedUrl = `http://127.0.0.1:${(proxied.server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    await proxied?.close();
    await proxy?.close();
    await f?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves the stored bytes and then the rest from the Pod: exactly what was printed so far", async () => {
    const dagId = "live_read";
    await start(dagId, `cat '${path.join(dir, "part1.bin")}'; while [ ! -e '${gate("go1")}' ]; do sleep 0.05; done; printf 'done'`);
    await waitFor("the first chunk to be stored", async () => (await stored(dagId)) >= MiB);
    const inStore = await stored(dagId);
    assert.ok(inStore < part1.length, "part of the output is only in the Pod");
    assert.equal(await taskState(dagId), "running");

    const live = await read(f.url, dagId);
    assert.equal(live.res.status, 200);
    assert.equal(live.res.headers.get("accept-ranges"), "bytes");
    assert.equal(live.bytes.length, part1.length);
    assert.ok(live.bytes.equals(part1), "stored prefix + Pod remainder = what the task printed so far");

    // A tail of a running log: the last lines the store holds, then everything after them from the Pod.
    const head = part1.subarray(0, inStore);
    const from = head.lastIndexOf(0x0a, head[inStore - 1] === 0x0a ? inStore - 2 : inStore - 1) + 1;
    const tail = await read(f.url, dagId, "?tail=1");
    assert.ok(tail.bytes.equals(part1.subarray(from)), "tail=1 while running: from the stored last line to the Pod's end");

    // Ranges are of the stored bytes, and the total is not known yet.
    const range = await read(f.url, dagId, "", { range: "bytes=10-19" });
    assert.equal(range.res.status, 206);
    assert.equal(range.res.headers.get("content-range"), "bytes 10-19/*");
    assert.ok(range.bytes.equals(part1.subarray(10, 20)));
    const beyond = await read(f.url, dagId, "", { range: `bytes=${inStore}-` });
    assert.equal(beyond.res.status, 416);
    assert.equal(beyond.res.headers.get("content-range"), "bytes */*");
    assert.equal(JSON.parse(beyond.bytes.toString()).error.code, "range_not_satisfiable");

    await writeFile(gate("go1"), "");
    assert.equal((await f.waitForRun(dagId, "r1")).state, "success");
    const after = await read(f.url, dagId);
    assert.ok(after.bytes.equals(Buffer.concat([part1, Buffer.from("done")])), "the whole log from the store");
    assert.equal(after.res.headers.get("content-length"), String(part1.length + 4));
  });

  it("follows from the Pod and, when its stream is cut after the Pod was reclaimed, carries on from the store", async () => {
    const dagId = "live_follow_cut";
    await start(dagId, `printf 'first part\\n'; while [ ! -e '${gate("go2")}' ]; do sleep 0.05; done; cat '${path.join(dir, "payload2.bin")}'`);
    await waitFor("the task to run", async () => (await taskState(dagId)) === "running");

    const res = await fetch(`${proxiedUrl}/api/v1/dags/${dagId}/runs/r1/tasks/t/logs?follow=true`, { headers: auth });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const got: Buffer[] = [];
    while (Buffer.concat(got).length < "first part\n".length) {
      const { value, done } = await reader.read();
      assert.equal(done, false);
      got.push(Buffer.from(value!));
    }
    assert.equal(Buffer.concat(got).toString(), "first part\n", "the first line, from the live Pod (the store has none yet)");
    assert.equal(await stored(dagId), 0);

    // From now on the Pod's output never reaches this API through its open stream.
    proxy.hold();
    await writeFile(gate("go2"), "");
    assert.equal((await f.waitForRun(dagId, "r1")).state, "success");
    const podName = (await f.api("GET", `/api/v1/dags/${dagId}/runs/r1`)).body.tasks[0].podName as string;
    await waitFor("the Pod to be reclaimed", async () => {
      try {
        await f.ferry.kube.core.readNamespacedPod({ name: podName, namespace: f.ferry.kube.namespace });
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    });
    await waitFor("the Pod's bytes to be held on their way", async () => proxy.heldBytes > 0);
    proxy.cut();

    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got.push(Buffer.from(value));
    }
    const followed = Buffer.concat(got);
    const printed = Buffer.concat([Buffer.from("first part\n"), payload2]);
    assert.equal(followed.length, printed.length, "no byte lost or repeated");
    assert.ok(followed.equals(printed), "exactly the printed bytes");
  });
});
