// `ferry logs` tells why a try ended: after the log (stdout, exactly the container's bytes) the try's
// events follow on stderr once the try has ended, also when a --follow ends; --no-events leaves them out.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { captureKubeEvents } from "../../executor/pod-events.ts";
import { getRun, getTaskInstance } from "../../scheduler/runs.repository.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const EVENT_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (Normal|Warning) [A-Za-z]+: .+$/;

interface Cli {
  stdout: string;
  stderr: string;
  done: Promise<number | null>;
}

describe("ferry logs and a try's events", { timeout: 120_000 }, () => {
  let f: TestFerry;
  let home: string;
  before(async () => {
    f = await startTestFerry({ s3: false });
    home = await mkdtemp(path.join(os.tmpdir(), "ferry-cli-events-"));
    const dag = dagFile(
      "cli_events",
      [
        `  podTask("quiet", { image: "alpine:3.20", command: ["sh", "-c", "printf partial; exit 3"] });`,
        `  podTask("slow", { image: "alpine:3.20", command: ["sh", "-c", "echo slow; sleep 60"] });`,
      ].join("\n"),
    );
    assert.equal((await f.api("POST", "/api/v1/dags", dag)).status, 201);
  });
  after(async () => {
    await f?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  function ferry(args: string[]): Cli {
    const env = { ...process.env, FERRY_URL: f.url, FERRY_API_TOKEN: TEST_TOKEN, FERRY_DATA_DIR: home };
    const child = spawn(process.execPath, ["bin/ferry.js", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    const cli: Cli = { stdout: "", stderr: "", done: Promise.resolve(null) };
    child.stdout.on("data", (c: Buffer) => (cli.stdout += c));
    child.stderr.on("data", (c: Buffer) => (cli.stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    cli.done = new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    return cli;
  }
  async function run(args: string[]): Promise<Cli> {
    const cli = ferry(args);
    assert.equal(await cli.done, 0, `exit status of ferry ${args.join(" ")}\nstdout: ${cli.stdout}\nstderr: ${cli.stderr}`);
    return cli;
  }

  it("prints an ended try's events on stderr after its log, and --no-events hides them", async () => {
    const trig = await f.api("POST", "/api/v1/dags/cli_events/runs", { runId: "r1" });
    assert.equal(trig.status, 201, trig.text);
    // Only `quiet` is of interest here; `slow` is cancelled with the run once `quiet` has failed.
    await waitFor("quiet to fail", async () => {
      const t = (await f.api("GET", "/api/v1/dags/cli_events/runs/r1/tasks/quiet")).body;
      return t.state === "failed" && t.tries[0]?.endedAt ? t : null;
    });
    assert.equal((await f.api("POST", "/api/v1/dags/cli_events/runs/r1/cancel")).status, 200);
    const quiet = (await f.api("GET", "/api/v1/dags/cli_events/runs/r1/tasks/quiet")).body;
    const runRow = await getRun(f.ferry.db, "cli_events", "r1");
    const ti = await getTaskInstance(f.ferry.db, runRow!.pk, "quiet");
    const stored = await captureKubeEvents(f.ferry.kube, f.ferry.db, { taskInstanceId: ti!.id, tryNumber: 1, namespace: "default", podName: quiet.podName });
    assert.ok(stored > 0);

    const shown = await run(["logs", "cli_events", "r1", "quiet"]);
    assert.equal(shown.stdout, "partial", "the log is exactly what the container printed, events or not");
    const lines = shown.stderr.split("\n").filter((l) => l !== "");
    const listed = (await f.api("GET", "/api/v1/dags/cli_events/runs/r1/tasks/quiet/events")).body.events;
    assert.ok(listed.length >= stored);
    assert.equal(lines.length, listed.length, `one line per event of the try:\n${shown.stderr}`);
    for (const l of lines) assert.match(l, EVENT_LINE);
    assert.match(shown.stderr, new RegExp(`Normal Scheduled: Successfully assigned default/${quiet.podName} to `));
    assert.ok(lines.findIndex((l) => / Scheduled: /.test(l)) < lines.findIndex((l) => / Started: /.test(l)), "oldest first");

    const hidden = await run(["logs", "cli_events", "r1", "quiet", "--no-events"]);
    assert.equal(hidden.stdout, "partial");
    assert.equal(hidden.stderr, "");
  });

  it("prints nothing while the try runs, and the cancel with who did it when a --follow ends", async () => {
    const trig = await f.api("POST", "/api/v1/dags/cli_events/runs", { runId: "r2" });
    assert.equal(trig.status, 201, trig.text);
    await waitFor("slow's first line", async () => (await f.api("GET", "/api/v1/dags/cli_events/runs/r2/tasks/slow/logs")).text === "slow\n");

    const running = await run(["logs", "cli_events", "r2", "slow"]);
    assert.equal(running.stdout, "slow\n");
    assert.equal(running.stderr, "", "a running try's story is not over: no events yet");

    const follow = ferry(["logs", "cli_events", "r2", "slow", "-f"]);
    await waitFor("the follower to print the first line", async () => follow.stdout === "slow\n");
    assert.equal((await f.api("POST", "/api/v1/dags/cli_events/runs/r2/cancel")).status, 200);
    assert.equal(await follow.done, 0, follow.stderr);
    assert.equal(follow.stdout, "slow\n", "nothing added to the log");
    const lines = follow.stderr.split("\n").filter((l) => l !== "");
    for (const l of lines) assert.match(l, EVENT_LINE);
    assert.ok(lines.some((l) => / Warning Cancelled: cancelled through the API by the admin token$/.test(l)), follow.stderr);
  });
});
