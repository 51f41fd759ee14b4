// Instant mode (benchmarks): no process is spawned. A pod's "container" finishes at once with the
// output, exit code and termination message scripted by its annotations, while the status still
// moves through the same separate writes (Pending -> Running -> Succeeded/Failed) so watchers see the
// same shapes as with a real process, and the output is served by the usual log endpoint.

import type { KObject } from "./store.ts";

export const OUTPUT_ANNOTATION = "localkube.ferry.dev/output";
export const EXIT_CODE_ANNOTATION = "localkube.ferry.dev/exit-code";
export const TERMINATION_MESSAGE_ANNOTATION = "localkube.ferry.dev/termination-message";

export type InstantScript = { output: string; exitCode: number; message: string } | { error: string };

export function instantScript(pod: KObject): InstantScript {
  const a: Record<string, string> = pod.metadata.annotations ?? {};
  const rawCode = a[EXIT_CODE_ANNOTATION];
  let exitCode = 0;
  if (rawCode !== undefined) {
    if (!/^\s*\d+\s*$/.test(rawCode) || Number(rawCode) > 255)
      return { error: `localkube instant mode: annotation ${EXIT_CODE_ANNOTATION} must be an exit code from 0 to 255, got ${JSON.stringify(rawCode)}` };
    exitCode = Number(rawCode);
  }
  return { output: a[OUTPUT_ANNOTATION] ?? "", exitCode, message: a[TERMINATION_MESSAGE_ANNOTATION] ?? "" };
}
