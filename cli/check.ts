// `ferry dags check FILE`, and the same check before `ferry dags push` and `ferry dags test`: the type
// check against the SDK's declarations (dagfile/typecheck.ts), then the compile, sandbox and validation
// POST /api/v1/dags runs (dagfile/compile.ts), here, on this machine. Problems print as
// `FILE:LINE:COL: message`, as compilers do, so editors and CI link them to the line.
import { readFile } from "node:fs/promises";
import { compileDagFile } from "../dagfile/compile.ts";
import { typecheckDagFile } from "../dagfile/typecheck.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import { flag, type ParsedArgs } from "./args.ts";
import { CliError } from "./client.ts";

type Out = (line: string) => void;

export interface CheckProblem {
  /** 1-based; absent when the problem is about the whole file. */
  line?: number;
  column?: number;
  message: string;
  /** `TS2322` for a type error, else the API's error code (`invalid_dag`, `compile_error`, ...). */
  code: string;
}

export interface CheckResult {
  file: string;
  source: string;
  problems: CheckProblem[];
  /** Why the type check did not run (TypeScript not installed), else null. */
  typecheckSkipped: string | null;
  /** When the file compiled and validated. */
  compiled: { definition: DagDefinition; bundle: string } | null;
}

export async function readDagFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Type-checks, compiles and validates a DAG file; never throws for what is wrong with the file. */
export async function checkDagFile(file: string, opts: { typecheck?: boolean } = {}): Promise<CheckResult> {
  const source = await readDagFile(file);
  const [typed, compiled] = await Promise.all([
    opts.typecheck === false ? ({ checked: false, reason: "not asked for" } as const) : typecheckDagFile(file, source),
    compileDagFile(source),
  ]);
  const problems: CheckProblem[] = [];
  if (typed.checked) for (const p of typed.problems) problems.push({ line: p.line, column: p.column, message: p.message, code: `TS${p.code}` });
  if (!compiled.ok) {
    const e = compiled.error;
    if (e.problems && e.problems.length > 0) {
      for (const p of e.problems) problems.push({ line: p.line, column: p.column, message: `${p.path || "(dag)"}: ${p.message}`, code: e.code });
    } else {
      problems.push({ line: e.line, column: e.column, message: e.message, code: e.code });
    }
  }
  return {
    file,
    source,
    problems,
    typecheckSkipped: typed.checked ? null : typed.reason,
    compiled: compiled.ok ? { definition: compiled.definition, bundle: compiled.bundle } : null,
  };
}

/** `FILE:LINE:COL: message (code)`; a message of several lines keeps its further lines indented. */
export function formatProblem(file: string, p: CheckProblem): string {
  const where = p.line !== undefined ? `${file}:${p.line}:${p.column ?? 1}` : file;
  return `${where}: ${p.message.replace(/\n/g, "\n    ")} (${p.code})`;
}

/** Prints a check's problems (and a skipped type check) on `err`; true when there are none. */
export function reportCheck(result: CheckResult, err: Out): boolean {
  if (result.typecheckSkipped !== null && result.typecheckSkipped !== "not asked for") err(`ferry: ${result.file}: type check skipped: ${result.typecheckSkipped}`);
  for (const p of result.problems) err(formatProblem(result.file, p));
  return result.problems.length === 0;
}

export async function dagsCheck(args: ParsedArgs, out: Out, err: Out): Promise<number> {
  const [file] = args.positional;
  const result = await checkDagFile(file!);
  if (flag(args, "json")) {
    const def = result.compiled?.definition;
    out(
      JSON.stringify(
        {
          file: result.file,
          ok: result.problems.length === 0,
          typechecked: result.typecheckSkipped === null,
          dagId: def?.dagId ?? null,
          tasks: def ? def.tasks.map((t) => ({ taskId: t.taskId, kind: t.kind, dependsOn: t.dependsOn })) : [],
          problems: result.problems,
        },
        null,
        2,
      ),
    );
    return result.problems.length === 0 ? 0 : 1;
  }
  if (!reportCheck(result, err)) {
    err(`ferry: ${result.file}: ${result.problems.length === 1 ? "1 problem" : `${result.problems.length} problems`}`);
    return 1;
  }
  const def = result.compiled!.definition;
  out(`${result.file}: ok: DAG ${def.dagId}, ${def.tasks.length === 1 ? "1 task" : `${def.tasks.length} tasks`} (${def.tasks.map((t) => t.taskId).join(", ")})`);
  return 0;
}
