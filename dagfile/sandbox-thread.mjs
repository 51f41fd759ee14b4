// Worker-thread side of the DAG-file sandbox: evaluates one bundle's top level in QuickJS (WASM) with
// the SDK runtime and nothing else (no fs, network, process, env or timers), under a memory limit
// and a CPU deadline, and posts back the declared DAG as JSON.
//
// Plain JavaScript on purpose: a worker thread does not reliably inherit the tsx loader (it is not
// there when Ferry was started through bin/ferry.js's register()), and this file needs none.
import { parentPort, workerData } from "node:worker_threads";
import { getQuickJS } from "quickjs-emscripten";

const { sdkSource, sdkFile, sdkGlobal, bundle, bundleFile, timeoutMs, memoryBytes } = workerData;

// The declared DAG is small; anything near this is a DAG file trying to exhaust the host instead.
const MAX_RESULT_CHARS = 8 * 1024 * 1024;
// Grace for reading a thrown value: its getters are user code too.
const DUMP_MS = 250;

const PRELUDE = `
var module = { exports: {} };
var exports = module.exports;
var __ferryExtract = (function (internal, stringify) {
  function describe(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "an array";
    return typeof value === "object" ? "an object" : typeof value;
  }
  return function () {
    var exported = module.exports;
    var value = exported == null ? undefined : exported.default;
    if (value === undefined) return stringify({ notDag: "none" });
    if (!internal.isDag(value)) return stringify({ notDag: describe(value) });
    return stringify({ raw: internal.describeDag(value) });
  };
})(${sdkGlobal}, JSON.stringify);
// DAG authors debug with console.log; the output has nowhere useful to go at parse time.
var console = (function () {
  var noop = function () {};
  return { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop };
})();
function require(name) {
  if (name === "ferry") return ${sdkGlobal}.sdk;
  throw new Error('Cannot find module "' + name + '": a DAG file may only import from "ferry"');
}
`;

function classify(name, message) {
  if (name === "InternalError" && message === "interrupted") return "timeout";
  if (/out of memory/i.test(message)) return "memory_limit";
  return "evaluation_error";
}

function readError(vm, runtime, handle) {
  runtime.setMemoryLimit(-1);
  const dumpDeadline = Date.now() + DUMP_MS;
  runtime.setInterruptHandler(() => Date.now() > dumpDeadline);
  let value;
  try {
    // An Error's own name and message first: dump() goes through JSON.stringify, which a DAG file
    // that polluted Object.prototype (a toJSON getter) can make throw or spin.
    value = errorFields(vm, handle) ?? vm.dump(handle);
  } catch {
    value = undefined;
  } finally {
    handle.dispose();
  }
  if (value && typeof value === "object" && typeof value.message === "string") {
    const name = typeof value.name === "string" ? value.name : "Error";
    const stack = typeof value.stack === "string" ? value.stack.slice(0, 4000) : "";
    return { kind: classify(name, value.message), name, message: value.message, stack };
  }
  const shown = value === undefined ? "a value that could not be read" : JSON.stringify(value) ?? String(value);
  return { kind: "evaluation_error", name: "Uncaught", message: `threw ${String(shown).slice(0, 500)}`, stack: "" };
}

/** `{name, message, stack}` of a thrown Error, read as plain properties; undefined for anything else. */
function errorFields(vm, handle) {
  const text = (key) => {
    const prop = vm.getProp(handle, key);
    try {
      return vm.typeof(prop) === "string" ? vm.getString(prop) : undefined;
    } finally {
      prop.dispose();
    }
  };
  if (vm.typeof(handle) !== "object") return undefined;
  const message = text("message");
  if (message === undefined) return undefined;
  return { name: text("name") ?? "Error", message, stack: text("stack") ?? "" };
}

async function evaluate() {
  const QuickJS = await getQuickJS();
  const runtime = QuickJS.newRuntime();
  runtime.setMemoryLimit(memoryBytes);
  // Below V8's own stack limit for this thread, so deep recursion is a clean QuickJS error.
  runtime.setMaxStackSize(256 * 1024);
  const vm = runtime.newContext();

  const setup = vm.evalCode(`${sdkSource}\n${PRELUDE}`, sdkFile);
  if (setup.error) return { ok: false, ...readError(vm, runtime, setup.error) };
  setup.value.dispose();

  const deadline = Date.now() + timeoutMs;
  runtime.setInterruptHandler(() => Date.now() > deadline);
  const evaluated = vm.evalCode(bundle, bundleFile);
  if (evaluated.error) return { ok: false, ...readError(vm, runtime, evaluated.error) };
  evaluated.value.dispose();

  const extracted = vm.evalCode("__ferryExtract()", "ferry-extract.js");
  if (extracted.error) return { ok: false, ...readError(vm, runtime, extracted.error) };
  const json = vm.typeof(extracted.value) === "string" ? vm.getString(extracted.value) : undefined;
  extracted.value.dispose();
  if (json === undefined || json.length > MAX_RESULT_CHARS) {
    return { ok: false, kind: "evaluation_error", name: "Error", message: "the DAG's description is missing or too large", stack: "" };
  }
  // No vm/runtime dispose: the host ends this thread right after, which frees the whole WASM heap
  // (and disposing after an interrupted or out-of-memory evaluation can abort inside QuickJS).
  return { ok: true, json };
}

try {
  parentPort.postMessage(await evaluate());
} catch (error) {
  // Host-level failures inside the WASM engine (stack exhaustion, aborts) end here.
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const kind = /memory/i.test(message) ? "memory_limit" : "evaluation_error";
  parentPort.postMessage({ ok: false, kind, name: "InternalError", message, stack: "" });
}
