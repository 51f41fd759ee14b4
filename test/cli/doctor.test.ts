// `ferry doctor`, the real CLI (node bin/ferry.js) against real parts: a database of the suite's embedded
// Postgres, s3rver, and an in-process localkube reached through a kubeconfig file (FERRY_KUBE=kubeconfig,
// as on a cluster). localkube has no RBAC and allows every SelfSubjectAccessReview, so the RBAC check's
// "not allowed" path is not exercised here; its "allowed" path and its list (executor/permissions.ts,
// also held to the Role and the code by test/deploy/rbac.test.ts) are.
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import pg from "pg";
import { startLocalKube, type LocalKube } from "../../localkube/index.ts";
import { FERRY_PERMISSIONS } from "../../executor/permissions.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import { exitText, runCli, type CliResult } from "./run-cli.ts";

interface Report {
  ok: boolean;
  version: string;
  checks: Array<{ id: string; title: string; status: "ok" | "fail" | "warn" | "skip"; detail: string; hint: string | null }>;
}

const BUCKET = "doctor-logs";

describe("ferry doctor", { timeout: 240_000 }, () => {
  let dir: string;
  let db: TestDb;
  let fresh: TestDb;
  let s3: TestS3;
  let lk: LocalKube;
  let kubeconfig: string;
  let silent: net.Server;
  let silentKubeconfig: string;
  const held: net.Socket[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "ferry-doctor-"));
    [db, fresh, s3, lk] = await Promise.all([
      createTestDb(),
      createTestDb({ migrate: false }),
      startS3({ bucket: BUCKET }),
      startLocalKube({ dataDir: dir, workerImage: "ferry/worker:test", workerCommand: [process.execPath, "-e", "0"], namespaces: ["ferry-tasks", "team-b"] }),
    ]);
    kubeconfig = path.join(dir, "kubeconfig");
    await lk.writeKubeconfig(kubeconfig, "ferry-tasks");
    // An API server that takes the connection and never answers: the check must give up, not hang.
    silent = net.createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentKubeconfig = path.join(dir, "silent-kubeconfig");
    await writeFile(silentKubeconfig, lk.kubeconfig("ferry-tasks").replace(lk.url, `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`));
    await writeFile(
      path.join(dir, "pod-template.yaml"),
      "apiVersion: v1\nkind: PodTemplate\ntemplate:\n  metadata:\n    labels: { team: data }\n  spec:\n    nodeSelector: { pool: batch }\n",
    );
    // Builds dist/ if the sources changed, once, before the runs below race to do it.
    const warm = await runCli(["doctor", "--help"], { timeoutMs: 180_000 });
    assert.equal(warm.code, 0, exitText(warm));
  });

  after(async () => {
    for (const s of held) s.destroy();
    silent?.close();
    await Promise.all([db?.close(), fresh?.close(), s3?.close(), lk?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The environment of a good setup; `env` changes (or, with undefined, removes) variables. */
  function doctor(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
    return runCli(["doctor", ...args], {
      cwd: dir,
      timeoutMs: 60_000,
      env: {
        ...s3.env,
        FERRY_DATA_DIR: path.join(dir, "data"),
        DATABASE_URL: db.url,
        FERRY_KUBE: "kubeconfig",
        KUBECONFIG: kubeconfig,
        FERRY_TASK_NAMESPACE: "ferry-tasks",
        FERRY_NAMESPACE: undefined,
        FERRY_ALLOWED_NAMESPACES: "team-b",
        FERRY_LOG_STORE: `s3://${BUCKET}/ferry/logs`,
        FERRY_POD_TEMPLATE: "pod-template.yaml",
        FERRY_WORKER_IMAGE: undefined,
        FERRY_API_TOKEN: undefined,
        ...env,
      },
    });
  }

  const report = (r: CliResult): Report => JSON.parse(r.stdout) as Report;
  const check = (rep: Report, id: string) => {
    const c = rep.checks.find((x) => x.id === id);
    assert.ok(c, `a check ${id} in ${rep.checks.map((x) => x.id).join(", ")}`);
    return c;
  };

  it("passes every check against a good setup, says what it found, and leaves nothing behind", async () => {
    const [json, text] = await Promise.all([doctor(["--json"]), doctor([])]);
    assert.equal(json.code, 0, exitText(json));
    const rep = report(json);
    assert.equal(rep.ok, true);
    assert.equal(rep.version, "0.1.0");
    assert.deepEqual(
      rep.checks.map((c) => [c.id, c.status]),
      [
        ["config", "ok"],
        ["pod-template", "ok"],
        ["postgres", "ok"],
        ["postgres-schema", "ok"],
        ["kubernetes", "ok"],
        ["namespace:ferry-tasks", "ok"],
        ["rbac:ferry-tasks", "ok"],
        ["namespace:team-b", "ok"],
        ["rbac:team-b", "ok"],
        ["log-store", "ok"],
        ["worker-image", "ok"],
      ],
      JSON.stringify(rep, null, 2),
    );
    for (const c of rep.checks) assert.equal(typeof c.title, "string");
    assert.match(check(rep, "postgres").detail, /PostgreSQL \d+/);
    assert.match(check(rep, "postgres-schema").detail, /^current \(version \d+\)$/);
    assert.match(check(rep, "kubernetes").detail, /Kubernetes v1\.\d+\.\d+-localkube at http:\/\/127\.0\.0\.1:\d+/);
    // Every permission of the shared list was asked about.
    for (const p of FERRY_PERMISSIONS) assert.match(check(rep, "rbac:team-b").detail, new RegExp(`${p.resource}[^;]*\\b${p.verb}\\b`));
    assert.match(check(rep, "log-store").detail, /s3:\/\/doctor-logs\/ferry\/logs: a probe object was written, listed, read back and deleted/);
    assert.match(check(rep, "worker-image").detail, /ghcr\.io\/ferry-dev\/ferry-worker:0\.1\.0 \(the default, Ferry 0\.1\.0's worker\); doctor cannot check that your nodes can pull it/);

    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    try {
      const left = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      assert.deepEqual(left.Contents ?? [], [], "the probe objects are deleted");
    } finally {
      client.destroy();
    }

    // Not a terminal: "ok"/"FAIL" words, one line per check, and a summary.
    assert.equal(text.code, 0, exitText(text));
    const lines = text.stdout.trimEnd().split("\n");
    assert.equal(lines.filter((l) => /^ok {3}\S/.test(l)).length, 11, text.stdout);
    assert.match(text.stdout, /^ok {3}RBAC in ferry-tasks +allowed in ferry-tasks: pods create, get, list, watch, patch, delete; pods\/log get; events list$/m);
    assert.equal(lines.at(-1), "ready: 11 ok, 0 failed, 0 skipped");
    assert.doesNotMatch(text.stdout, /✓|✗/);
  });

  it("a wrong DATABASE_URL fails the Postgres check with the reason and skips the schema check", async () => {
    const r = await doctor(["--json"], { DATABASE_URL: "postgres://ferry:secret@127.0.0.1:1/ferry" });
    assert.equal(r.code, 1, exitText(r));
    const rep = report(r);
    assert.equal(rep.ok, false);
    const p = check(rep, "postgres");
    assert.equal(p.status, "fail");
    assert.match(p.detail, /^cannot connect to 127\.0\.0\.1:1\/ferry as ferry: connect ECONNREFUSED/);
    assert.doesNotMatch(p.detail, /secret/, "no password in the output");
    assert.match(p.hint ?? "", /DATABASE_URL/);
    assert.deepEqual([check(rep, "postgres-schema").status, check(rep, "postgres-schema").detail], ["skip", "Postgres is not reachable"]);
    // The others do not depend on it.
    assert.deepEqual(rep.checks.filter((c) => c.status === "fail").map((c) => c.id), ["postgres"]);
  });

  it("reports a schema not migrated yet (ferry start will migrate it) and one newer than the code (a failure)", async () => {
    const newer = await createTestDb();
    try {
      const c = new pg.Client({ connectionString: newer.url });
      await c.connect();
      await c.query("INSERT INTO ferry_migrations (version, name) VALUES (999, '999_from_the_future')");
      await c.end();
      const [notYet, tooNew] = await Promise.all([doctor(["--json"], { DATABASE_URL: fresh.url }), doctor(["--json"], { DATABASE_URL: newer.url })]);
      assert.equal(notYet.code, 0, exitText(notYet));
      assert.match(check(report(notYet), "postgres-schema").detail, /^not migrated: ferry start will apply migrations 1 to \d+$/);
      assert.equal(tooNew.code, 1, exitText(tooNew));
      const s = check(report(tooNew), "postgres-schema");
      assert.equal(s.status, "fail");
      assert.match(s.detail, /schema is at version 999, newer than this Ferry/);
    } finally {
      await newer.close();
    }
  });

  it("a missing namespace fails its check and skips its RBAC check", async () => {
    const r = await doctor(["--json"], { FERRY_ALLOWED_NAMESPACES: "team-b,no-such-team" });
    assert.equal(r.code, 1, exitText(r));
    const rep = report(r);
    const ns = check(rep, "namespace:no-such-team");
    assert.equal(ns.status, "fail");
    assert.equal(ns.detail, "namespace no-such-team (FERRY_ALLOWED_NAMESPACES) does not exist");
    assert.match(ns.hint ?? "", /kubectl create namespace no-such-team/);
    assert.equal(check(rep, "rbac:no-such-team").status, "skip");
    assert.equal(check(rep, "rbac:team-b").status, "ok");
    assert.deepEqual(rep.checks.filter((c) => c.status === "fail").map((c) => c.id), ["namespace:no-such-team"]);
  });

  it("an API server that does not answer fails within the timeout, and what depends on it is skipped", async () => {
    const started = Date.now();
    const r = await doctor(["--timeout", "1"], { KUBECONFIG: silentKubeconfig });
    assert.equal(r.code, 1, exitText(r));
    assert.ok(Date.now() - started < 30_000, "gave up in time");
    assert.match(r.stdout, /^FAIL Kubernetes API +.*within 1000 ms|^FAIL Kubernetes API +no answer within 1 s/m, r.stdout);
    assert.match(r.stdout, /^skip namespace ferry-tasks +skipped: the Kubernetes API check failed$/m);
    assert.match(r.stdout, /^skip RBAC in team-b +skipped: the Kubernetes API check failed$/m);
    assert.match(r.stdout, /^not ready: \d+ ok, 1 failed, 4 skipped$/m);
  });

  it("a missing bucket or credentials the store refuses fail the log store check", async () => {
    const [missing, refused] = await Promise.all([
      doctor(["--json"], { FERRY_LOG_STORE: "s3://no-such-bucket/logs" }),
      doctor(["--json"], { AWS_ACCESS_KEY_ID: "NOT-S3RVER", AWS_SECRET_ACCESS_KEY: "wrong" }),
    ]);
    assert.equal(missing.code, 1, exitText(missing));
    const m = check(report(missing), "log-store");
    assert.equal(m.status, "fail");
    assert.match(m.detail, /^bucket no-such-bucket does not exist \(cannot write in s3:\/\/no-such-bucket\/logs: NoSuchBucket/);
    assert.match(m.hint ?? "", /create the bucket/);

    assert.equal(refused.code, 1, exitText(refused));
    const d = check(report(refused), "log-store");
    assert.equal(d.status, "fail");
    assert.match(d.detail, /^not allowed to write \(cannot write in s3:\/\/doctor-logs\/ferry\/logs: InvalidAccessKeyId/);
    assert.match(d.hint ?? "", /s3:PutObject/);
  });

  it("a file:// log store: a writable folder is probed and left clean; an unwritable place fails", async () => {
    const logs = path.join(dir, "file-logs");
    await mkdir(logs);
    const locked = path.join(dir, "locked");
    await mkdir(locked, { mode: 0o500 });
    await chmod(locked, 0o500);
    try {
      const [ok, no] = await Promise.all([
        doctor(["--json"], { FERRY_LOG_STORE: `file://${logs}` }),
        doctor(["--json"], { FERRY_LOG_STORE: `file://${locked}/logs` }),
      ]);
      assert.equal(ok.code, 0, exitText(ok));
      assert.match(check(report(ok), "log-store").detail, /a probe file was written, read back and deleted/);
      assert.deepEqual(await readdir(logs), []);
      // root may write anywhere: the refusal can only be seen as another user.
      if (process.getuid?.() !== 0) {
        assert.equal(no.code, 1, exitText(no));
        assert.match(check(report(no), "log-store").detail, /locked\/logs does not exist, and .*locked is not writable/);
      }
    } finally {
      await chmod(locked, 0o700);
    }
  });

  it("a bad configuration value fails with the configuration's own message and skips the rest", async () => {
    const [json, text] = await Promise.all([doctor(["--json"], { FERRY_KUBE: "bogus" }), doctor([], { FERRY_TASK_NAMESPACE: "Not_A_Namespace" })]);
    assert.equal(json.code, 1, exitText(json));
    const rep = report(json);
    assert.deepEqual(rep.checks[0], {
      id: "config",
      title: "configuration",
      status: "fail",
      detail: 'FERRY_KUBE="bogus" is not valid: use local, kubeconfig or in-cluster.',
      hint: "fix the variable named, as `ferry start` would ask (see the README's configuration table)",
    });
    assert.ok(rep.checks.slice(1).every((c) => c.status === "skip" && c.detail === "the configuration does not parse"));
    assert.equal(text.code, 1, exitText(text));
    assert.match(text.stdout, /^FAIL configuration +FERRY_TASK_NAMESPACE="Not_A_Namespace" is not a Kubernetes namespace name/m);
  });

  it("with FERRY_KUBE=local and no DATABASE_URL, says what ferry start will run instead and skips those checks", async () => {
    const r = await doctor(["--json"], { FERRY_KUBE: "local", KUBECONFIG: undefined, DATABASE_URL: undefined });
    assert.equal(r.code, 0, exitText(r));
    const rep = report(r);
    assert.match(check(rep, "postgres").detail, /DATABASE_URL is not set: ferry start runs embedded Postgres in .*data\/postgres/);
    assert.match(check(rep, "kubernetes").detail, /FERRY_KUBE=local: ferry start runs localkube, which creates namespace\(s\) ferry-tasks, team-b and allows every request/);
    assert.match(check(rep, "worker-image").detail, /localkube runs the worker on this machine/);
  });

  it("--timeout must be a number of seconds (usage error, exit 2)", async () => {
    const r = await doctor(["--timeout", "soon"]);
    assert.equal(r.code, 2, exitText(r));
    assert.match(r.stderr, /--timeout must be a number of seconds/);
  });
});
