// The CLI commands that reach the rest of the API (node bin/ferry.js against a whole test Ferry):
// dags show|pause|unpause|delete, runs clear (a task, or a whole run in one request), tasks show, backfills
// show|cancel, pools show|delete, tokens revoke; each with --json; usage mistakes exit 2, API errors 1
// with the API's message.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";
import { dagFile } from "../support/api.ts";
import { exitText, runCli, type CliResult } from "./run-cli.ts";

// A task that succeeds, one that fails, and one downstream of the failure.
const FAILING = `  const first = podTask("first", { image: "alpine:3.20", command: ["sh", "-c", "echo first"] });
  const boom = podTask("boom", { image: "alpine:3.20", command: ["sh", "-c", "echo boom; exit 3"], dependsOn: [first] });
  podTask("after", { image: "alpine:3.20", command: ["true"], dependsOn: [boom] });`;

// Hang guards: every command spawns `node bin/ferry.js` on a loaded 2-core machine (and may rebuild dist/).
describe("ferry commands for every route", { timeout: 600_000 }, () => {
  let f: TestFerry;
  let home: string;
  before(async () => {
    f = await startTestFerry({ s3: false });
    home = await mkdtemp(path.join(os.tmpdir(), "ferry-cli-commands-"));
    for (const [id, body, options] of [
      ["cli_cmds", FAILING, `schedule: null, description: "clears", tags: ["cli"], params: { region: "kr" }`],
      ["cli_gone", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, "schedule: null"],
      ["cli_bf", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`, `schedule: "0 6 * * *"`],
    ] as const) {
      const pushed = await f.api("POST", "/api/v1/dags", dagFile(id, body, options));
      assert.equal(pushed.status, 201, pushed.text);
    }
  });
  after(async () => {
    await f?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const ferry = (args: string[]) => runCli(args, { env: { FERRY_URL: f.url, FERRY_API_TOKEN: TEST_TOKEN, FERRY_DATA_DIR: home } });
  const ok = (r: CliResult) => assert.equal(r.code, 0, exitText(r));
  const runOf = async (dagId: string, runId: string) => (await f.api("GET", `/api/v1/dags/${dagId}/runs/${runId}`)).body;

  it("the overview lists every command", async () => {
    const r = await ferry(["--help"]);
    ok(r);
    for (const c of ["init DIR", "dags check FILE", "dags test FILE", "dags show DAG", "dags pause DAG", "dags unpause DAG", "dags delete DAG", "runs clear DAG RUN [TASK]", "tasks show DAG RUN TASK", "backfills show DAG ID", "backfills cancel DAG ID", "pools show NAME"]) {
      assert.match(r.stdout, new RegExp(`^  ${c.replace(/[[\]]/g, "\\$&")}(\\s|$)`, "m"), `the overview lists ${c}`);
    }
  });

  it("dags show prints the DAG and its tasks; --json the API's answer; an unknown DAG exits 1 with the API's message", async () => {
    const r = await ferry(["dags", "show", "cli_cmds"]);
    ok(r);
    assert.match(r.stdout, /^cli_cmds version 1: clears$/m);
    assert.match(r.stdout, /^ {2}schedule: +manual$/m);
    assert.match(r.stdout, /^ {2}params: +\{"region":"kr"\}$/m);
    assert.match(r.stdout, /^ {2}tags: +cli$/m);
    assert.match(r.stdout, /^boom\s+pod\s+first$/m);
    const json = await ferry(["dags", "show", "cli_cmds", "--json"]);
    ok(json);
    const body = JSON.parse(json.stdout);
    assert.deepEqual(body, (await f.api("GET", "/api/v1/dags/cli_cmds")).body);

    const missing = await ferry(["dags", "show", "no_such_dag"]);
    assert.equal(missing.code, 1, exitText(missing));
    assert.match(missing.stderr, /no_such_dag/);
    assert.match(missing.stderr, /\(dag_not_found\)/);
    assert.equal(missing.stdout, "");
  });

  it("dags pause and unpause set paused; --json prints the DAG", async () => {
    const paused = await ferry(["dags", "pause", "cli_gone"]);
    ok(paused);
    assert.match(paused.stdout, /^paused cli_gone\b/);
    assert.equal((await f.api("GET", "/api/v1/dags/cli_gone")).body.paused, true);
    const unpaused = await ferry(["dags", "unpause", "cli_gone", "--json"]);
    ok(unpaused);
    assert.equal(JSON.parse(unpaused.stdout).paused, false);
    assert.equal((await f.api("GET", "/api/v1/dags/cli_gone")).body.paused, false);
  });

  it("dags delete deletes; deleting again exits 1 with dag_not_found", async () => {
    const r = await ferry(["dags", "delete", "cli_gone", "--json"]);
    ok(r);
    assert.deepEqual(JSON.parse(r.stdout), { dagId: "cli_gone", deleted: true });
    assert.equal((await f.api("GET", "/api/v1/dags/cli_gone")).status, 404);
    const again = await ferry(["dags", "delete", "cli_gone"]);
    assert.equal(again.code, 1, exitText(again));
    assert.match(again.stderr, /dag_not_found/);
  });

  it("runs clear without TASK clears the run's failed tasks (and what is downstream); with TASK that task; tasks show lists the tries", async () => {
    assert.equal((await f.api("POST", "/api/v1/dags/cli_cmds/runs", { runId: "c1" })).status, 201);
    let run = await f.waitForRun("cli_cmds", "c1", 120_000);
    assert.equal(run.state, "failed");

    const all = await ferry(["runs", "clear", "cli_cmds", "c1"]);
    ok(all);
    assert.match(all.stdout, /^cleared 2 tasks in cli_cmds c1 \(boom, after\); the run is (queued|running)$/m);
    run = await waitFor("the cleared run to end again", async () => {
      const r = await runOf("cli_cmds", "c1");
      return ["success", "failed"].includes(r.state) && r.tasks.find((t: any) => t.taskId === "boom").tryNumber === 2 ? r : null;
    }, 120_000);
    const byId = (r: any) => Object.fromEntries(r.tasks.map((t: any) => [t.taskId, t]));
    assert.equal(byId(run).first.tryNumber, 1, "a task that did not fail is left alone");
    assert.equal(byId(run).boom.state, "failed");
    await f.waitForRun("cli_cmds", "c1", 60_000);

    const one = await ferry(["runs", "clear", "cli_cmds", "c1", "first", "--json"]);
    ok(one);
    const answer = JSON.parse(one.stdout);
    assert.equal(answer.runId, "c1");
    assert.deepEqual([...answer.cleared].sort(), ["after", "boom", "first"]);
    run = await waitFor("the run to end a third time", async () => {
      const r = await runOf("cli_cmds", "c1");
      return ["success", "failed"].includes(r.state) && byId(r).first.tryNumber === 2 ? r : null;
    }, 120_000);
    await f.waitForRun("cli_cmds", "c1", 60_000);

    const show = await ferry(["tasks", "show", "cli_cmds", "c1", "boom"]);
    ok(show);
    assert.match(show.stdout, /^cli_cmds c1 boom: failed \(try 3 of at most \d+\)$/m);
    assert.match(show.stdout, /^TRY\s+STATE\s+EXIT/m);
    assert.match(show.stdout, /^1\s+failed\s+3\s/m);
    assert.match(show.stdout, /^3\s+failed\s+3\s/m);
    const showJson = await ferry(["tasks", "show", "cli_cmds", "c1", "boom", "--json"]);
    ok(showJson);
    assert.deepEqual(JSON.parse(showJson.stdout).tries.map((t: any) => t.tryNumber), [1, 2, 3]);

    const unknownTask = await ferry(["runs", "clear", "cli_cmds", "c1", "no_such_task"]);
    assert.equal(unknownTask.code, 1, exitText(unknownTask));
    assert.match(unknownTask.stderr, /task_not_found/);
  });

  it("runs clear on a run without a failed task exits 1 with nothing_to_clear; --all clears every task in one request", async () => {
    const pushed = await f.api("POST", "/api/v1/dags", dagFile("cli_fine", `  const a = podTask("a", { image: "alpine:3.20", command: ["true"] });
  podTask("b", { image: "alpine:3.20", command: ["true"], dependsOn: [a] });`));
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await f.api("POST", "/api/v1/dags/cli_fine/runs", { runId: "ok1" })).status, 201);
    assert.equal((await f.waitForRun("cli_fine", "ok1", 120_000)).state, "success");
    for (const extra of [[], ["--json"]]) {
      const r = await ferry(["runs", "clear", "cli_fine", "ok1", ...extra]);
      assert.equal(r.code, 1, exitText(r));
      assert.match(r.stderr, /^ferry: Run ok1 has no failed, upstream_failed or cancelled task \(the run is success\).*\(nothing_to_clear\)$/m);
      assert.equal(r.stdout, "");
    }

    const all = await ferry(["runs", "clear", "cli_fine", "ok1", "--all"]);
    ok(all);
    assert.match(all.stdout, /^cleared every task in cli_fine ok1 \(a, b\); the run is (queued|running)$/m);
    const run = await waitFor("the cleared run to end again", async () => {
      const r = await runOf("cli_fine", "ok1");
      return r.state === "success" && r.tasks.every((t: any) => t.tryNumber === 2) ? r : null;
    }, 120_000);
    assert.deepEqual(run.tasks.map((t: any) => [t.taskId, t.tryNumber]), [["a", 2], ["b", 2]]);
    await f.waitForRun("cli_fine", "ok1", 60_000);

    const json = await ferry(["runs", "clear", "cli_fine", "ok1", "--all", "--json"]);
    ok(json);
    const answer = JSON.parse(json.stdout);
    assert.deepEqual({ ...answer, state: "-" }, { runId: "ok1", dagId: "cli_fine", state: "-", cleared: ["a", "b"] });
    await waitFor("the run to end a third time", async () => (await runOf("cli_fine", "ok1")).tasks.every((t: any) => t.tryNumber === 3), 120_000);
    await f.waitForRun("cli_fine", "ok1", 60_000);
  });

  it("runs clear --help tells what is cleared without TASK and what --all does", async () => {
    const r = await ferry(["runs", "clear", "--help"]);
    ok(r);
    assert.match(r.stdout, /^usage: ferry runs clear DAG RUN \[TASK\] \[--all\] \[--json\]$/m);
    assert.match(r.stdout, /failed, upstream_failed and cancelled/);
    assert.match(r.stdout, /in one request/);
    assert.match(r.stdout, /^ {2}--all\s+without TASK: clear every task of the run/m);
    assert.match(r.stdout, /nothing_to_clear/);
  });

  it("backfills show and cancel", async () => {
    ok(await ferry(["dags", "pause", "cli_bf"])); // its backfill's runs stay queued until cancelled
    const made = await f.api("POST", "/api/v1/dags/cli_bf/backfills", { from: "2026-03-01T00:00:00Z", to: "2026-03-03T23:00:00Z", maxActiveRuns: 1 });
    assert.equal(made.status, 201, made.text);
    const id = String(made.body.backfillId);

    const show = await ferry(["backfills", "show", "cli_bf", id]);
    ok(show);
    assert.match(show.stdout, new RegExp(`^backfill ${id} of cli_bf: running, 2026-03-01T00:00:00.000Z \\.\\. 2026-03-03T23:00:00.000Z \\(reprocess none, 1 runs at once\\)$`, "m"));
    assert.match(show.stdout, /^ {2}3 runs: 0 success, 0 failed, 0 running, 3 queued, 0 cancelled$/m);
    assert.match(show.stdout, /^scheduled__2026-03-01T06:00:00.000Z\s+2026-03-01T06:00:00.000Z\s+queued$/m);

    const cancel = await ferry(["backfills", "cancel", "cli_bf", id, "--json"]);
    ok(cancel);
    const progress = JSON.parse(cancel.stdout);
    assert.equal(progress.state, "cancelled");
    assert.equal(progress.counts.cancelled, 3);

    const again = await ferry(["backfills", "cancel", "cli_bf", id]);
    assert.equal(again.code, 1, exitText(again));
    assert.match(again.stderr, /backfill_finished/);
    const missing = await ferry(["backfills", "show", "cli_bf", "999999"]);
    assert.equal(missing.code, 1, exitText(missing));
    assert.match(missing.stderr, /backfill_not_found/);
  });

  it("pools show, pools delete --json, tokens revoke --json", async () => {
    const show = await ferry(["pools", "show", "default"]);
    ok(show);
    assert.match(show.stdout, /^pool default: \d+ slots \(\d+ occupied, \d+ waiting\)/);
    ok(await ferry(["pools", "set", "cli_pool", "--slots", "3"]));
    const shown = await ferry(["pools", "show", "cli_pool", "--json"]);
    ok(shown);
    assert.equal(JSON.parse(shown.stdout).slots, 3);
    const deleted = await ferry(["pools", "delete", "cli_pool", "--json"]);
    ok(deleted);
    assert.deepEqual(JSON.parse(deleted.stdout), { name: "cli_pool", deleted: true });
    const gone = await ferry(["pools", "show", "cli_pool"]);
    assert.equal(gone.code, 1, exitText(gone));
    assert.match(gone.stderr, /pool_not_found/);

    const token = await f.api("POST", "/api/v1/tokens", { name: "cli-revoke", role: "viewer" });
    assert.equal(token.status, 201, token.text);
    const revoked = await ferry(["tokens", "revoke", String(token.body.id), "--json"]);
    ok(revoked);
    assert.deepEqual(JSON.parse(revoked.stdout), { id: token.body.id, revoked: true });
  });

  it("usage mistakes exit 2 with the command's usage", async () => {
    const [noRun, extra, noDag, badOption, allWithTask] = await Promise.all([
      ferry(["runs", "clear", "cli_cmds"]),
      ferry(["runs", "clear", "cli_cmds", "c1", "boom", "more"]),
      ferry(["dags", "show"]),
      ferry(["dags", "pause", "cli_cmds", "--frobnicate"]),
      ferry(["runs", "clear", "cli_cmds", "c1", "boom", "--all"]),
    ]);
    assert.equal(noRun.code, 2, exitText(noRun));
    assert.match(noRun.stderr, /usage: ferry runs clear DAG RUN \[TASK\]/);
    assert.equal(extra.code, 2, exitText(extra));
    assert.match(extra.stderr, /unexpected argument "more"/);
    assert.equal(noDag.code, 2, exitText(noDag));
    assert.match(noDag.stderr, /usage: ferry dags show DAG/);
    assert.equal(badOption.code, 2, exitText(badOption));
    assert.match(badOption.stderr, /unknown option --frobnicate for `ferry dags pause`/);
    assert.equal(allWithTask.code, 2, exitText(allWithTask));
    assert.match(allWithTask.stderr, /--all clears a whole run: give it without TASK\nusage: ferry runs clear DAG RUN \[TASK\] \[--all\] \[--json\]/);
  });
});
