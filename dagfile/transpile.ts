// TypeScript -> one CommonJS bundle with esbuild. Only "ferry" may be imported; it stays external so
// the sandbox and the worker each supply their own copy of the SDK runtime.
import * as esbuild from "esbuild";
import { BUNDLE_FILE, SOURCE_FILE } from "./bundle-format.ts";
import type { DagFileError } from "./types.ts";

export type TranspileResult = { ok: true; code: string; map: string } | { ok: false; error: DagFileError };

const IMPORT_NOT_ALLOWED = "ferry:import-not-allowed";

const onlyFerry: esbuild.Plugin = {
  name: "only-ferry",
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.path === "ferry") return { path: "ferry", external: true };
      return {
        errors: [
          {
            text: `Cannot import "${args.path}": a DAG file may only import from "ferry". Task code that needs other modules belongs in a pod task with your own image.`,
            detail: IMPORT_NOT_ALLOWED,
          },
        ],
      };
    });
  },
};

function toDagFileError(messages: esbuild.Message[]): DagFileError {
  const first = messages.find((m) => m.detail === IMPORT_NOT_ALLOWED) ?? messages[0];
  const code = first?.detail === IMPORT_NOT_ALLOWED ? "import_not_allowed" : "compile_error";
  const location = first?.location;
  const where = location ? ` (${SOURCE_FILE}:${location.line}:${location.column + 1})` : "";
  const more = messages.length > 1 ? ` (and ${messages.length - 1} more error${messages.length > 2 ? "s" : ""})` : "";
  const error: DagFileError = {
    code,
    message: `${first?.text ?? "the DAG file does not compile"}${where}${more}`,
  };
  if (location) {
    error.line = location.line;
    error.column = location.column + 1;
  }
  return error;
}

export async function transpile(source: string): Promise<TranspileResult> {
  try {
    const result = await esbuild.build({
      stdin: { contents: source, loader: "ts", sourcefile: SOURCE_FILE },
      bundle: true,
      write: false,
      format: "cjs",
      platform: "neutral",
      // QuickJS and Node 20 both run ES2020; lowering further would only blur source positions.
      target: "es2020",
      outfile: BUNDLE_FILE,
      sourcemap: "external",
      sourcesContent: true,
      logLevel: "silent",
      plugins: [onlyFerry],
      // Keep every import, even unused or type-looking ones, so a stray import is reported rather than
      // silently dropped; `import type` is still erased.
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    });
    const code = result.outputFiles.find((f) => f.path.endsWith(".js"))!.text;
    const map = result.outputFiles.find((f) => f.path.endsWith(".map"))!.text;
    return { ok: true, code, map };
  } catch (error) {
    const messages = (error as { errors?: esbuild.Message[] }).errors;
    if (Array.isArray(messages) && messages.length > 0) return { ok: false, error: toDagFileError(messages) };
    throw error;
  }
}
