// Gets the DAG version's compiled bundle: as the executor sent it inline (FERRY_BUNDLE), from a local
// file when FERRY_BUNDLE_FILE is set, or else from the API. Network errors and 5xx are retried (the
// API may be restarting); 4xx are final.
import { readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { bundleUrl, WORKER_ENV } from "../lib/pod-contract.ts";
import type { WorkerConfig } from "./config.ts";
import { WorkerError } from "./errors.ts";
import type { BundleFetch } from "./http-get.ts";

export interface FetchDeps {
  fetch: BundleFetch;
  sleep: (ms: number) => Promise<void>;
  /** Where retry notes go (stderr): only written when something went wrong. */
  diagnostics: Writable;
}

const ATTEMPTS = 5;
const FIRST_DELAY_MS = 500;
const REQUEST_TIMEOUT_MS = 30_000;

class FinalError extends Error {}

async function fetchOnce(url: string, token: string, deps: FetchDeps): Promise<string> {
  const response = await deps.fetch(url, {
    headers: { Authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = await response.text();
  if (response.ok) return body;
  const detail = `GET ${url} answered ${response.status}: ${body.slice(0, 300)}`;
  if (response.status >= 500 || response.status === 429) throw new Error(detail);
  throw new FinalError(detail);
}

export async function loadBundle(config: WorkerConfig, deps: FetchDeps): Promise<string> {
  if (config.inlineBundle !== undefined) return config.inlineBundle;
  if (config.bundleFile) {
    try {
      return readFileSync(config.bundleFile, "utf8");
    } catch (error) {
      throw new WorkerError(`could not read ${WORKER_ENV.bundleFile}: ${(error as Error).message}`);
    }
  }
  const url = bundleUrl(config.apiUrl!, config.dagId, config.dagVersion);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(url, config.token!, deps);
    } catch (error) {
      if (error instanceof FinalError || attempt >= ATTEMPTS) {
        throw new WorkerError(`could not fetch the DAG bundle: ${(error as Error).message}`);
      }
      const delay = FIRST_DELAY_MS * 2 ** (attempt - 1);
      deps.diagnostics.write(`ferry-worker: fetching the DAG bundle failed (${(error as Error).message}); retrying in ${delay} ms\n`);
      await deps.sleep(delay);
    }
  }
}
