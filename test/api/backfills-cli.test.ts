// `ferry dags backfill` (the real CLI, node bin/ferry.js) against a whole test Ferry: what it prints,
// --json, and how it fails (a usage mistake exits 2, a refused backfill 1 with the API's message).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";
import { dagFile } from "../support/api.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("ferry dags backfill", { timeout: 180_000 }, () => {
  let f: TestFerry;
  let home: string;
  before(async () => {
    f = await startTestFerry({ s3: false });
    home = await mkdtemp(path.join(os.tmpdir(), "ferry-backfill-cli-"));
    const pushed = await f.api("POST", "/api/v1/dags", dagFile("cli_backfill", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: "0 6 * * *"`));
    assert.equal(pushed.status, 201, pushed.text);
  });
  after(async () => {
    await f?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  function ferry(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const env = { ...process.env, FERRY_URL: f.url, FERRY_API_TOKEN: TEST_TOKEN, FERRY_DATA_DIR: home };
      const child = spawn(process.execPath, ["bin/ferry.js", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c));
      child.stderr.on("data", (c: Buffer) => (stderr += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it("makes a backfill and prints its runs; --json prints the API's answer", async () => {
    const made = await ferry(["dags", "backfill", "cli_backfill", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-02T23:00:00Z", "--max-active-runs", "1"]);
    assert.equal(made.code, 0, made.stderr);
    const lines = made.stdout.trim().split("\n");
    assert.match(lines[0]!, /^backfill \d+ of cli_backfill: 2 runs \(2 created, 0 reprocessed\), 0 ticks left alone; follow it with GET \/api\/v1\/dags\/cli_backfill\/backfills\/\d+$/);
    assert.match(lines[1]!, /^RUN\s+LOGICAL DATE\s+ACTION$/);
    assert.match(lines[2]!, /^scheduled__2026-03-01T06:00:00.000Z\s+2026-03-01T06:00:00.000Z\s+created$/);
    assert.equal(lines.length, 4);
    const id = Number(/^backfill (\d+)/.exec(lines[0]!)![1]);
    const p = (await f.api("GET", `/api/v1/dags/cli_backfill/backfills/${id}`)).body;
    assert.equal(p.maxActiveRuns, 1);

    const json = await ferry(["dags", "backfill", "cli_backfill", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-03T23:00:00Z", "--reprocess", "none", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.deepEqual(body.runs, [{ runId: "scheduled__2026-03-03T06:00:00.000Z", logicalDate: "2026-03-03T06:00:00.000Z", action: "created" }]);
    assert.equal(body.leftAlone.length, 2);
  });

  it("exits 2 without the range, and 1 with the API's message for a refused backfill", async () => {
    const usage = await ferry(["dags", "backfill", "cli_backfill", "--from", "2026-03-01T00:00:00Z"]);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /needs the range: --from ISO --to ISO/);
    const refused = await ferry(["dags", "backfill", "cli_backfill", "--from", "2026-03-02T00:00:00Z", "--to", "2026-03-01T00:00:00Z"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /after to/);
    const help = await ferry(["dags", "backfill", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: ferry dags backfill DAG .*--from ISO.*--to ISO.*--max-active-runs N.*--reprocess none\|failed\|all.*--json/);
  });
});
