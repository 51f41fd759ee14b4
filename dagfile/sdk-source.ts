// The SDK runtime as one script for the sandbox, built from sdk/internal.ts at first use so the
// sandbox always runs the same runtime code as the worker. It defines `globalThis.__ferryInternal`.
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const SDK_GLOBAL = "__ferryInternal";
export const SDK_FILE = "ferry-sdk.js";

let cached: Promise<string> | undefined;

export function sdkSource(): Promise<string> {
  cached ??= esbuild
    .build({
      entryPoints: [fileURLToPath(new URL("../sdk/internal.ts", import.meta.url))],
      bundle: true,
      write: false,
      format: "iife",
      globalName: SDK_GLOBAL,
      platform: "neutral",
      target: "es2020",
      logLevel: "silent",
    })
    .then((result) => result.outputFiles[0].text)
    .catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
  return cached;
}
