// Ferry killed with SIGKILL in the middle of a task, on a separate `ferry localkube` (whose Pods outlive
// it, as on a real cluster), then started again: the task finishes once, with its whole log, and its
// Pod is cleaned up. Everything runs as real processes through the real CLI.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDb, type TestDb } from "../support/db.ts";
import { apiClient, waitFor, TEST_TOKEN } from "../support/ferry.ts";
import { freePort } from "../../db/embedded.ts";

const BIN = new URL("../../bin/ferry.js", import.meta.url).pathname;
const DAG = `
import { dag, podTask } from "ferry";
export default dag("survivor", { schedule: null }, () => {
  podTask("count", { image: "busybox", command: ["sh", "-c", "for i in $(seq 1 50); do echo tick $i; sleep 0.1; done"] });
});
`;

function start(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  let out = "";
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  return { child, output: () => out };
}

function stopped(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

describe("a Ferry that dies mid-task", { timeout: 180_000 }, () => {
  let db: TestDb;
  let dataDir: string;
  let localkube: ReturnType<typeof start>;
  const ferries: ChildProcess[] = [];
  before(async () => {
    db = await createTestDb();
    dataDir = await mkdtemp(path.join(os.tmpdir(), "ferry-restart-"));
    await chmod(dataDir, 0o755); // embedded Postgres, run as the postgres user under root, must reach its folder
  });
  after(async () => {
    for (const f of ferries) f.kill("SIGKILL");
    if (localkube) {
      localkube.child.kill("SIGTERM");
      await stopped(localkube.child);
    }
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("finishes the task once with its whole log after a restart", async () => {
    const kubePort = await freePort();
    localkube = start(["localkube", "--port", String(kubePort)], { FERRY_DATA_DIR: path.join(dataDir, "kube") });
    const kubeconfig = path.join(dataDir, "kube", "kubeconfig");
    await waitFor("localkube to write its kubeconfig", async () => localkube.output().includes("kubeconfig"));
    assert.match(await readFile(kubeconfig, "utf8"), new RegExp(`127\\.0\\.0\\.1:${kubePort}`));

    const port = await freePort();
    const env = {
      DATABASE_URL: db.url,
      FERRY_DATA_DIR: path.join(dataDir, "ferry"),
      FERRY_PORT: String(port),
      FERRY_KUBE: "kubeconfig",
      KUBECONFIG: kubeconfig,
      FERRY_API_TOKEN: TEST_TOKEN,
      FERRY_LOG_STORE: `file://${path.join(dataDir, "logs")}`,
    };
    const url = `http://127.0.0.1:${port}`;
    const api = apiClient(url);

    const first = start(["start"], env);
    ferries.push(first.child);
    await waitFor("Ferry to start", async () => first.output().includes("Ferry is running"), 60_000);
    assert.equal((await api("POST", "/api/v1/dags", DAG)).status, 201);
    assert.equal((await api("POST", "/api/v1/dags/survivor/runs", { runId: "r1" })).status, 201);
    await waitFor("the task to be running", async () => JSON.parse((await api("GET", "/api/v1/dags/survivor/runs/r1")).text).tasks[0].state === "running");
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill("SIGKILL");
    await stopped(first.child);

    const second = start(["start"], env);
    ferries.push(second.child);
    await waitFor("Ferry to start again", async () => second.output().includes("Ferry is running"), 60_000);
    const run = await waitFor(
      "the run to finish",
      async () => {
        const r = JSON.parse((await api("GET", "/api/v1/dags/survivor/runs/r1")).text);
        return ["success", "failed"].includes(r.state) ? r : null;
      },
      90_000,
    );
    assert.equal(run.state, "success", second.output());
    assert.equal(run.tasks[0].tryNumber, 1, "the Pod survived the restart, so the first try finished");
    const log = await api("GET", "/api/v1/dags/survivor/runs/r1/tasks/count/logs");
    assert.equal(log.text, Array.from({ length: 50 }, (_, i) => `tick ${i + 1}\n`).join(""));

    second.child.kill("SIGTERM");
    await stopped(second.child);
    assert.equal(second.child.exitCode, 0, "a clean shutdown on SIGTERM");
  });

  it("on embedded defaults, starts again after being killed, taking over the Postgres it left running", async () => {
    const port = await freePort();
    const env = { FERRY_DATA_DIR: path.join(dataDir, "embedded"), FERRY_PORT: String(port), DATABASE_URL: "", FERRY_API_TOKEN: "" };
    const first = start(["start"], env);
    ferries.push(first.child);
    await waitFor("Ferry to start", async () => first.output().includes("Ferry is running") || first.child.exitCode !== null, 90_000);
    assert.match(first.output(), /Ferry is running/, first.output());
    const token = /admin token \(shown once[^\n]*\n\s+(\S+)/.exec(first.output())?.[1];
    assert.ok(token, `the first start prints the generated admin token:\n${first.output()}`);
    assert.equal((await readFile(path.join(dataDir, "embedded", "api-token"), "utf8")).trim(), token);
    first.child.kill("SIGKILL");
    await stopped(first.child);

    const second = start(["start"], env);
    ferries.push(second.child);
    await waitFor("Ferry to start again", async () => second.output().includes("Ferry is running") || second.child.exitCode !== null, 90_000).catch((err) => {
      throw new Error(`${err.message}; its output:\n${second.output()}`);
    });
    assert.match(second.output(), /Ferry is running/, second.output());
    assert.doesNotMatch(second.output(), /shown once/, "the token is generated only on the first start");
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/dags`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    second.child.kill("SIGTERM");
    await stopped(second.child);
    assert.equal(second.child.exitCode, 0);
  });
});
