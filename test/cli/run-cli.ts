// Runs the real `ferry` CLI (node bin/ferry.js, as a user does) for the CLI tests, collecting its output.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to (or, when undefined, removed from) this process's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** A hang guard, not a speed claim: the CLI is killed after this long. @default 120 s */
  timeoutMs?: number;
  /** Sees the child as soon as it runs, and each piece of stdout and stderr as it arrives. */
  onStart?: (child: ChildProcess) => void;
  onOutput?: (stdout: string, stderr: string) => void;
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "ferry.js"), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: env as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    opts.onStart?.(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c;
      opts.onOutput?.(stdout, stderr);
    });
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c;
      opts.onOutput?.(stdout, stderr);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Fails with everything the CLI said when it did not exit with `code`. */
export function exitText(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}
