// Runs a DAG bundle's top level in this process (the worker Pod is the task's own boundary) with
// require("ferry") resolving to the SDK runtime, and finds the task to run.
import { Console } from "node:console";
import type { Writable } from "node:stream";
import vm from "node:vm";
import { findTask, isDag, sdk, type RegisteredTask } from "../sdk/internal.ts";
import { readInlineSourceMap, mapStack, type SourceMapLookup } from "../dagfile/sourcemap.ts";
import { BUNDLE_FILE, SOURCE_FILE } from "../dagfile/bundle-format.ts";
import { WorkerError } from "./errors.ts";

export interface LoadedTask {
  task: RegisteredTask;
  /** Rewrites bundle positions in a stack to DAG-file positions. */
  mapStack: (stack: string) => string;
}

function requireFerry(name: string): unknown {
  if (name === "ferry") return sdk;
  throw new Error(`Cannot find module "${name}": a DAG file may only import from "ferry"`);
}

export function loadTask(bundle: string, dagId: string, taskId: string, streams: { stdout: Writable; stderr: Writable }): LoadedTask {
  // The source map is read only when a stack needs it: decoding it costs a Pod ~3 ms of CPU per try.
  let map: SourceMapLookup | undefined | null = null;
  const remap = (stack: string) => {
    if (map === null) map = readInlineSourceMap(bundle);
    return map ? mapStack(stack, BUNDLE_FILE, map, SOURCE_FILE) : stack;
  };
  // Node's CommonJS wrapper, opened on the bundle's first line so its line numbers stay as mapped;
  // `console` is a parameter so console.log reaches the streams this run was given.
  const wrapper = `(function (exports, require, module, __filename, __dirname, console) {${bundle}\n})`;
  const module = { exports: {} as Record<string, unknown> };
  const taskConsole = new Console({ stdout: streams.stdout, stderr: streams.stderr, colorMode: false });
  try {
    const run = vm.runInThisContext(wrapper, { filename: BUNDLE_FILE }) as (...args: unknown[]) => void;
    run(module.exports, requireFerry, module, BUNDLE_FILE, "/", taskConsole);
  } catch (error) {
    if (error instanceof Error && error.stack) error.stack = remap(error.stack);
    throw error;
  }
  const exported = module.exports.default;
  if (!isDag(exported)) throw new WorkerError("the bundle's default export is not a dag(); was it compiled by Ferry?");
  if (exported.dagId !== dagId) throw new WorkerError(`the bundle defines DAG "${exported.dagId}", not "${dagId}"`);
  const task = findTask(exported, taskId);
  if (task === undefined) {
    throw new WorkerError(`DAG "${dagId}" has no task "${taskId}" (it has: ${exported.taskIds.join(", ")})`);
  }
  if (task.kind !== "function" || typeof task.fn !== "function") {
    throw new WorkerError(`task "${taskId}" is a pod task: it runs in its own image, not in the worker`);
  }
  return { task, mapStack: remap };
}
