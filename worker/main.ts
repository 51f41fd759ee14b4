// The worker Pod's process (started by bin/ferry-worker.js): runs one function task and exits with
// its outcome. All logic is in run.ts.
import type { Writable } from "node:stream";
import { reportFailure, runWorker } from "./run.ts";

const io = { env: process.env, stdout: process.stdout, stderr: process.stderr };

// Stray async work of the task that fails after (or beside) its promise still fails the try, with
// a termination message rather than Node's bare crash.
let failing = false;
async function failFromOutside(error: unknown): Promise<void> {
  if (failing) return;
  failing = true;
  await exit(await reportFailure(io, error));
}
process.on("uncaughtException", (error) => void failFromOutside(error));
process.on("unhandledRejection", (reason) => void failFromOutside(reason));

function flushed(stream: Writable): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

// Exit explicitly: a task may leave timers or sockets open, and the try is over when fn settles.
async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

// No top-level await: the bundle is CommonJS (see bin/build.js), which starts faster than an ES module.
void runWorker(io).then((code) => (failing ? undefined : exit(code)));
