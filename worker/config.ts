// The worker's inputs, all from the Pod's environment (set by the executor). The names and the shape
// of the context are the Pod contract's (lib/pod-contract.ts), which the executor builds the Pod from.
import { TERMINATION_MESSAGE_PATH, WORKER_ENV, type TryContext } from "../lib/pod-contract.ts";
import { WorkerError } from "./errors.ts";

export interface WorkerConfig {
  /** The bundle itself, when the executor sent it inline. */
  inlineBundle?: string;
  /** Where to fetch the bundle, and with what token, when it is not inline. */
  apiUrl?: string;
  token?: string;
  dagId: string;
  dagVersion: string;
  taskId: string;
  /** A local bundle to run instead of fetching it (tests, debugging). */
  bundleFile?: string;
  terminationMessagePath: string;
  context: TryContext;
}

export type Env = Record<string, string | undefined>;

export class ConfigError extends WorkerError {}

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === "") throw new ConfigError(`${name} is not set; the executor sets it on the worker Pod`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseContext(text: string, dagId: string, taskId: string): TryContext {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${WORKER_ENV.taskContext} is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(parsed)) throw new ConfigError(`${WORKER_ENV.taskContext} must be a JSON object`);
  const str = (key: string, fallback?: string): string => {
    const value = parsed[key] ?? fallback;
    if (typeof value !== "string") throw new ConfigError(`${WORKER_ENV.taskContext}.${key} must be a string`);
    return value;
  };
  const tryNumber = parsed.tryNumber ?? 1;
  if (typeof tryNumber !== "number" || !Number.isInteger(tryNumber) || tryNumber < 1) {
    throw new ConfigError(`${WORKER_ENV.taskContext}.tryNumber must be a positive integer`);
  }
  const params = parsed.params ?? {};
  if (!isRecord(params)) throw new ConfigError(`${WORKER_ENV.taskContext}.params must be an object`);
  const tasks = parsed.tasks ?? {};
  if (!isRecord(tasks) || !Object.values(tasks).every(isRecord)) {
    throw new ConfigError(`${WORKER_ENV.taskContext}.tasks must map task ids to { result }`);
  }
  return {
    dagId: str("dagId", dagId),
    runId: str("runId"),
    taskId: str("taskId", taskId),
    tryNumber,
    logicalDate: str("logicalDate"),
    // An executor from before data intervals sends none: the logical date, as for a manual run.
    dataIntervalStart: str("dataIntervalStart", str("logicalDate")),
    dataIntervalEnd: str("dataIntervalEnd", str("logicalDate")),
    params,
    tasks: tasks as Record<string, { result: unknown }>,
  };
}

export function readConfig(env: Env): WorkerConfig {
  const dagId = required(env, WORKER_ENV.dagId);
  const taskId = required(env, WORKER_ENV.taskId);
  const bundleFile = env[WORKER_ENV.bundleFile] || undefined;
  const inlineBundle = env[WORKER_ENV.bundle] || undefined;
  const fetches = !bundleFile && !inlineBundle;
  return {
    inlineBundle,
    apiUrl: fetches ? required(env, WORKER_ENV.apiUrl) : env[WORKER_ENV.apiUrl],
    token: fetches ? required(env, WORKER_ENV.token) : env[WORKER_ENV.token],
    dagId,
    dagVersion: fetches ? required(env, WORKER_ENV.dagVersion) : (env[WORKER_ENV.dagVersion] ?? ""),
    taskId,
    bundleFile,
    terminationMessagePath: terminationMessagePath(env),
    context: parseContext(required(env, WORKER_ENV.taskContext), dagId, taskId),
  };
}

/** Where the result goes: the contract's path, unless localkube handed the process another file. */
export function terminationMessagePath(env: Env): string {
  return env[WORKER_ENV.terminationMessagePath] || TERMINATION_MESSAGE_PATH;
}
