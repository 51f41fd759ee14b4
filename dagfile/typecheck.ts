// Type-checks a DAG file with the TypeScript compiler, against the SDK's type declarations (what
// `import ... from "ferry"` means), as an editor does: `ferry dags check` and `ferry dags push` run it
// before the compile the API would do (compile.ts), and `ferry init` writes the same declarations and
// options into a project. TypeScript is loaded only when asked for (it is a dev dependency: an image
// without it still compiles and validates, and says the type check was skipped).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as TS from "typescript";

/** The SDK beside this module: sdk/ in a checkout, dist/sdk/ when built (with the .d.ts files tsc emitted). */
const SDK_DIR = fileURLToPath(new URL("../sdk/", import.meta.url));

/**
 * The compiler options a DAG file is checked with, as tsconfig.json spells them (`ferry init` writes
 * them, with `paths` pointing "ferry" at the declarations). The libraries are ES2022 and DOM: a task
 * function runs on Node 20, and DOM is the standard library that types its `console`, `fetch`, timers,
 * `URL` and `TextEncoder` without Node's own types.
 */
export const DAG_COMPILER_OPTIONS = {
  target: "ES2022",
  module: "ESNext",
  moduleResolution: "Bundler",
  lib: ["ES2022", "DOM"],
  strict: true,
  noEmit: true,
  isolatedModules: true,
  skipLibCheck: true,
  types: [] as string[],
} as const;

/** A type error, 1-based, in the DAG file. */
export interface TypeProblem {
  line: number;
  column: number;
  message: string;
  /** TypeScript's error number, e.g. 2322. */
  code: number;
}

export type TypecheckResult =
  | { checked: true; problems: TypeProblem[] }
  /** TypeScript is not installed here: nothing was checked. */
  | { checked: false; reason: string };

let typescript: Promise<typeof TS | null> | undefined;

/** The `typescript` package, or null when it is not installed. */
export function loadTypeScript(): Promise<typeof TS | null> {
  typescript ??= import("typescript").then(
    (m: unknown) => (m as { default?: typeof TS }).default ?? (m as typeof TS),
    () => null,
  );
  return typescript;
}

/** Rewrites relative `.ts` specifiers (`"./types.ts"`) to `.js`, which every module resolution maps to the `.d.ts`. */
function jsSpecifiers(text: string): string {
  return text.replace(/(["'])(\.\.?\/[^"'\n]+?)\.ts\1/g, "$1$2.js$1");
}

/** The relative modules a declaration file refers to (`from "./x.js"`, `import("./x.js")`), as file names. */
function referenced(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)(["'])\.\/([^"'\n/]+?)\.js\1/g)) names.add(`${m[2]}.d.ts`);
  return [...names];
}

let declarations: Promise<Map<string, string>> | undefined;

/**
 * The SDK's type declarations as files of one folder (`index.d.ts` and what it imports), their relative
 * imports written with `.js`. Built Ferry reads the .d.ts files tsc emitted beside the SDK; from the
 * sources they are emitted here, in memory, with TypeScript.
 */
export function sdkDeclarations(): Promise<Map<string, string>> {
  declarations ??= loadDeclarations().catch((err: unknown) => {
    declarations = undefined;
    throw err;
  });
  return declarations;
}

async function loadDeclarations(): Promise<Map<string, string>> {
  const emitted = existsSync(path.join(SDK_DIR, "index.d.ts")) ? null : await emitDeclarations();
  const read = async (name: string) => jsSpecifiers(emitted ? (emitted.get(name) ?? "") : await readFile(path.join(SDK_DIR, name), "utf8"));
  const files = new Map<string, string>();
  const todo = ["index.d.ts"];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (files.has(name)) continue;
    const text = await read(name);
    if (text === "") throw new Error(`the SDK's declarations are incomplete: ${name} is missing`);
    files.set(name, text);
    todo.push(...referenced(text));
  }
  return files;
}

async function emitDeclarations(): Promise<Map<string, string>> {
  const ts = await loadTypeScript();
  if (!ts) throw new Error("the SDK's type declarations are not built (run `npm run build`), and TypeScript is not installed to make them");
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts"],
    strict: true,
    declaration: true,
    emitDeclarationOnly: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: [],
  };
  const program = ts.createProgram([path.join(SDK_DIR, "index.ts")], options);
  const out = new Map<string, string>();
  program.emit(undefined, (fileName, text) => out.set(path.basename(fileName), text));
  return out;
}

/** The DAG compiler options as TypeScript's own, with "ferry" resolving to `ferryIndex`. */
function compilerOptions(ts: typeof TS, ferryIndex: string): TS.CompilerOptions {
  const json = { ...DAG_COMPILER_OPTIONS, paths: { ferry: [ferryIndex] } };
  const { options, errors } = ts.convertCompilerOptionsFromJson(json, path.dirname(ferryIndex));
  if (errors.length > 0) throw new Error(`bad DAG compiler options: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, " ")}`);
  return options;
}

/**
 * Type-checks one DAG file (its `source`, as found at `fileName`) on its own, with DAG_COMPILER_OPTIONS
 * and the SDK's declarations for "ferry"; any tsconfig.json around it is not read. Problems of the
 * file only, in order.
 */
export async function typecheckDagFile(fileName: string, source: string): Promise<TypecheckResult> {
  const ts = await loadTypeScript();
  if (!ts) return { checked: false, reason: "TypeScript is not installed here (`npm install typescript` enables the type check)" };
  const sdk = await sdkDeclarations();
  const file = path.resolve(fileName);
  // The declarations live in a folder no disk has; the host answers for it from memory.
  const typesDir = path.join(path.parse(file).root, "__ferry_sdk_types__", "ferry");
  const virtual = new Map([...sdk].map(([name, text]) => [path.join(typesDir, name), text]));
  virtual.set(file, source);
  const options = compilerOptions(ts, path.join(typesDir, "index.d.ts"));
  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile: hostRead, getSourceFile, directoryExists } = host;
  host.fileExists = (f) => virtual.has(path.resolve(f)) || (!path.resolve(f).startsWith(typesDir) && fileExists.call(host, f));
  host.readFile = (f) => virtual.get(path.resolve(f)) ?? hostRead.call(host, f);
  host.directoryExists = (d) => typesDir.startsWith(path.resolve(d)) || path.resolve(d).startsWith(typesDir) || (directoryExists?.call(host, d) ?? true);
  host.getSourceFile = (f, language, onError, shouldCreate) => {
    const text = virtual.get(path.resolve(f));
    return text !== undefined ? ts.createSourceFile(f, text, language, true) : getSourceFile.call(host, f, language, onError, shouldCreate);
  };
  const program = ts.createProgram({ rootNames: [file], options, host });
  const problems: TypeProblem[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.category !== ts.DiagnosticCategory.Error) continue;
    if (d.file && path.resolve(d.file.fileName) !== file) continue; // the SDK's and the libraries' own are not the author's
    const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
    problems.push({ line: at.line + 1, column: at.character + 1, message: ts.flattenDiagnosticMessageText(d.messageText, "\n"), code: d.code });
  }
  return { checked: true, problems };
}
