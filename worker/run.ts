// One function-task try, start to end, with its inputs and outputs passed in so tests can drive it
// in-process. Returns the exit code; main.ts wires it to the real process.
import type { Writable } from "node:stream";
import { loadBundle } from "./bundle.ts";
import { readConfig, terminationMessagePath, type Env } from "./config.ts";
import { buildContext } from "./context.ts";
import { WorkerError } from "./errors.ts";
import { loadTask } from "./evaluate.ts";
import { httpGet, type BundleFetch } from "./http-get.ts";
import { errorMessageJson, serialiseResult, writeTerminationMessage } from "./result.ts";

export interface WorkerIO {
  env: Env;
  stdout: Writable;
  stderr: Writable;
  /** Defaults to a GET over node:http (the global fetch fits too). */
  fetch?: BundleFetch;
  /** Defaults to a real timer; tests make retries instant. */
  sleep?: (ms: number) => Promise<void>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Records a failed try: the error's stack on stderr (the task's log) and a short `{"error": ...}`
 * termination message. Also used by main.ts for errors that escape the task (unhandled rejections).
 */
export async function reportFailure(io: Pick<WorkerIO, "env" | "stderr">, error: unknown, stack?: string): Promise<number> {
  const shown =
    error instanceof WorkerError
      ? `ferry-worker: ${error.message}`
      : (stack ?? (error instanceof Error && error.stack ? error.stack : `Error: ${messageOf(error)}`));
  io.stderr.write(`${shown}\n`);
  try {
    writeTerminationMessage(terminationMessagePath(io.env), errorMessageJson(messageOf(error)));
  } catch (writeError) {
    io.stderr.write(`ferry-worker: could not write the termination message: ${messageOf(writeError)}\n`);
  }
  return 1;
}

export async function runWorker(io: WorkerIO): Promise<number> {
  let mapStack = (stack: string) => stack;
  try {
    const config = readConfig(io.env);
    const bundle = await loadBundle(config, {
      fetch: io.fetch ?? httpGet,
      sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      diagnostics: io.stderr,
    });
    const loaded = loadTask(bundle, config.dagId, config.taskId, io);
    mapStack = loaded.mapStack;
    const fn = loaded.task.fn as (ctx: unknown) => unknown;
    const value = await fn(buildContext(config.context, io.stdout));
    const serialised = serialiseResult(value);
    if (!serialised.ok) return await reportFailure(io, new WorkerError(serialised.message));
    try {
      writeTerminationMessage(config.terminationMessagePath, serialised.json);
    } catch (error) {
      throw new WorkerError(`could not write the result to ${config.terminationMessagePath}: ${messageOf(error)}`);
    }
    return 0;
  } catch (error) {
    const stack = error instanceof Error && error.stack ? mapStack(error.stack) : undefined;
    return reportFailure(io, error, stack);
  }
}
