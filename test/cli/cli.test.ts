// The real `ferry` CLI (node bin/ferry.js) against a whole test Ferry: pushing and listing DAGs,
// triggering and showing a run, printing a task's log, and what it says (and exits with) when it fails.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";
import { dagFile } from "../support/api.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const GREET = fileURLToPath(new URL("../fixtures/dags/api-cli-greet.ts", import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The timeout guards against a hang, not speed: each test spawns `node bin/ferry.js`, slow on a loaded 2-core machine.
describe("the ferry CLI", { timeout: 300_000 }, () => {
  let f: TestFerry;
  let home: string; // an empty FERRY_DATA_DIR, so no saved token is picked up by accident
  before(async () => {
    f = await startTestFerry();
    home = await mkdtemp(path.join(os.tmpdir(), "ferry-cli-test-"));
  });
  after(async () => {
    await f?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  function ferry(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
    return ferryBytes(args, env).then((r) => ({ ...r, stdout: r.stdout.toString() }));
  }
  /** Runs the CLI with its stdout as bytes; `onStdout` sees each piece as it arrives (and may close the pipe). */
  function ferryBytes(
    args: string[],
    env: Record<string, string | undefined> = {},
    onStdout?: (chunk: Buffer, stdout: NodeJS.ReadableStream & { destroy(): void }) => void,
  ): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
    const base: Record<string, string | undefined> = { ...process.env, FERRY_URL: f.url, FERRY_API_TOKEN: TEST_TOKEN, FERRY_DATA_DIR: home, ...env };
    for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k];
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["bin/ferry.js", ...args], { cwd: root, env: base as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
      const stdout: Buffer[] = [];
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => {
        stdout.push(c);
        onStdout?.(c, child.stdout);
      });
      child.stderr.on("data", (c: Buffer) => (stderr += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: Buffer.concat(stdout), stderr });
      });
    });
  }
  const ok = (r: CliResult) => assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

  it("dags push FILE prints pushed and the version", async () => {
    const r = await ferry(["dags", "push", GREET]);
    ok(r);
    assert.match(r.stdout, /\bpushed\b.*\bapi_cli_greet\b.*\bversion 1\b/);
    assert.match(r.stdout, /^greet\s+pod\s+-$/m, "a row per task");
    assert.match(r.stdout, /^bye\s+pod\s+greet$/m);
    assert.equal(r.stderr, "");

    const again = await ferry(["dags", "push", GREET]);
    ok(again);
    assert.match(again.stdout, /\bapi_cli_greet\b.*\bversion 1\b/, "the same file keeps its version");

    const dag = await f.api("GET", "/api/v1/dags/api_cli_greet");
    assert.equal(dag.status, 200);
    assert.equal(dag.body.version, 1);
  });

  it("dags list shows the pushed DAG", async () => {
    const r = await ferry(["dags", "list"]);
    ok(r);
    assert.match(r.stdout, /^DAG\s+VERSION/m);
    assert.match(r.stdout, /^api_cli_greet\s+1\s+manual\s+false\b/m);
  });

  it("runs trigger, runs show and logs: a run from start to its output", async () => {
    const trig = await ferry(["runs", "trigger", "api_cli_greet", "--param", "region=us", "--run-id", "r1"]);
    ok(trig);
    assert.match(trig.stdout, /\bapi_cli_greet\b.*\br1\b/);

    const run = await f.waitForRun("api_cli_greet", "r1");
    assert.equal(run.state, "success", JSON.stringify(run, null, 2));
    assert.deepEqual(run.params, { region: "us" });

    const show = await ferry(["runs", "show", "api_cli_greet", "r1"]);
    ok(show);
    assert.match(show.stdout, /^api_cli_greet r1: success\b/m);
    assert.match(show.stdout, /^greet\s+success\s+1\s+0\s/m);
    assert.match(show.stdout, /^bye\s+success\s+1\s+0\s/m);

    const greet = await ferry(["logs", "api_cli_greet", "r1", "greet"]);
    ok(greet);
    assert.equal(greet.stdout, "hello us from r1\n", "exactly the task's output, nothing added");
    // The ended try's events (why it ended) follow on stderr, never on stdout; --no-events leaves them out.
    for (const line of greet.stderr.split("\n").filter((l) => l !== "")) assert.match(line, /^\S+Z (Normal|Warning) \S+: /);
    const bare = await ferry(["logs", "api_cli_greet", "r1", "greet", "--no-events"]);
    ok(bare);
    assert.equal(bare.stdout, "hello us from r1\n");
    assert.equal(bare.stderr, "");

    const bye = await ferry(["logs", "api_cli_greet", "r1", "bye", "--try", "1"]);
    ok(bye);
    assert.equal(bye.stdout, "bye\nno newline at the end", "not even a final newline is added");
  });

  it("runs trigger with a taken run id fails with the API's message", async () => {
    const r = await ferry(["runs", "trigger", "api_cli_greet", "--run-id", "r1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /run_exists/);
    assert.match(r.stderr, /r1/);
  });

  it("pushing a broken DAG exits 1 with the message and the line on stderr", async () => {
    const broken = path.join(home, "broken.ts");
    await writeFile(
      broken,
      [
        'import { dag, podTask } from "ferry";', // 1
        'export default dag("api_cli_broken", { schedule: null }, () => {', // 2
        "", // 3
        '  podTask("x", { image: "alpine:3.20", command: ["true"] ;', // 4: the `}` is missing
        "});",
        "",
      ].join("\n"),
    );
    const missingFile = ferry(["dags", "push", path.join(home, "no-such-file.ts")]);
    // --no-check: the server's answer (the local check's FILE:LINE:COL form is test/cli/authoring.test.ts's).
    const r = await ferry(["dags", "push", "--no-check", broken]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /compile_error/);
    assert.match(r.stderr, /line 4\b/);
    assert.doesNotMatch(r.stdout, /pushed/);
    assert.doesNotMatch(r.stderr, /^\s+at .*\.(ts|js):\d+/m, "a message, not a stack trace");
    assert.equal((await f.api("GET", "/api/v1/dags/api_cli_broken")).status, 404);

    const invalid = path.join(home, "invalid.ts");
    await writeFile(invalid, `import { dag, podTask } from "ferry";\nexport default dag("api_cli_invalid", { schedule: "every tuesday" }, () => {\n  podTask("x", { image: "a", command: ["true"] });\n});\n`);
    const bad = await ferry(["dags", "push", invalid]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid_dag/);
    assert.match(bad.stderr, /schedule/, "each problem is listed");

    const missing = await missingFile;
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-file\.ts/);
  });

  it("without a token it exits non-zero and says how to give one", async () => {
    const [r, wrong] = await Promise.all([
      ferry(["dags", "list"], { FERRY_API_TOKEN: undefined }),
      ferry(["dags", "list"], { FERRY_API_TOKEN: "not-the-token" }),
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FERRY_API_TOKEN/);
    assert.doesNotMatch(r.stderr, /^\s+at .*\.(ts|js):\d+/m, "a message, not a stack trace");

    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|not valid/i);
  });

  it("says so when Ferry cannot be reached", async () => {
    const r = await ferry(["dags", "list"], { FERRY_URL: "http://127.0.0.1:9" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /127\.0\.0\.1:9/);
  });

  it("an unknown command exits non-zero and prints the usage", async () => {
    const [r, sub, none, help] = await Promise.all([ferry(["frobnicate"]), ferry(["dags", "frobnicate"]), ferry([]), ferry(["--help"])]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /frobnicate/);
    assert.match(r.stdout + r.stderr, /usage: ferry/);
    assert.match(r.stdout + r.stderr, /dags push FILE/);

    assert.notEqual(sub.code, 0);
    assert.match(sub.stdout + sub.stderr, /usage: ferry/);

    assert.notEqual(none.code, 0);
    assert.match(none.stdout + none.stderr, /usage: ferry/);

    ok(help);
    assert.match(help.stdout, /usage: ferry/);
  });

  it("--help or -h prints the usage of ferry and of each command on stdout and exits 0", async () => {
    const commands = ["start", "localkube", "dags push", "dags list", "runs trigger", "runs list", "runs show", "runs cancel", "logs"];
    const [top, short, helpWord] = await Promise.all([ferry(["--help"]), ferry(["-h"]), ferry(["help"])]);
    for (const r of [top, short, helpWord]) {
      ok(r);
      assert.match(r.stdout, /^usage: ferry <command>/);
      for (const c of commands) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, "m"), `the overview lists ${c}`);
      assert.equal(r.stderr, "");
    }
    const each = await Promise.all(commands.map((c, i) => ferry([...c.split(" "), i % 2 ? "-h" : "--help"])));
    each.forEach((r, i) => {
      ok(r);
      assert.match(r.stdout, new RegExp(`^usage: ferry ${commands[i]}\\b`), r.stdout);
      assert.match(r.stdout, /^\s+-h, --help\s/m);
    });
    const logsHelp = each[commands.indexOf("logs")]!.stdout;
    for (const o of ["--try N", "-f, --follow", "--tail N", "--no-events"]) assert.ok(logsHelp.includes(o), `logs --help names ${o}`);
    assert.match(each[commands.indexOf("runs trigger")]!.stdout, /--param k=v/);

    // Help wins over everything else on the line, and needs no running Ferry.
    const withArgs = await ferry(["runs", "show", "some_dag", "--frobnicate", "-h"], { FERRY_URL: "http://127.0.0.1:9" });
    ok(withArgs);
    assert.match(withArgs.stdout, /^usage: ferry runs show DAG RUN/);
  });

  it("an unknown option exits 2 with a message and the command's usage", async () => {
    const [long, short, top, noValue] = await Promise.all([
      ferry(["runs", "show", "api_cli_greet", "r1", "--frobnicate"]),
      ferry(["logs", "api_cli_greet", "r1", "greet", "-x"]),
      ferry(["--frobnicate"]),
      ferry(["logs", "api_cli_greet", "r1", "greet", "--follow=yes"]),
    ]);
    assert.equal(long.code, 2);
    assert.match(long.stderr, /unknown option --frobnicate for `ferry runs show`/);
    assert.match(long.stderr, /usage: ferry runs show DAG RUN/);
    assert.doesNotMatch(long.stderr, /^\s+at .*\.(ts|js):\d+/m, "a message, not a stack trace");
    assert.equal(long.stdout, "");

    assert.equal(short.code, 2);
    assert.match(short.stderr, /unknown option -x for `ferry logs`/);
    assert.match(short.stderr, /usage: ferry logs DAG RUN TASK/);

    assert.equal(top.code, 2);
    assert.match(top.stderr, /unknown option --frobnicate/);
    assert.match(top.stderr, /usage: ferry <command>/);

    assert.equal(noValue.code, 2);
    assert.match(noValue.stderr, /--follow takes no value/);
  });

  it("takes options before the command words too, and --json on every dags/runs command", async () => {
    const list = await ferry(["--json", "dags", "list"]);
    ok(list);
    assert.ok(JSON.parse(list.stdout).some((d: { dagId: string }) => d.dagId === "api_cli_greet"));
    const runs = await ferry(["runs", "list", "api_cli_greet", "--limit", "1", "--json"]);
    ok(runs);
    assert.equal(JSON.parse(runs.stdout).length, 1);
  });

  it("a command missing its arguments exits non-zero with its usage", async () => {
    const [r, noValue, badParam] = await Promise.all([
      ferry(["runs", "show", "api_cli_greet"]),
      ferry(["runs", "trigger", "api_cli_greet", "--param"]),
      ferry(["runs", "trigger", "api_cli_greet", "--param", "novalue"]),
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /usage: ferry runs show DAG RUN/);

    assert.notEqual(noValue.code, 0);
    assert.match(noValue.stderr, /--param needs a value/);
    assert.doesNotMatch(noValue.stderr, /^\s+at .*\.(ts|js):\d+/m, "a message, not a stack trace");

    assert.notEqual(badParam.code, 0);
    assert.match(badParam.stderr, /key=value/);
  });

  it("logs -f streams a running task's log to the end: exactly the printed bytes", async () => {
    const dagId = "cli_follow";
    // Bytes that are not UTF-8, lines printed over time, and no final newline.
    const script = "printf 'a\\377\\376b\\n'; sleep 0.3; printf 'line 2\\n'; sleep 0.3; printf '\\200end'";
    const printed = Buffer.concat([Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]), Buffer.from("line 2\n"), Buffer.from([0x80]), Buffer.from("end")]);
    const body = `podTask("t", { image: "alpine:3.20", command: ["sh", "-c", ${JSON.stringify(script)}] });`;
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, body))).status, 201);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "f1" })).status, 201);
    await waitFor("the task to run", async () => (await f.api("GET", `/api/v1/dags/${dagId}/runs/f1`)).body?.tasks?.[0]?.state === "running");

    const r = await ferryBytes(["logs", dagId, "f1", "t", "-f"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(printed), `the printed bytes, got ${JSON.stringify(r.stdout.toString("latin1"))}`);

    const tail = await ferryBytes(["logs", dagId, "f1", "t", "--tail", "2"]);
    assert.equal(tail.code, 0, tail.stderr);
    assert.ok(tail.stdout.equals(Buffer.concat([Buffer.from("line 2\n"), Buffer.from([0x80]), Buffer.from("end")])), "the last two lines");

    const bad = await ferry(["logs", dagId, "f1", "t", "--tail", "-1"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /tail/);
    assert.match(bad.stderr, /bad_request/);
  });

  it("exits quietly when its stdout is closed early (ferry logs -f ... | head -1)", async () => {
    const dagId = "cli_epipe";
    const script = "i=0; while [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.1; done";
    const body = `podTask("t", { image: "alpine:3.20", command: ["sh", "-c", ${JSON.stringify(script)}] });`;
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, body))).status, 201);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "p1" })).status, 201);
    await waitFor("the task to run", async () => (await f.api("GET", `/api/v1/dags/${dagId}/runs/p1`)).body?.tasks?.[0]?.state === "running");

    // The reader goes away after the first piece, as `head -1` does; the CLI's next write meets EPIPE.
    const r = await ferryBytes(["logs", dagId, "p1", "t", "-f"], {}, (_chunk, stdout) => stdout.destroy());
    assert.equal(r.stderr, "", "no stack trace, no message");
    assert.equal(r.code, 0);
    assert.match(r.stdout.toString(), /^line 0\n/);
    assert.equal((await f.api("GET", `/api/v1/dags/${dagId}/runs/p1`)).body.tasks[0].state, "running", "it stopped because its reader left, not because the log ended");
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs/p1/cancel`)).status, 200);
  });
});
