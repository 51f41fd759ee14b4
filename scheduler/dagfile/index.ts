// The DAG-file compiler, used by the API on POST /api/v1/dags, and the template renderer the executor
// uses for pod task strings.
export { compileDagFile, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT_MS } from "./compile.ts";
export type { CompileOptions, CompileResult, DagFileError, DagFileErrorCode, DagProblem, SourcePosition } from "./types.ts";
export { renderPodSpec, renderTemplate, TEMPLATE_ROOTS, type TemplateScope } from "./templates.ts";
export { parseDuration } from "./duration.ts";
export { ID_PATTERN } from "./validate.ts";
