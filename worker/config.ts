// The worker's inputs, all from the Pod's environment (set by the executor).
import { WorkerError } from "./errors.ts";

export interface TaskContextInput {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  logicalDate: string;
  params: Record<string, unknown>;
  tasks: Record<string, { result: unknown }>;
}

export interface WorkerConfig {
  apiUrl?: string;
  token?: string;
  dagId: string;
  dagVersion: string;
  taskId: string;
  /** A local bundle to run instead of fetching it (tests, debugging). */
  bundleFile?: string;
  terminationMessagePath: string;
  context: TaskContextInput;
}

export type Env = Record<string, string | undefined>;

export const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";

export class ConfigError extends WorkerError {}

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === "") throw new ConfigError(`${name} is not set; the executor sets it on the worker Pod`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseContext(text: string, dagId: string, taskId: string): TaskContextInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`FERRY_TASK_CONTEXT is not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(parsed)) throw new ConfigError("FERRY_TASK_CONTEXT must be a JSON object");
  const str = (key: string, fallback?: string): string => {
    const value = parsed[key] ?? fallback;
    if (typeof value !== "string") throw new ConfigError(`FERRY_TASK_CONTEXT.${key} must be a string`);
    return value;
  };
  const tryNumber = parsed.tryNumber ?? 1;
  if (typeof tryNumber !== "number" || !Number.isInteger(tryNumber) || tryNumber < 1) {
    throw new ConfigError("FERRY_TASK_CONTEXT.tryNumber must be a positive integer");
  }
  const params = parsed.params ?? {};
  if (!isRecord(params)) throw new ConfigError("FERRY_TASK_CONTEXT.params must be an object");
  const tasks = parsed.tasks ?? {};
  if (!isRecord(tasks) || !Object.values(tasks).every(isRecord)) {
    throw new ConfigError("FERRY_TASK_CONTEXT.tasks must map task ids to { result }");
  }
  return {
    dagId: str("dagId", dagId),
    runId: str("runId"),
    taskId: str("taskId", taskId),
    tryNumber,
    logicalDate: str("logicalDate"),
    params,
    tasks: tasks as Record<string, { result: unknown }>,
  };
}

export function readConfig(env: Env): WorkerConfig {
  const dagId = required(env, "FERRY_DAG_ID");
  const taskId = required(env, "FERRY_TASK_ID");
  const bundleFile = env.FERRY_BUNDLE_FILE || undefined;
  return {
    apiUrl: bundleFile ? env.FERRY_API_URL : required(env, "FERRY_API_URL"),
    token: bundleFile ? env.FERRY_WORKER_TOKEN : required(env, "FERRY_WORKER_TOKEN"),
    dagId,
    dagVersion: bundleFile ? (env.FERRY_DAG_VERSION ?? "") : required(env, "FERRY_DAG_VERSION"),
    taskId,
    bundleFile,
    terminationMessagePath: env.FERRY_TERMINATION_MESSAGE_PATH || DEFAULT_TERMINATION_MESSAGE_PATH,
    context: parseContext(required(env, "FERRY_TASK_CONTEXT"), dagId, taskId),
  };
}
