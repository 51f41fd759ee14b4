// The DAG-file compiler, a part of its own: the API compiles a posted file with it (sandboxed), the
// executor renders pod task strings with its template engine, and the worker reads the bundle format it
// writes. The scheduler loop never imports it: DAG code never runs there.
export { compileDagFile, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_MS } from "./compile.ts";
export type { CompileOptions, CompileResult, DagFileError, DagFileErrorCode, DagProblem, SourcePosition } from "./types.ts";
export { renderPodSpec, renderTemplate, TEMPLATE_ROOTS, type TemplateScope } from "./templates.ts";
export { parseDuration } from "./duration.ts";
export { ID_PATTERN } from "./validate.ts";
