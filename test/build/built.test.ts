// The built Ferry, as users and the images run it: dist/ (made by `npm run build`, or by this test when it
// is missing or stale) is copied with bin/ and package.json into a folder whose node_modules has every
// package but tsx and typescript, so nothing there can load a TypeScript loader or compile anything.
// From that folder: `ferry start` as a real process runs a DAG with a pod task and a function task (the
// function through the bundled dist/worker.cjs), the CLI lists the DAG, and the worker bundle runs alone
// in an empty folder. Also: bin/build.js's freshness check, on a throwaway tree.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../../bin/build.js";
import { compileDagFile } from "../../dagfile/index.ts";
import { freePort } from "../../db/embedded.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { apiClient, TEST_TOKEN, waitFor } from "../support/ferry.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Packages the built program must not need: the TypeScript loader and the compiler are for development. */
const DEV_ONLY = new Set(["tsx", "typescript"]);

const DAG = `import { dag, task, podTask } from "ferry";
export default dag("built_check", { schedule: null }, () => {
  const hello = podTask("hello", { image: "busybox", command: ["sh", "-c", "echo pod says hi"] });
  task("fn", (ctx) => {
    ctx.log("function says hi");
    console.log("worker=" + process.argv[1]);
    console.log("execArgv=" + JSON.stringify(process.execArgv) + " NODE_OPTIONS=" + (process.env.NODE_OPTIONS ?? ""));
    return { ok: true };
  }, { dependsOn: [hello] });
});
`;

/** Its bundle is past the 32 KiB that go inline: its worker fetches it from the API. */
const LARGE_DAG = `import { dag, task } from "ferry";
const ballast = "${"x".repeat(40 * 1024)}";
export default dag("built_fetch", { schedule: null }, () => {
  task("fn", (ctx) => {
    ctx.log("fetched " + ballast.length);
    return { fetched: true };
  });
});
`;

interface Proc {
  child: ChildProcess;
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** The environment of the built processes: this one's, without any loader a parent might pass on. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

function run(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Proc {
  let out = "";
  let stdout = "";
  const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (c: Buffer) => ((out += c), (stdout += c)));
  child.stderr!.on("data", (c: Buffer) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, stdout: () => stdout, exited };
}

/** What a runtime image holds: bin/, dist/, package.json and the production packages, no sources. */
async function runtimeCopy(dir: string): Promise<void> {
  await mkdir(path.join(dir, "bin"), { recursive: true });
  for (const f of ["ferry.js", "build.js"]) await cp(path.join(ROOT, "bin", f), path.join(dir, "bin", f));
  await cp(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  await cp(path.join(ROOT, "dist"), path.join(dir, "dist"), { recursive: true });
  await mkdir(path.join(dir, "node_modules"));
  for (const name of await readdir(path.join(ROOT, "node_modules"))) {
    if (DEV_ONLY.has(name) || name.startsWith(".")) continue;
    await symlink(path.join(ROOT, "node_modules", name), path.join(dir, "node_modules", name));
  }
}

describe("the built Ferry", { timeout: 300_000 }, () => {
  let tmp: string;
  let app: string;
  let db: TestDb;
  const procs: Proc[] = [];

  before(async () => {
    await ensureBuilt(); // CI has built already (`npm run build`); then this is a quick check
    tmp = await mkdtemp(path.join(os.tmpdir(), "ferry-built-"));
    await chmod(tmp, 0o755);
    app = path.join(tmp, "app");
    await runtimeCopy(app);
    db = await createTestDb();
  });

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await db?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("has no TypeScript loader to fall back on", async () => {
    const probe = run(["--input-type=module", "-e", 'await import("tsx/esm/api")'], { cwd: app, env: cleanEnv({}) });
    assert.notEqual(await probe.exited, 0, "tsx must not resolve from the runtime copy, or this test proves nothing");
    assert.match(probe.output(), /ERR_MODULE_NOT_FOUND|Cannot find package 'tsx'/);
  });

  it("runs a pod task and a function task (through dist/worker.cjs) with their logs, and the CLI works", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = cleanEnv({
      DATABASE_URL: db.url,
      FERRY_KUBE: "local",
      FERRY_DATA_DIR: path.join(tmp, "data"),
      FERRY_PORT: String(port),
      FERRY_API_TOKEN: TEST_TOKEN,
    });
    const ferry = run([path.join(app, "bin", "ferry.js"), "start"], { cwd: tmp, env });
    procs.push(ferry);
    await waitFor("the built Ferry to start", async () => ferry.output().includes("Ferry is running") || ferry.child.exitCode !== null, 90_000);
    assert.match(ferry.output(), /Ferry is running/, ferry.output());
    assert.doesNotMatch(ferry.output(), /building dist/, "a runtime copy has no sources: it runs dist/ as it is");

    const api = apiClient(url);
    const pushed = await api("POST", "/api/v1/dags", DAG);
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await api("POST", "/api/v1/dags/built_check/runs", { runId: "r1" })).status, 201);
    const runState = await waitFor(
      "the run to end",
      async () => {
        const r = JSON.parse((await api("GET", "/api/v1/dags/built_check/runs/r1")).text) as { state: string; tasks: { taskId: string; state: string; result: unknown }[] };
        return ["success", "failed", "cancelled"].includes(r.state) ? r : null;
      },
      120_000,
    );
    const fnLog = (await api("GET", "/api/v1/dags/built_check/runs/r1/tasks/fn/logs")).text;
    assert.equal(runState.state, "success", `${JSON.stringify(runState)}\nfn log:\n${fnLog}\nferry:\n${ferry.output()}`);
    assert.deepEqual(runState.tasks.find((t) => t.taskId === "fn")?.result, { ok: true });
    assert.equal((await api("GET", "/api/v1/dags/built_check/runs/r1/tasks/hello/logs")).text, "pod says hi\n");
    assert.match(fnLog, /function says hi/);
    assert.ok(fnLog.includes(`worker=${path.join(app, "dist", "worker.cjs")}\n`), fnLog);
    assert.ok(fnLog.includes("execArgv=[] NODE_OPTIONS=\n"), `the worker runs on plain node:\n${fnLog}`);

    // The other way a worker gets its bundle: fetched from the API with its try's token.
    assert.equal((await api("POST", "/api/v1/dags", LARGE_DAG)).status, 201);
    assert.equal((await api("POST", "/api/v1/dags/built_fetch/runs", { runId: "r1" })).status, 201);
    const fetched = await waitFor(
      "the large DAG's run to end",
      async () => {
        const r = JSON.parse((await api("GET", "/api/v1/dags/built_fetch/runs/r1")).text) as { state: string; tasks: { result: unknown }[] };
        return ["success", "failed", "cancelled"].includes(r.state) ? r : null;
      },
      120_000,
    );
    const fetchedLog = (await api("GET", "/api/v1/dags/built_fetch/runs/r1/tasks/fn/logs")).text;
    assert.equal(fetched.state, "success", `${JSON.stringify(fetched)}
${fetchedLog}`);
    assert.deepEqual(fetched.tasks[0]?.result, { fetched: true });
    assert.equal(fetchedLog, `fetched ${40 * 1024}\n`);

    const cli = run([path.join(app, "bin", "ferry.js"), "dags", "list"], { cwd: tmp, env: cleanEnv({ FERRY_URL: url, FERRY_API_TOKEN: TEST_TOKEN }) });
    assert.equal(await cli.exited, 0, cli.output());
    assert.match(cli.stdout(), /built_check/);

    ferry.child.kill("SIGTERM");
    assert.equal(await ferry.exited, 0, `a clean shutdown on SIGTERM:\n${ferry.output()}`);
  });

  it("bundles the worker into one file that runs alone, without node_modules", async () => {
    const dir = path.join(tmp, "worker-only");
    await mkdir(dir);
    await cp(path.join(ROOT, "dist", "worker.cjs"), path.join(dir, "worker.cjs"));
    const compiled = await compileDagFile(DAG);
    assert.ok(compiled.ok, JSON.stringify(!compiled.ok && compiled.error));
    await writeFile(path.join(dir, "bundle.js"), compiled.bundle);
    const context = { dagId: "built_check", runId: "r", taskId: "fn", tryNumber: 1, logicalDate: "2026-01-01T00:00:00.000Z", params: {}, tasks: { hello: { result: null } } };
    const worker = run(["worker.cjs"], {
      cwd: dir,
      env: cleanEnv({
        FERRY_BUNDLE_FILE: path.join(dir, "bundle.js"),
        FERRY_DAG_ID: "built_check",
        FERRY_DAG_VERSION: "1",
        FERRY_TASK_ID: "fn",
        FERRY_TERMINATION_MESSAGE_PATH: path.join(dir, "termination"),
        FERRY_TASK_CONTEXT: JSON.stringify(context),
      }),
    });
    assert.equal(await worker.exited, 0, worker.output());
    assert.match(worker.stdout(), /function says hi/);
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, "termination"), "utf8")), { ok: true });
  });
});

describe("bin/build.js's freshness check", () => {
  let tree: string;
  type BuildModule = typeof import("../../bin/build.js");

  before(async () => {
    tree = await mkdtemp(path.join(os.tmpdir(), "ferry-stale-"));
  });
  after(async () => {
    await rm(tree, { recursive: true, force: true });
  });

  /** bin/build.js finds its checkout from its own place: a copy of it judges the throwaway tree. */
  async function load(dir: string): Promise<BuildModule> {
    await mkdir(path.join(dir, "bin"), { recursive: true });
    // .mjs: the throwaway tree has no package.json saying "type": "module"
    await cp(path.join(ROOT, "bin", "build.js"), path.join(dir, "bin", "build.mjs"));
    return (await import(path.join(dir, "bin", "build.mjs"))) as BuildModule;
  }

  it("is stale when dist/ is missing, when a source changes and when one is removed; fresh otherwise", async () => {
    const dir = path.join(tree, "checkout");
    await mkdir(path.join(dir, "part"), { recursive: true });
    await writeFile(path.join(dir, "tsconfig.build.json"), "{}");
    await writeFile(path.join(dir, "part", "a.ts"), "export const a = 1;\n");
    await writeFile(path.join(dir, "part", "b.ts"), "export const b = 1;\n");
    await mkdir(path.join(dir, "test"));
    await writeFile(path.join(dir, "test", "x.test.ts"), "");
    const build = await load(dir);
    assert.match((await build.staleReason()) ?? "", /missing/);

    const past = new Date(Date.now() - 60_000);
    for (const p of ["tsconfig.build.json", "bin/build.mjs", "bin", "part/a.ts", "part/b.ts", "part", "test/x.test.ts", "test"]) await utimes(path.join(dir, p), past, past);
    await mkdir(path.join(dir, "dist"));
    await writeFile(path.join(dir, "dist", ".build-stamp.json"), JSON.stringify({ startedAt: Date.now() - 30_000, typeErrors: false }));
    assert.equal(await build.staleReason(), null);

    await utimes(path.join(dir, "test", "x.test.ts"), new Date(), new Date());
    assert.equal(await build.staleReason(), null, "tests are not part of the build");

    await utimes(path.join(dir, "part", "a.ts"), new Date(), new Date());
    assert.match((await build.staleReason()) ?? "", /a\.ts changed/);
    await utimes(path.join(dir, "part", "a.ts"), past, past);
    assert.equal(await build.staleReason(), null);

    await rm(path.join(dir, "part", "b.ts"));
    assert.match((await build.staleReason()) ?? "", /part changed/, "a removed (or moved) file changes its folder");
  });

  it("takes dist/ as it is where there are no sources (a runtime image), and says so when it is missing", async () => {
    const dir = path.join(tree, "image");
    const build = await load(dir);
    assert.match((await build.staleReason()) ?? "", /no sources/);
    await mkdir(path.join(dir, "dist", "cli"), { recursive: true });
    await writeFile(path.join(dir, "dist", "cli", "main.js"), "");
    assert.equal(await build.staleReason(), null);
  });
});
