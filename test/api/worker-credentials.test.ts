// The worker credential (README.md, "Tokens and roles"): each function-task try's Pod whose bundle is
// too large to go inline gets a token that opens only its own DAG version's bundle, and only until the
// try ends; a small bundle goes inline, with no token at all. Whole function tasks run on localkube;
// each holds at a gate (a local HTTP server) while the test reads its Pod's environment and tries the
// token against the bundle route, then is let go.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DAG_LABEL, POD_SELECTOR, RUN_LABEL } from "../../executor/pod-names.ts";
import { WORKER_ENV } from "../../lib/pod-contract.ts";
import { workerTokenFor } from "../../lib/tokens.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

/**
 * A DAG whose function task waits until the test opens its gate (`ctx.params.gate`), then returns. Its
 * bundle is larger than FERRY_INLINE_BUNDLE_MAX_BYTES (32 KiB) unless it is `small`, so its worker fetches it.
 */
const held = (dagId: string, note = "", small = false) =>
  dagFile(
    dagId,
    `  const ballast = "${small ? "" : "x".repeat(40 * 1024)}";
  task("hold", async (ctx) => {
    // ${note}
    while ((await fetch(String(ctx.params.gate))).status !== 200) await new Promise((r) => setTimeout(r, 100));
    return ballast.length > 0 ? "released" : "released inline";
  });`,
  );

describe("worker credentials", { timeout: 180_000 }, () => {
  let f: TestFerry;
  let gates: Server;
  let gateUrl: string;
  const open = new Set<string>();
  const waiting = new Set<string>();

  before(async () => {
    f = await startTestFerry({ s3: false });
    gates = createServer((req, res) => {
      const name = req.url!.slice(1);
      waiting.add(name);
      res.statusCode = open.has(name) ? 200 : 503;
      res.end();
    });
    await new Promise<void>((r) => gates.listen(0, "127.0.0.1", r));
    gateUrl = `http://127.0.0.1:${(gates.address() as AddressInfo).port}`;
    for (const dagId of ["wc_a", "wc_b"]) assert.equal((await f.api("POST", "/api/v1/dags", held(dagId))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags", held("wc_small", "", true))).status, 201);
  });
  after(async () => {
    for (const name of waiting) open.add(name); // let any task still held end
    await new Promise((r) => gates?.close(r));
    await f?.close();
  });

  /** Triggers a run whose task holds at its gate; resolves with its worker Pod's environment, once the task runs. */
  async function holdingPodEnv(dagId: string, runId: string): Promise<Map<string, string>> {
    const trigger = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId, params: { gate: `${gateUrl}/${runId}` } });
    assert.equal(trigger.status, 201, trigger.text);
    await waitFor(`${runId} to reach its gate`, async () => waiting.has(runId), 60_000);
    const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: f.ferry.kube.namespace, labelSelector: `${POD_SELECTOR},${DAG_LABEL}=${dagId},${RUN_LABEL}=${runId}` });
    assert.equal(pods.items.length, 1);
    return new Map(pods.items[0]!.spec!.containers[0]!.env!.map((e) => [e.name, e.value ?? ""]));
  }

  /** As holdingPodEnv, for a DAG with a large bundle: the token its worker fetches the bundle with. */
  async function holdingRun(dagId: string, runId: string): Promise<string> {
    const env = await holdingPodEnv(dagId, runId);
    assert.equal(env.has(WORKER_ENV.bundle), false, "a bundle past the inline limit is fetched, not inline");
    const token = env.get(WORKER_ENV.token)!;
    assert.match(token, /^fw_\d+\.1\.[A-Za-z0-9_-]{43}$/);
    return token;
  }

  const bundle = (dagId: string, version: number, token: string) =>
    f.api("GET", `/api/v1/dags/${dagId}/versions/${version}/bundle`, undefined, { authorization: `Bearer ${token}` });

  it("opens its own try's bundle while the try runs, nothing else, and nothing once the try has ended", async () => {
    const token = await holdingRun("wc_a", "a1");
    const live = await bundle("wc_a", 1, token);
    assert.equal(live.status, 200, live.text);
    assert.match(live.text, /released/);

    // Another DAG's bundle, another version of its own DAG: refused.
    apiError(await bundle("wc_b", 1, token), 401, "unauthorized");
    assert.equal((await f.api("POST", "/api/v1/dags", held("wc_a", "version 2"))).body.version, 2);
    apiError(await bundle("wc_a", 2, token), 401, "unauthorized");
    // Anything but the bundle route: no token at all.
    apiError(await f.api("GET", "/api/v1/dags/wc_a", undefined, { authorization: `Bearer ${token}` }), 401, "unauthorized");
    apiError(await f.api("GET", "/api/v1/dags/wc_a/runs/a1", undefined, { authorization: `Bearer ${token}` }), 401, "unauthorized");

    // Changed by a hand that does not hold the secret: another try number, another task instance, another mac.
    const [, id, , mac] = /^fw_(\d+)\.(\d+)\.(.+)$/.exec(token)!;
    apiError(await bundle("wc_a", 1, `fw_${id}.2.${mac}`), 401, "unauthorized");
    apiError(await bundle("wc_a", 1, `fw_${Number(id) + 1}.1.${mac}`), 401, "unauthorized");
    apiError(await bundle("wc_a", 1, `fw_${id}.1.${mac!.slice(0, -1)}${mac!.endsWith("A") ? "B" : "A"}`), 401, "unauthorized");
    // Made for this very try, with a secret that is not Ferry's.
    apiError(await bundle("wc_a", 1, workerTokenFor("not-the-secret", { taskInstanceId: id!, tryNumber: 1, dagId: "wc_a", dagVersion: 1 })), 401, "unauthorized");
    // The old kind of token, an HMAC of the DAG version alone, opens nothing.
    apiError(await bundle("wc_a", 1, `fw_${mac}`), 401, "unauthorized");

    // The whole task runs, then its token is spent.
    open.add("a1");
    const run = await f.waitForRun("wc_a", "a1");
    assert.equal(run.state, "success", JSON.stringify(run));
    assert.equal(run.tasks[0].result, "released");
    apiError(await bundle("wc_a", 1, token), 401, "unauthorized");
  });

  it("refuses one try's token for another try's bundle, and a try's token once the try is cancelled", async () => {
    // Two tries live at once, of two DAGs: each token opens its own bundle only.
    const a = await holdingRun("wc_a", "a2"); // version 2 by now
    const b = await holdingRun("wc_b", "b1");
    assert.equal((await bundle("wc_a", 2, a)).status, 200);
    assert.equal((await bundle("wc_b", 1, b)).status, 200);
    apiError(await bundle("wc_b", 1, a), 401, "unauthorized");
    apiError(await bundle("wc_a", 2, b), 401, "unauthorized");
    apiError(await bundle("wc_a", 1, a), 401, "unauthorized");

    // A try that ends by a cancel: its token stops working once its end is recorded.
    assert.equal((await f.api("POST", "/api/v1/dags/wc_b/runs/b1/cancel")).status, 200);
    await waitFor("b1's try to end", async () => (await f.api("GET", "/api/v1/dags/wc_b/runs/b1/tasks/hold")).body.tries[0].endedAt !== null, 60_000);
    apiError(await bundle("wc_b", 1, b), 401, "unauthorized");
    // The other try, still running, is not affected.
    assert.equal((await bundle("wc_a", 2, a)).status, 200);
    open.add("a2");
    assert.equal((await f.waitForRun("wc_a", "a2")).state, "success");
    apiError(await bundle("wc_a", 2, a), 401, "unauthorized");
  });

  it("hands a small bundle to its worker inline: no token, no API address, and the task runs", async () => {
    const env = await holdingPodEnv("wc_small", "s1");
    assert.equal(env.has(WORKER_ENV.token), false);
    assert.equal(env.has(WORKER_ENV.apiUrl), false);
    const current = await f.api("GET", "/api/v1/dags/wc_small/versions/1/bundle");
    assert.equal(env.get(WORKER_ENV.bundle), current.text, "the Pod holds the version's bundle, byte for byte");
    open.add("s1");
    const run = await f.waitForRun("wc_small", "s1");
    assert.equal(run.state, "success", JSON.stringify(run));
    assert.equal(run.tasks[0].result, "released inline");
  });
});
