// The worker credential (README.md, "Tokens and roles"): each function-task try's Pod gets a token that
// opens only its own DAG version's bundle, and only until the try ends. Whole function tasks run on
// localkube; each holds at a gate (a local HTTP server) while the test reads the token from its Pod and
// tries it against the bundle route, then is let go.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DAG_LABEL, POD_SELECTOR, RUN_LABEL } from "../../executor/pod-names.ts";
import { WORKER_ENV } from "../../lib/pod-contract.ts";
import { workerTokenFor } from "../../lib/tokens.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

/** A DAG whose function task waits until the test opens its gate (`ctx.params.gate`), then returns. */
const held = (dagId: string, note = "") =>
  dagFile(
    dagId,
    `  task("hold", async (ctx) => {
    // ${note}
    while ((await fetch(String(ctx.params.gate))).status !== 200) await new Promise((r) => setTimeout(r, 100));
    return "released";
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
  });
  after(async () => {
    for (const name of waiting) open.add(name); // let any task still held end
    await new Promise((r) => gates?.close(r));
    await f?.close();
  });

  /** Triggers a run whose task holds at its gate; resolves with the worker token its Pod was given, once the task runs. */
  async function holdingRun(dagId: string, runId: string): Promise<string> {
    const trigger = await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId, params: { gate: `${gateUrl}/${runId}` } });
    assert.equal(trigger.status, 201, trigger.text);
    await waitFor(`${runId} to reach its gate`, async () => waiting.has(runId), 60_000);
    const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: f.ferry.kube.namespace, labelSelector: `${POD_SELECTOR},${DAG_LABEL}=${dagId},${RUN_LABEL}=${runId}` });
    assert.equal(pods.items.length, 1);
    const token = pods.items[0]!.spec!.containers[0]!.env!.find((e) => e.name === WORKER_ENV.token)!.value!;
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
});
