// The compiler's public result types (see index.ts).
import type { DagDefinition } from "../sdk/definition.ts";

export type DagFileErrorCode =
  | "compile_error"
  | "import_not_allowed"
  | "evaluation_error"
  | "timeout"
  | "memory_limit"
  | "invalid_dag";

export interface DagProblem {
  /** Where in the DAG, e.g. `schedule`, `defaults.retries`, `tasks.count.dependsOn[0]`. */
  path: string;
  message: string;
  /** 1-based, in the DAG file, when the problem can be tied to a call (the task() line). */
  line?: number;
  column?: number;
}

export interface DagFileError {
  code: DagFileErrorCode;
  /** For humans; says how to fix it. */
  message: string;
  /** 1-based, in the user's TypeScript source, where it applies. */
  line?: number;
  column?: number;
  /** For invalid_dag: every problem found. */
  problems?: DagProblem[];
}

export type CompileResult =
  | { ok: true; definition: DagDefinition; bundle: string }
  | { ok: false; error: DagFileError };

export interface CompileOptions {
  /** CPU time budget for evaluating the file's top level. @default 2000 */
  timeoutMs?: number;
  /** Memory the evaluation may use. @default 64 MiB */
  memoryBytes?: number;
  /** Namespaces its tasks may ask for (the server's rule); absent: any valid name. */
  allowedNamespaces?: readonly string[];
}

/** A 1-based position in the DAG file. */
export interface SourcePosition {
  line: number;
  column: number;
}
