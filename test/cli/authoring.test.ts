// Writing DAGs outside the checkout (node bin/ferry.js, as a user runs it): `ferry init DIR` makes a
// project the TypeScript compiler (Ferry's own, from node_modules) checks with no install and no
// network; `ferry dags check FILE` type-checks and validates as the server would, FILE:LINE:COL;
// `ferry dags push` runs that check first (--no-check skips it).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";
import { exitText, ROOT, runCli, type CliResult } from "./run-cli.ts";

const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");

/** Ferry's own TypeScript compiler on a project folder: its exit code and what it printed. */
function tsc(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

const WRONG = `import { dag, podTask } from "ferry";

export default dag("wrong", { schedule: null, defaults: { retries: "two" } }, () => {
  podTask("a", { image: "alpine:3.20", command: ["true"] });
});
`;

describe("authoring DAGs outside the checkout", { timeout: 600_000 }, () => {
  let tmp: string;
  let project: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "ferry-authoring-"));
    project = path.join(tmp, "my-dags");
  });
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  const ok = (r: CliResult) => assert.equal(r.code, 0, exitText(r));

  it("ferry init makes a project tsc checks with no install: the example passes, a wrong DAG fails with a type error", async () => {
    const r = await runCli(["init", project], { cwd: tmp });
    ok(r);
    for (const f of ["tsconfig.json", "README.md", "dags/hello.ts", "types/ferry/index.d.ts"]) {
      assert.ok(existsSync(path.join(project, f)), `init wrote ${f}`);
      assert.match(r.stdout, new RegExp(`^wrote ${path.join(project, f).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
    }
    assert.equal(existsSync(path.join(project, "node_modules")), false, "nothing installed");
    const tsconfig = JSON.parse(await readFile(path.join(project, "tsconfig.json"), "utf8"));
    assert.deepEqual(tsconfig.compilerOptions.paths, { ferry: ["./types/ferry/index.d.ts"] });
    // Every declaration file's relative imports resolve inside the folder.
    for (const name of await readdir(path.join(project, "types", "ferry"))) {
      const text = await readFile(path.join(project, "types", "ferry", name), "utf8");
      for (const m of text.matchAll(/from "(\.\/[^"]+)"/g)) {
        assert.ok(existsSync(path.join(project, "types", "ferry", m[1]!.replace(/\.js$/, ".d.ts"))), `${name} imports ${m[1]}, which is there`);
      }
    }

    const clean = await tsc(["--noEmit", "-p", project]);
    assert.equal(clean.code, 0, clean.output);
    // The declarations themselves are sound too, not only skipped.
    const libs = await tsc(["--noEmit", "-p", project, "--skipLibCheck", "false"]);
    assert.equal(libs.code, 0, libs.output);

    await writeFile(path.join(project, "dags", "wrong.ts"), WRONG);
    const wrong = await tsc(["--noEmit", "-p", project]);
    assert.notEqual(wrong.code, 0, "a DAG with retries: \"two\" does not type-check");
    assert.match(wrong.output, /dags\/wrong\.ts\(3,59\): error TS2322: Type 'string' is not assignable to type 'number'\./);
    assert.doesNotMatch(wrong.output, /hello\.ts/, "only the wrong file is reported");
    await rm(path.join(project, "dags", "wrong.ts"));
  });

  it("ferry init again keeps the author's files and refreshes types/ferry/", async () => {
    const mine = "// my own edit\n";
    await writeFile(path.join(project, "dags", "hello.ts"), mine);
    await writeFile(path.join(project, "types", "ferry", "stale.d.ts"), "export {};\n");
    const r = await runCli(["init", project, "--json"]);
    ok(r);
    const answer = JSON.parse(r.stdout);
    assert.deepEqual([...answer.kept].sort(), ["README.md", path.join("dags", "hello.ts"), "tsconfig.json"]);
    assert.ok(answer.written.includes(path.join("types", "ferry", "index.d.ts")));
    assert.equal(await readFile(path.join(project, "dags", "hello.ts"), "utf8"), mine);
    assert.equal(existsSync(path.join(project, "types", "ferry", "stale.d.ts")), false, "what the SDK no longer has goes");

    const notDir = path.join(tmp, "a-file");
    await writeFile(notDir, "x");
    const bad = await runCli(["init", notDir]);
    assert.equal(bad.code, 1, exitText(bad));
    assert.match(bad.stderr, /exists and is not a folder/);
    const usage = await runCli(["init"]);
    assert.equal(usage.code, 2, exitText(usage));
    assert.match(usage.stderr, /usage: ferry init DIR/);
  });

  it("dags check passes the example and reports type and validation errors as FILE:LINE:COL, exiting 1", async () => {
    const dir = path.join(tmp, "check");
    ok(await runCli(["init", dir]));
    const good = await runCli(["dags", "check", path.join("dags", "hello.ts")], { cwd: dir });
    ok(good);
    assert.equal(good.stdout, `${path.join("dags", "hello.ts")}: ok: DAG hello, 2 tasks (greet, count)\n`);

    await writeFile(path.join(dir, "wrong.ts"), WRONG);
    const wrong = await runCli(["dags", "check", "wrong.ts"], { cwd: dir });
    assert.equal(wrong.code, 1, exitText(wrong));
    assert.match(wrong.stderr, /^wrong\.ts:3:59: Type 'string' is not assignable to type 'number'\. \(TS2322\)$/m);
    assert.match(wrong.stderr, /^wrong\.ts:3:\d+: defaults\.retries: must be .*"two".* \(invalid_dag\)$/m, "the server's own validation, here");
    assert.match(wrong.stderr, /^ferry: wrong\.ts: 2 problems$/m);
    assert.equal(wrong.stdout, "");

    // Valid TypeScript the server refuses: only the validation speaks, on the task's line.
    await writeFile(
      path.join(dir, "cycle.ts"),
      `import { dag, podTask } from "ferry";\n\nexport default dag("cycle", { schedule: "every tuesday" }, () => {\n  podTask("a", { image: "alpine:3.20", command: ["true"], dependsOn: ["a"] });\n});\n`,
    );
    const invalid = await runCli(["dags", "check", "cycle.ts", "--json"], { cwd: dir });
    assert.equal(invalid.code, 1, exitText(invalid));
    const answer = JSON.parse(invalid.stdout);
    assert.equal(answer.ok, false);
    assert.equal(answer.typechecked, true);
    assert.ok(answer.problems.length >= 2, invalid.stdout);
    assert.ok(answer.problems.every((p: any) => p.code === "invalid_dag"), invalid.stdout);
    assert.ok(answer.problems.some((p: any) => /^schedule: /.test(p.message)), invalid.stdout);
    assert.ok(answer.problems.some((p: any) => p.line === 4 && /dependsOn/.test(p.message)), invalid.stdout);

    // A syntax error: TypeScript's own message, and the compile error, both at line 4.
    await writeFile(path.join(dir, "broken.ts"), `import { dag, podTask } from "ferry";\nexport default dag("b", { schedule: null }, () => {\n\n  podTask("x", { image: "alpine:3.20", command: ["true"] ;\n});\n`);
    const broken = await runCli(["dags", "check", "broken.ts"], { cwd: dir });
    assert.equal(broken.code, 1, exitText(broken));
    assert.match(broken.stderr, /^broken\.ts:4:\d+: .* \(TS\d+\)$/m);
    assert.match(broken.stderr, /^broken\.ts:4:\d+: .* \(compile_error\)$/m);

    const missing = await runCli(["dags", "check", "nope.ts"], { cwd: dir });
    assert.equal(missing.code, 1, exitText(missing));
    assert.match(missing.stderr, /Cannot read nope\.ts/);
  });

  describe("dags push checks first", () => {
    let f: TestFerry;
    before(async () => {
      f = await startTestFerry({ s3: false });
    });
    after(async () => {
      await f?.close();
    });

    it("a file with problems is not pushed; --no-check posts it and the server refuses it; a good one is pushed", async () => {
      const env = { FERRY_URL: f.url, FERRY_API_TOKEN: TEST_TOKEN, FERRY_DATA_DIR: tmp };
      await writeFile(path.join(tmp, "wrong.ts"), WRONG);
      const refused = await runCli(["dags", "push", "wrong.ts"], { cwd: tmp, env });
      assert.equal(refused.code, 1, exitText(refused));
      assert.match(refused.stderr, /^wrong\.ts:3:59: .* \(TS2322\)$/m);
      assert.match(refused.stderr, /nothing was pushed/);
      assert.equal((await f.api("GET", "/api/v1/dags/wrong")).status, 404, "the check stopped it before the API");

      const unchecked = await runCli(["dags", "push", "wrong.ts", "--no-check"], { cwd: tmp, env });
      assert.equal(unchecked.code, 1, exitText(unchecked));
      assert.match(unchecked.stderr, /invalid_dag/, "the API's own answer");
      assert.doesNotMatch(unchecked.stderr, /TS2322/);

      const pushed = await runCli(["dags", "push", path.join(tmp, "check", "dags", "hello.ts"), "--json"], { cwd: tmp, env });
      ok(pushed);
      assert.equal(JSON.parse(pushed.stdout).dagId, "hello");
      assert.equal((await f.api("GET", "/api/v1/dags/hello")).status, 200);
    });
  });
});
