// The task's outcome travels back through the container's termination message, which Kubernetes
// caps at 4096 bytes.
import { writeFileSync } from "node:fs";

export const MAX_RESULT_BYTES = 4096;
// Room for the JSON wrapper around an error message.
const MAX_ERROR_MESSAGE_CHARS = 1000;

export type Serialised = { ok: true; json: string } | { ok: false; message: string };

export function serialiseResult(value: unknown): Serialised {
  let json: string | undefined;
  try {
    json = JSON.stringify(value ?? null);
  } catch (error) {
    return { ok: false, message: `the task's result is not JSON-serialisable: ${(error as Error).message}` };
  }
  if (json === undefined) {
    return { ok: false, message: `the task's result is not JSON-serialisable: it is a ${typeof value}` };
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_RESULT_BYTES) {
    return {
      ok: false,
      message:
        `the task's result is ${bytes} bytes as JSON; the limit is ${MAX_RESULT_BYTES} bytes. ` +
        "Store large data elsewhere (e.g. object storage) and return a reference to it.",
    };
  }
  return { ok: true, json };
}

export function errorMessageJson(message: string): string {
  let short = message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 3)}...` : message;
  // Escapes and multi-byte characters can still push it over the cap.
  while (Buffer.byteLength(JSON.stringify({ error: short })) > MAX_RESULT_BYTES) short = `${short.slice(0, short.length / 2)}...`;
  return JSON.stringify({ error: short });
}

// Synchronous: a few bytes, once, at the end of the process; node:fs/promises would load its module and
// start libuv's thread pool for it.
export function writeTerminationMessage(path: string, text: string): void {
  writeFileSync(path, text);
}
