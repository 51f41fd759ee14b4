// One check of `ferry doctor` (cli/doctor.ts): what it answers, and running it under its deadline.

/** warn: something doctor could not decide, which does not fail the run (exit 0). */
export type CheckStatus = "ok" | "fail" | "warn" | "skip";

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found (ok, warn), why it failed (fail), or why it did not run (skip). */
  detail: string;
  /** For a failure or a warning: what to do about it. */
  hint: string | null;
}

/** A check's failure with the reason and the hint to print. */
export class Failed extends Error {
  constructor(
    message: string,
    readonly hint: string | null = null,
  ) {
    super(message);
  }
}

export interface Passed {
  detail: string;
  status?: "ok" | "warn";
  hint?: string;
}

class TimedOut extends Error {}

/**
 * Runs one check under its deadline. Every client below has a timeout of its own as well (pg's connect,
 * the Kubernetes client's request deadline, the S3 handler's); this one is the backstop that keeps a
 * check from hanging on anything they do not cover.
 */
export async function runCheck(id: string, title: string, timeoutMs: number, fn: () => Promise<Passed>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut()), timeoutMs);
    timer.unref();
  });
  try {
    const r = await Promise.race([fn(), deadline]);
    return { id, title, status: r.status ?? "ok", detail: r.detail, hint: r.hint ?? null };
  } catch (err) {
    if (err instanceof TimedOut) {
      return { id, title, status: "fail", detail: `no answer within ${timeoutMs / 1000} s`, hint: "check that this machine can reach it (address, port, firewall); --timeout gives it longer" };
    }
    if (err instanceof Failed) return { id, title, status: "fail", detail: err.message, hint: err.hint };
    return { id, title, status: "fail", detail: errorText(err), hint: null };
  } finally {
    clearTimeout(timer);
  }
}

export const skipped = (id: string, title: string, why: string): CheckResult => ({ id, title, status: "skip", detail: why, hint: null });

/** Node's connection errors to a name with several addresses are AggregateErrors with no message. */
export function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] } | undefined;
  if (e?.message) return e.message;
  if (e?.errors?.length) return errorText(e.errors[0]);
  return e?.code ?? String(err);
}
