// compileDagFile: TypeScript source -> checked DagDefinition + the bundle the worker runs.
// transpile (esbuild) -> evaluate the top level in the sandbox (QuickJS in a thread) -> validate.
import type { RawDag } from "../sdk/internal.ts";
import { evaluateInSandbox, type SandboxOutcome } from "./sandbox.ts";
import { firstFrameIn, SourceMapLookup, withInlineSourceMap } from "./sourcemap.ts";
import { BUNDLE_FILE, SOURCE_FILE } from "./bundle-format.ts";
import { transpile } from "./transpile.ts";
import type { CompileOptions, CompileResult, DagFileError, DagProblem, SourcePosition } from "./types.ts";
import { validateDag } from "./validate.ts";

export const DEFAULT_TIMEOUT_MS = 2000;
export const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;
const MAX_SOURCE_BYTES = 1024 * 1024;
/** More tasks than this is a DAG file generating work, not declaring it; checking it would cost the API seconds. */
export const MAX_TASKS = 20_000;

const TOP_LEVEL_HINT =
  "A DAG file's top level runs when it is posted, so it should only declare the DAG; do heavy work inside a task function.";

function at(position: SourcePosition | undefined): Pick<DagFileError, "line" | "column"> {
  return position ? { line: position.line, column: position.column } : {};
}

function where(position: SourcePosition | undefined): string {
  return position ? ` (${SOURCE_FILE}:${position.line}:${position.column})` : "";
}

type Limits = Required<Pick<CompileOptions, "timeoutMs" | "memoryBytes">>;

function sandboxError(outcome: Extract<SandboxOutcome, { ok: false }>, map: SourceMapLookup, limits: Limits): DagFileError {
  const frame = firstFrameIn(outcome.stack, BUNDLE_FILE);
  const position = frame ? map.original(frame.line, frame.column) : undefined;
  switch (outcome.kind) {
    case "timeout": {
      // QuickJS reports an interrupt at the start of the running function, not at the loop; only a
      // named function's position says anything useful.
      const fn = /at ([^\s(<][^\s(]*) \(dag\.js:(\d+)(?::(\d+))?\)/.exec(outcome.stack);
      const start = fn ? map.original(Number(fn[2]), fn[3] === undefined ? undefined : Number(fn[3])) : undefined;
      const inside = fn && start ? ` while running ${fn[1]}() (declared at ${SOURCE_FILE}:${start.line})` : "";
      return { code: "timeout", message: `Evaluating the DAG file took longer than ${limits.timeoutMs} ms${inside}. ${TOP_LEVEL_HINT}`, ...at(start) };
    }
    case "memory_limit": {
      const mib = Math.round(limits.memoryBytes / (1024 * 1024));
      return { code: "memory_limit", message: `Evaluating the DAG file needed more than ${mib} MiB of memory${where(position)}. ${TOP_LEVEL_HINT}`, ...at(position) };
    }
    default: {
      const overflow = /stack overflow/i.test(outcome.message) || /call stack/i.test(outcome.message);
      const hint = overflow ? " Look for a function that calls itself without end." : "";
      return {
        code: "evaluation_error",
        message: `The DAG file threw while its top level ran: ${outcome.name}: ${outcome.message}${where(position)}.${hint}`,
        ...at(position),
      };
    }
  }
}

// Where `export default` is, to point at it when it does not export a dag().
function exportDefaultPosition(source: string): SourcePosition | undefined {
  const match = /^[ \t]*export\s+default\b/m.exec(source);
  if (!match) return undefined;
  const before = source.slice(0, match.index + match[0].length - match[0].trimStart().length);
  const lines = before.split("\n");
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

function notDagError(found: string, source: string): DagFileError {
  if (found === "none") {
    return {
      code: "evaluation_error",
      message: 'The DAG file has no default export. End it with: export default dag("my_dag", { schedule: null }, () => { ... });',
    };
  }
  const position = exportDefaultPosition(source);
  return {
    code: "evaluation_error",
    message: `The DAG file's default export is ${found}, not a DAG. Export what dag() returns: export default dag("my_dag", { ... }, () => { ... });`,
    ...at(position),
  };
}

function invalidDagError(problems: DagProblem[]): DagFileError {
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  const lines = problems.map((p) => `- ${p.path || "(dag)"}: ${p.message}${p.line ? ` (line ${p.line})` : ""}`);
  const located = problems.find((p) => p.line !== undefined);
  return {
    code: "invalid_dag",
    message: `The DAG is not valid (${count}):\n${lines.join("\n")}`,
    ...(located ? { line: located.line, column: located.column } : {}),
    problems,
  };
}

/**
 * Strings of the definition with a NUL character (U+0000): Postgres stores neither text nor jsonb with
 * one, so such a DAG could never be saved. Walked without recursion; at most ten are named.
 */
function nulCharacters(definition: unknown): DagProblem[] {
  const problems: DagProblem[] = [];
  const stack: { value: unknown; path: string }[] = [{ value: definition, path: "" }];
  const join = (base: string, key: string) => (base === "" ? key : /^\d+$/.test(key) ? `${base}[${key}]` : `${base}.${key}`);
  while (stack.length > 0 && problems.length < 10) {
    const { value, path } = stack.pop()!;
    if (typeof value === "string") {
      if (value.includes("\u0000")) problems.push({ path: path || "(dag)", message: "contains a NUL character (U+0000), which Ferry cannot store" });
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes("\u0000")) problems.push({ path: join(path, key.replace(/\u0000/g, "\\0")), message: "is a key with a NUL character (U+0000), which Ferry cannot store" });
        stack.push({ value: item, path: join(path, key) });
      }
    }
  }
  return problems;
}

/** Compiles and checks a DAG file. Never runs task functions; never throws for bad user input. */
export async function compileDagFile(source: string, opts: CompileOptions = {}): Promise<CompileResult> {
  const limits: Limits = {
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    memoryBytes: opts.memoryBytes ?? DEFAULT_MEMORY_BYTES,
  };
  if (typeof source !== "string" || source.trim() === "") {
    return { ok: false, error: { code: "compile_error", message: 'The DAG file is empty. It must import from "ferry" and export default dag(...).' } };
  }
  if (Buffer.byteLength(source) > MAX_SOURCE_BYTES) {
    return { ok: false, error: { code: "compile_error", message: `The DAG file is larger than ${MAX_SOURCE_BYTES} bytes; keep data out of it.` } };
  }

  const nulAt = source.indexOf("\u0000");
  if (nulAt >= 0) {
    const lines = source.slice(0, nulAt).split("\n");
    return {
      ok: false,
      error: { code: "compile_error", message: "The DAG file contains a NUL character (U+0000); save it as plain text.", line: lines.length, column: lines[lines.length - 1]!.length + 1 },
    };
  }
  const transpiled = await transpile(source);
  if (!transpiled.ok) return transpiled;
  const map = new SourceMapLookup(JSON.parse(transpiled.map) as { mappings?: string });
  const bundle = withInlineSourceMap(transpiled.code, transpiled.map);

  const outcome = await evaluateInSandbox(bundle, limits);
  if (!outcome.ok) return { ok: false, error: sandboxError(outcome, map, limits) };

  let reported: { raw?: RawDag; notDag?: string };
  try {
    reported = JSON.parse(outcome.json) as typeof reported;
  } catch {
    return { ok: false, error: { code: "evaluation_error", message: "The DAG file's description could not be read." } };
  }
  if (reported.raw === undefined) return { ok: false, error: notDagError(String(reported.notDag), source) };

  if (Array.isArray(reported.raw.tasks) && reported.raw.tasks.length > MAX_TASKS) {
    return {
      ok: false,
      error: invalidDagError([{ path: "tasks", message: `the DAG declares ${reported.raw.tasks.length} tasks; a DAG may have at most ${MAX_TASKS}` }]),
    };
  }
  const locate = (site: unknown): SourcePosition | undefined => {
    const frame = typeof site === "string" ? firstFrameIn(site, BUNDLE_FILE) : undefined;
    return frame ? map.original(frame.line, frame.column) : undefined;
  };
  const validated = validateDag(reported.raw, locate, { allowedNamespaces: opts.allowedNamespaces });
  if (!validated.ok) return { ok: false, error: invalidDagError(validated.problems) };
  const nul = nulCharacters(validated.definition);
  if (nul.length > 0) return { ok: false, error: invalidDagError(nul) };
  return { ok: true, definition: validated.definition, bundle };
}
