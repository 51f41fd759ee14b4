// `ferry dags test FILE` (node bin/ferry.js, no server): runs a DAG once on a throwaway embedded Postgres
// and localkube, streaming each task's log as `[taskId] line`, then each task's final state and the run's;
// exit 0 on success, 1 on failure, 130 on Ctrl-C, and nothing left behind (its folder, its processes).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { exitText, runCli } from "./run-cli.ts";

/** The throwaway Ferry's folder, as the command announces it on stderr. */
function testDir(stderr: string): string {
  const m = /starting a throwaway Ferry in (\S+) /.exec(stderr);
  assert.ok(m, `the command says where its Ferry lives: ${stderr}`);
  return m[1]!;
}

/** Processes whose command line holds `marker` (a task's, if localkube left it running). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(marker)) found.push(Number(pid));
  }
  return found;
}

// Hang guards: each run starts an embedded Postgres (initdb) and localkube on a loaded 2-core machine.
describe("ferry dags test", { timeout: 900_000 }, () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "ferry-dags-test-cli-"));
  });
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  const dagsTest = (file: string, args: string[] = [], opts: Parameters<typeof runCli>[1] = {}) =>
    runCli(["dags", "test", file, ...args], { cwd: tmp, timeoutMs: 400_000, env: { DATABASE_URL: undefined }, ...opts });

  it("runs a passing DAG: each task's log prefixed with its id, its state and result, the run's state; exit 0", async () => {
    await writeFile(
      path.join(tmp, "passing.ts"),
      `import { dag, task, podTask } from "ferry";

export default dag("passing", { schedule: "0 2 * * *", params: { name: "world" } }, () => {
  const greet = podTask("greet", { image: "alpine:3.20", command: ["sh", "-c", "echo hello {{ params.name }}; echo second line"] });
  task("count", async (ctx) => {
    ctx.log(\`counting \${ctx.params.name}\`);
    return { letters: String(ctx.params.name).length };
  }, { dependsOn: [greet] });
});
`,
    );
    const r = await dagsTest("passing.ts", ["--param", "name=you"]);
    assert.equal(r.code, 0, exitText(r));
    const lines = r.stdout.trimEnd().split("\n");
    assert.deepEqual(
      lines.filter((l) => l.startsWith("[greet] ")),
      ["[greet] hello you", "[greet] second line"],
      r.stdout,
    );
    assert.ok(lines.includes("[count] counting you"), r.stdout);
    assert.ok(lines.includes("task greet: success (try 1)"), r.stdout);
    assert.ok(lines.includes('task count: success (try 1), result {"letters":3}'), r.stdout);
    assert.ok(lines.indexOf("[greet] second line") < lines.indexOf("task greet: success (try 1)"), "a task's state follows its log");
    assert.ok(lines.indexOf("task greet: success (try 1)") < lines.indexOf("[count] counting you"), "tasks in the order they ran");
    assert.match(lines[lines.length - 1]!, /^run test__\S+: success$/);
    assert.equal(lines.filter((l) => l.startsWith("run ")).length, 1, "one run: the file's schedule made none");
    assert.equal(existsSync(testDir(r.stderr)), false, "its folder is removed");
  });

  it("runs a failing DAG: the failed task's log and exit code, the skipped downstream, the run failed; exit 1", async () => {
    await writeFile(
      path.join(tmp, "failing.ts"),
      `import { dag, podTask } from "ferry";

export default dag("failing", { schedule: null }, () => {
  const boom = podTask("boom", { image: "alpine:3.20", command: ["sh", "-c", "echo going down; exit 3"] });
  podTask("after", { image: "alpine:3.20", command: ["true"], dependsOn: [boom] });
});
`,
    );
    const r = await dagsTest("failing.ts");
    assert.equal(r.code, 1, exitText(r));
    const lines = r.stdout.trimEnd().split("\n");
    assert.ok(lines.includes("[boom] going down"), r.stdout);
    assert.ok(lines.some((l) => /^task boom: failed \(try 1, exit code 3\b/.test(l)), r.stdout);
    assert.ok(lines.includes("task after: upstream_failed"), r.stdout);
    assert.match(lines[lines.length - 1]!, /^run test__\S+: failed$/);
    assert.equal(existsSync(testDir(r.stderr)), false, "its folder is removed");
  });

  it("a file that does not check runs nothing and exits 1", async () => {
    await writeFile(path.join(tmp, "wrong.ts"), `import { dag, podTask } from "ferry";\n\nexport default dag("wrong", { schedule: null, defaults: { retries: "two" } }, () => {\n  podTask("a", { image: "alpine:3.20", command: ["true"] });\n});\n`);
    const r = await dagsTest("wrong.ts");
    assert.equal(r.code, 1, exitText(r));
    assert.match(r.stderr, /^wrong\.ts:3:\d+: .* \(TS2322\)$/m);
    assert.match(r.stderr, /nothing was run/);
    assert.doesNotMatch(r.stderr, /throwaway Ferry/);
    assert.equal(r.stdout, "");
  });

  it("Ctrl-C stops the run, removes the folder and the task's processes, exit 130", async () => {
    const marker = `ferry-dags-test-${randomBytes(4).toString("hex")}`;
    await writeFile(
      path.join(tmp, "slow.ts"),
      `import { dag, podTask } from "ferry";

export default dag("slow", { schedule: null }, () => {
  podTask("sleepy", { image: "alpine:3.20", command: ["sh", "-c", "echo started; sleep 600; echo ${marker}"] });
});
`,
    );
    let interrupted = false;
    let child: ChildProcess | undefined;
    const r = await dagsTest("slow.ts", ["--no-check"], {
      onOutput: (stdout) => {
        if (!interrupted && stdout.includes("[sleepy] started\n")) {
          interrupted = true;
          child?.kill("SIGINT");
        }
      },
      onStart: (c) => (child = c),
    });
    assert.ok(interrupted, `the task started: ${exitText(r)}`);
    assert.equal(r.code, 130, exitText(r));
    assert.match(r.stderr, /SIGINT: stopping the test Ferry/);
    assert.equal(existsSync(testDir(r.stderr)), false, "its folder is removed");
    assert.deepEqual(await processesWith(marker), [], "no task process is left running");
  });
});
