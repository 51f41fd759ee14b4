// Host side of the DAG-file sandbox: one short-lived worker thread per evaluation (sandbox-thread.mjs),
// so a DAG that spins for its whole budget never blocks the HTTP server's event loop, and a hard
// deadline that ends the thread if QuickJS's own interrupt does not (it is only polled between
// bytecodes, so one huge native operation can outlast it).
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { SDK_FILE, SDK_GLOBAL, sdkSource } from "./sdk-source.ts";
import { BUNDLE_FILE } from "./bundle-format.ts";

export type SandboxOutcome =
  | { ok: true; json: string }
  | { ok: false; kind: "timeout" | "memory_limit" | "evaluation_error"; name: string; message: string; stack: string };

/** Time the thread gets beyond the evaluation budget to start up and answer before it is ended. */
const HARD_DEADLINE_GRACE_MS = 1500;
const THREAD_FILE = new URL("./sandbox-thread.mjs", import.meta.url);

// Each evaluation may use a core and `memoryBytes`; more at once than cores only queues CPU time.
const maxConcurrent = Math.max(2, availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= maxConcurrent) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function runThread(workerData: Record<string, unknown>, timeoutMs: number): Promise<SandboxOutcome> {
  return new Promise((resolve) => {
    const worker = new Worker(THREAD_FILE, {
      workerData,
      // The thread is plain JS and must see nothing of the host: no loaders, flags or environment.
      execArgv: [],
      env: {},
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 32, stackSizeMb: 16 },
    });
    let settled = false;
    const finish = (outcome: SandboxOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(hardDeadline);
      void worker.terminate();
      resolve(outcome);
    };
    const hardDeadline = setTimeout(() => {
      finish({
        ok: false,
        kind: "timeout",
        name: "InternalError",
        message: `evaluation did not finish within ${timeoutMs} ms`,
        stack: "",
      });
    }, timeoutMs + HARD_DEADLINE_GRACE_MS);
    worker.on("message", (outcome: SandboxOutcome) => finish(outcome));
    worker.on("error", (error: Error & { code?: string }) => {
      const outOfMemory = error.code === "ERR_WORKER_OUT_OF_MEMORY";
      finish({
        ok: false,
        kind: outOfMemory ? "memory_limit" : "evaluation_error",
        name: error.name,
        message: outOfMemory ? "the sandbox ran out of memory" : `the sandbox failed: ${error.message}`,
        stack: "",
      });
    });
    worker.on("exit", (code) => {
      finish({ ok: false, kind: "evaluation_error", name: "InternalError", message: `the sandbox exited (code ${code})`, stack: "" });
    });
  });
}

/** Evaluates a compiled DAG bundle's top level in QuickJS and returns the declared DAG as JSON. */
export async function evaluateInSandbox(
  bundle: string,
  limits: { timeoutMs: number; memoryBytes: number },
): Promise<SandboxOutcome> {
  const sdk = await sdkSource();
  return withSlot(() =>
    runThread(
      {
        sdkSource: sdk,
        sdkFile: SDK_FILE,
        sdkGlobal: SDK_GLOBAL,
        bundle,
        bundleFile: BUNDLE_FILE,
        timeoutMs: limits.timeoutMs,
        memoryBytes: limits.memoryBytes,
      },
      limits.timeoutMs,
    ),
  );
}
