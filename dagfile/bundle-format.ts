// The compiled bundle's contract, shared by the compiler (which writes it), the sandbox and the
// worker (which run it): CommonJS that calls require("ferry") for the SDK, sets
// module.exports.default to the dag(), and ends with an inline source map back to the DAG file.
// Kept free of imports so the worker can use it without loading the compiler's dependencies.

/** The bundle's name in stack traces. */
export const BUNDLE_FILE = "dag.js";
/** The DAG file's name in source maps and in positions reported to users. */
export const SOURCE_FILE = "dag.ts";
