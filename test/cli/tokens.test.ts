// `ferry tokens create|list|revoke`, the real CLI (node bin/ferry.js) against a whole test Ferry: a
// token made by the CLI works with its role, is listed without its secret, and stops once revoked.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("ferry tokens", { timeout: 300_000 }, () => {
  let f: TestFerry;
  let home: string;
  before(async () => {
    f = await startTestFerry({ s3: false });
    home = await mkdtemp(path.join(os.tmpdir(), "ferry-cli-tokens-"));
  });
  after(async () => {
    await f?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  function ferry(args: string[], token = TEST_TOKEN): Promise<CliResult> {
    const env = { ...process.env, FERRY_URL: f.url, FERRY_API_TOKEN: token, FERRY_DATA_DIR: home };
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["bin/ferry.js", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c));
      child.stderr.on("data", (c: Buffer) => (stderr += c));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }
  const ok = (r: CliResult) => assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

  it("creates a token that works with its role, lists it without its secret, and revokes it", async () => {
    const made = await ferry(["tokens", "create", "ci reader", "--role", "viewer", "--expires", "2099-01-01T00:00:00Z"]);
    ok(made);
    const [line, token] = made.stdout.trimEnd().split("\n");
    assert.match(line!, /^created token (\d+) "ci reader": role viewer, expires 2099-01-01T00:00:00\.000Z$/);
    assert.match(token!, /^fy_[A-Za-z0-9_-]{32}$/);
    assert.match(made.stderr, /shown only this once/);
    const id = /token (\d+)/.exec(line!)![1]!;

    ok(await ferry(["pools", "list"], token));
    const refused = await ferry(["pools", "set", "cli_tokens", "--slots", "2"], token);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\(forbidden\)/);
    assert.match(refused.stderr, /needs the role admin/);

    const listed = await ferry(["tokens", "list"]);
    ok(listed);
    assert.match(listed.stdout, /^ID\s+ROLE\s+CREATED\s+EXPIRES\s+LAST USED\s+NAME$/m);
    assert.match(listed.stdout, new RegExp(`^${id}\\s+viewer\\s+\\S+\\s+2099-01-01T00:00:00\\.000Z\\s+\\S+\\s+ci reader$`, "m"));
    assert.ok(!listed.stdout.includes(token!), "no secret in the list");
    const json = await ferry(["tokens", "list", "--json"]);
    ok(json);
    const entry = JSON.parse(json.stdout).find((t: any) => String(t.id) === id);
    assert.equal(entry.role, "viewer");
    assert.equal(entry.token, undefined);
    assert.ok(entry.lastUsedAt, "used above");

    const revoked = await ferry(["tokens", "revoke", id]);
    ok(revoked);
    assert.equal(revoked.stdout, `revoked token ${id}\n`);
    const after = await ferry(["pools", "list"], token);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /\(unauthorized\)/);
    const again = await ferry(["tokens", "revoke", id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\(token_not_found\)/);
  });

  it("--json prints the token once with its fields; a missing --role is a usage error; only admin manages tokens", async () => {
    const made = await ferry(["tokens", "create", "deployer", "--role", "author", "--json"]);
    ok(made);
    const body = JSON.parse(made.stdout);
    assert.deepEqual(Object.keys(body).sort(), ["createdAt", "expiresAt", "id", "name", "role", "token"]);
    assert.equal(body.expiresAt, null);

    const noRole = await ferry(["tokens", "create", "x"]);
    assert.equal(noRole.code, 2);
    assert.match(noRole.stderr, /needs --role/);
    const badRole = await ferry(["tokens", "create", "x", "--role", "owner"]);
    assert.equal(badRole.code, 1);
    assert.match(badRole.stderr, /role must be one of viewer, author, admin/);

    const asAuthor = await ferry(["tokens", "list"], body.token);
    assert.equal(asAuthor.code, 1);
    assert.match(asAuthor.stderr, /\(forbidden\)/);
  });
});
