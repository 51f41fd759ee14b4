// How a function task's worker gets its bundle (README.md, "Function tasks"): inline in its Pod up to
// FERRY_INLINE_BUNDLE_MAX_BYTES, fetched from the API past it. Here at the largest limit Ferry accepts,
// so that a bundle just under it shows the Pod still starts (Linux refuses an environment string past
// 128 KiB), and one just over it shows the fallback; the default limit is covered by
// test/api/worker-credentials.test.ts and test/build/built.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_INLINE_BUNDLE_BYTES } from "../../config/config.ts";
import { DAG_LABEL, POD_SELECTOR } from "../../executor/pod-names.ts";
import { WORKER_ENV } from "../../lib/pod-contract.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";
import { dagFile } from "../support/api.ts";

/** A DAG whose one function task prints the length of a literal of `chars` characters and holds a second. */
const sized = (dagId: string, chars: number) =>
  dagFile(
    dagId,
    `  const ballast = "${"x".repeat(chars)}";
  task("size", async (ctx) => {
    ctx.log("ballast " + ballast.length);
    await new Promise((r) => setTimeout(r, 1000));
    return ballast.length;
  });`,
  );

describe("worker bundles at the largest inline limit", { timeout: 120_000 }, () => {
  let f: TestFerry;
  const envs = new Map<string, Map<string, string>>();

  before(async () => {
    f = await startTestFerry({ s3: false, env: { FERRY_INLINE_BUNDLE_MAX_BYTES: String(MAX_INLINE_BUNDLE_BYTES) } });
  });
  after(async () => {
    await f?.close();
  });

  /** Pushes the DAG, runs it, and returns its bundle's size, its Pod's environment and the run. */
  async function runSized(dagId: string, chars: number) {
    assert.equal((await f.api("POST", "/api/v1/dags", sized(dagId, chars))).status, 201);
    const bytes = Buffer.byteLength((await f.api("GET", `/api/v1/dags/${dagId}/versions/1/bundle`)).text);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r" })).status, 201);
    // The task holds a second, so that its Pod can be read while it runs.
    await waitFor(`${dagId}'s Pod`, async () => {
      const pods = await f.ferry.kube.core.listNamespacedPod({ namespace: f.ferry.kube.namespace, labelSelector: `${POD_SELECTOR},${DAG_LABEL}=${dagId}` });
      const env = pods.items[0]?.spec?.containers[0]?.env;
      if (env) envs.set(dagId, new Map(env.map((e) => [e.name, e.value ?? ""])));
      return env !== undefined;
    }, 60_000);
    const run = await f.waitForRun(dagId, "r");
    const log = (await f.api("GET", `/api/v1/dags/${dagId}/runs/r/tasks/size/logs`)).text;
    return { bytes, env: envs.get(dagId)!, run, log };
  }

  it("runs a bundle just under the limit from the Pod's own environment", async () => {
    // The literal is in the code and again, base64-encoded, in the source map's copy of the source.
    const { bytes, env, run, log } = await runSized("inline_big", 40_000);
    assert.ok(bytes > 90_000 && bytes <= MAX_INLINE_BUNDLE_BYTES, `the bundle is ${bytes} bytes: not near the limit, so this shows nothing`);
    assert.equal(Buffer.byteLength(env.get(WORKER_ENV.bundle) ?? ""), bytes, "the whole bundle is in the Pod");
    assert.equal(env.has(WORKER_ENV.token), false);
    assert.equal(run.state, "success", JSON.stringify(run));
    assert.equal(run.tasks[0].result, 40_000);
    assert.equal(log, "ballast 40000\n");
  });

  it("fetches a bundle just over the limit from the API", async () => {
    const { bytes, env, run, log } = await runSized("fetched_big", 50_000);
    assert.ok(bytes > MAX_INLINE_BUNDLE_BYTES, `the bundle is ${bytes} bytes: under the limit, so this shows nothing`);
    assert.equal(env.has(WORKER_ENV.bundle), false);
    assert.match(env.get(WORKER_ENV.token) ?? "", /^fw_/);
    assert.equal(run.state, "success", JSON.stringify(run));
    assert.equal(log, "ballast 50000\n");
  });
});
