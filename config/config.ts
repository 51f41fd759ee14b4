// Ferry's configuration, read from the environment once at start-up. Everything else receives the
// compiled `FerryConfig` and never reads process.env itself, so a bad setting fails fast, here, with a
// message that says how to fix it.
import path from "node:path";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../lib/logger.ts";
import { faultsFromEnv, type FaultConfig } from "../localkube/faults.ts";

/** What happens to a finished try's Pod once its log is safe (FERRY_POD_DELETION). */
export const POD_DELETION_POLICIES = ["always", "keepFailed"] as const;
export type PodDeletion = (typeof POD_DELETION_POLICIES)[number];

export type KubeMode = "local" | "kubeconfig" | "in-cluster";

export interface FerryConfig {
  /** Postgres connection string; null = run embedded Postgres in `<dataDir>/postgres`. */
  databaseUrl: string | null;
  /** @default "./.ferry" (absolute after compiling) */
  dataDir: string;
  /** @default 8080 */
  port: number;
  /** @default "127.0.0.1" for embedded mode, "0.0.0.0" otherwise */
  host: string;
  /** The admin token; null = generate one on first start and store it. */
  apiToken: string | null;
  /** When set, /metrics asks for it as a bearer token. @default null (open, as /healthz) */
  metricsToken: string | null;
  /**
   * A process without the API serves /metrics, /healthz and /readyz on this port (FERRY_METRICS_PORT), on
   * `host`; 0 = not at all. A process with the API serves them on the API's port and ignores this. @default 9464
   */
  metricsPort: number;
  /** @default "local" */
  kube: KubeMode;
  kubeconfigPath: string | null;
  /** Where task Pods run (FERRY_TASK_NAMESPACE, or its older name FERRY_NAMESPACE). @default "default" */
  taskNamespace: string;
  /** Other namespaces a DAG or task may ask to run in (FERRY_ALLOWED_NAMESPACES, comma-separated). @default [] */
  allowedNamespaces: string[];
  /** @default "ghcr.io/ferry-dev/ferry-worker:<version>" */
  workerImage: string;
  /**
   * The global pod template every task try's Pod starts from (FERRY_POD_TEMPLATE: a YAML file holding a
   * Pod, PodTemplate or PodTemplateSpec), as an absolute path; read and checked when Ferry starts. null = none.
   */
  podTemplatePath: string | null;
  /** URL that worker Pods use to reach this API (to fetch bundles). null = this API's own address. */
  workerApiUrl: string | null;
  /**
   * A function task's bundle up to this many bytes travels in its Pod's environment (FERRY_BUNDLE), so
   * the worker neither fetches it nor holds a token; a larger one is fetched from the API. 0 = always
   * fetched. @default 32768
   */
  inlineBundleMaxBytes: number;
  /** @default "file://<dataDir>/logs" */
  logStoreUrl: string;
  /** Most task Pods this executor runs at once. @default 32 */
  maxRunningTasks: number;
  /** Most tries queued or running across every executor sharing the database; null for no bound. @default null */
  parallelism: number | null;
  /** The start timeout: a Pod not running after this long fails its try. @default 300000 (5 min) */
  podPendingTimeoutMs: number;
  /** The timeout backstop: how far past its timeout a container may run before Ferry stops it. @default 60000 */
  timeoutGraceMs: number;
  /** A finished try's Pod: deleted (`always`), or kept for `keepFailedPodsMs` when the try failed (`keepFailed`). */
  podDeletion: PodDeletion;
  keepFailedPodsMs: number;
  /** How often Pods with Ferry's labels that no live try owns are removed. @default 60000 */
  podSweepIntervalMs: number;
  /** Log shipping: how long a printed byte may wait before it is put to the store, the largest chunk, and how
   * long a read of an ended container's log may go without progress. @default 1000 ms, 1 MiB, 10000 ms */
  logFlushIntervalMs: number;
  logChunkBytes: number;
  logDrainTimeoutMs: number;
  /**
   * localkube only: faults to inject (FERRY_LOCALKUBE_FAULTS, JSON), instant Pods (FERRY_LOCALKUBE_INSTANT),
   * and container log rotation as a kubelet's containerLogMaxSize / containerLogMaxFiles
   * (FERRY_LOCALKUBE_LOG_MAX_BYTES, default 10 MiB; FERRY_LOCALKUBE_LOG_MAX_FILES, default 5).
   */
  localkube: { faults: FaultConfig; instant: boolean; logMaxBytes: number; logMaxFiles: number };
  /**
   * Finished runs older than this many days are deleted with their logs by the scheduler's retention
   * sweeper; null = keep everything forever. @default null
   */
  retentionDays: number | null;
  /**
   * Ferry's own log: the least severe level written (FERRY_LOG_LEVEL, @default "info") and its form
   * (FERRY_LOG_FORMAT: `json` lines, `pretty` one readable line per record; @default "auto": pretty when
   * the log's output, stderr, is a terminal, else JSON).
   */
  log: { level: LogLevel; format: LogFormat };
  /** Which parts this process runs. @default all */
  components: { api: boolean; scheduler: boolean; executor: boolean };
  /**
   * The Kubernetes client's guards: writes per second and burst, shared by every write of the process
   * (FERRY_KUBE_QPS, @default 50; FERRY_KUBE_BURST, @default 100), the longest wait for an answer
   * (FERRY_KUBE_REQUEST_TIMEOUT_SECONDS, @default 30), and how long a watch may bring nothing, not even
   * a bookmark, before it is restarted (FERRY_KUBE_WATCH_IDLE_SECONDS, @default 120).
   */
  kubeClient: { qps: number; burst: number; requestTimeoutMs: number; watchIdleMs: number };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export const FERRY_VERSION = "0.1.0";
/** The largest FERRY_INLINE_BUNDLE_MAX_BYTES: well under Linux's 128 KiB for one environment string. */
export const MAX_INLINE_BUNDLE_BYTES = 100_000;
export const DEFAULT_WORKER_IMAGE = `ghcr.io/ferry-dev/ferry-worker:${FERRY_VERSION}`;

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, hint = ""): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not valid: use a whole number from ${min} to ${max}${hint}.`);
  }
  return value;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(value > 0) || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not valid: use a number greater than 0 and at most ${max}, e.g. 20 or 0.5.`);
  }
  return value;
}

// Unset keeps history forever, as Airflow does: deleting data must be asked for.
function retentionDays(env: NodeJS.ProcessEnv): number | null {
  const raw = env.FERRY_RETENTION_DAYS;
  if (raw === undefined || raw === "") return null;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1 || value > 36500) {
    throw new ConfigError(
      `FERRY_RETENTION_DAYS=${JSON.stringify(raw)} is not valid: use a whole number of days from 1 to 36500, or leave it unset to keep runs and logs forever.`,
    );
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? "").toLowerCase();
  if (raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw new ConfigError(`${name}=${JSON.stringify(env[name])} is not valid: use true or false.`);
}

function localkubeFaults(env: NodeJS.ProcessEnv): FaultConfig {
  try {
    return faultsFromEnv(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceName(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === "") return null;
  if (!DNS_LABEL.test(raw)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a Kubernetes namespace name (lowercase letters, digits and "-", at most 63).`);
  return raw;
}

function allowedNamespaces(env: NodeJS.ProcessEnv): string[] {
  const raw = env.FERRY_ALLOWED_NAMESPACES ?? "";
  const names = raw.split(",").map((n) => n.trim()).filter((n) => n !== "");
  const bad = names.filter((n) => !DNS_LABEL.test(n));
  if (bad.length > 0) throw new ConfigError(`FERRY_ALLOWED_NAMESPACES: ${bad.map((b) => JSON.stringify(b)).join(", ")} is not a Kubernetes namespace name.`);
  return [...new Set(names)];
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not valid: use one of ${allowed.join(", ")}.`);
  return raw as T;
}

function parseComponents(raw: string | undefined): FerryConfig["components"] {
  if (!raw) return { api: true, scheduler: true, executor: true };
  const parts = raw.split(",").map((p) => p.trim()).filter(Boolean);
  const known = ["api", "scheduler", "executor"];
  const unknown = parts.filter((p) => !known.includes(p));
  if (unknown.length > 0 || parts.length === 0) {
    throw new ConfigError(`FERRY_COMPONENTS=${JSON.stringify(raw)} is not valid: list any of ${known.join(", ")}, comma-separated.`);
  }
  return { api: parts.includes("api"), scheduler: parts.includes("scheduler"), executor: parts.includes("executor") };
}

export function compileConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): FerryConfig {
  const dataDir = path.resolve(cwd, env.FERRY_DATA_DIR || ".ferry");
  const port = integer(env, "FERRY_PORT", 8080, 0, 65535);
  const kube = (env.FERRY_KUBE || "local") as KubeMode;
  if (!["local", "kubeconfig", "in-cluster"].includes(kube)) {
    throw new ConfigError(`FERRY_KUBE=${JSON.stringify(env.FERRY_KUBE)} is not valid: use local, kubeconfig or in-cluster.`);
  }
  const logStoreUrl = env.FERRY_LOG_STORE || `file://${path.join(dataDir, "logs")}`;
  if (!/^(s3|file):\/\/./.test(logStoreUrl)) {
    throw new ConfigError(`FERRY_LOG_STORE=${JSON.stringify(logStoreUrl)} is not valid: use s3://bucket/prefix or file://path.`);
  }
  const databaseUrl = env.DATABASE_URL || null;
  const apiToken = env.FERRY_API_TOKEN || null;
  if (apiToken !== null && apiToken.length < 16) {
    throw new ConfigError("FERRY_API_TOKEN is too short: use at least 16 characters (or unset it to have one generated).");
  }
  const host = env.FERRY_HOST || (kube === "local" ? "127.0.0.1" : "0.0.0.0");
  return {
    databaseUrl,
    dataDir,
    port,
    host,
    apiToken,
    kube,
    kubeconfigPath: env.KUBECONFIG || null,
    metricsToken: env.FERRY_METRICS_TOKEN || null,
    // 9464 is the port Prometheus exporters of OpenTelemetry use. 0 switches the listener off, as it does for
    // Kubernetes' own health and metrics ports: a port the OS picked could be neither scraped nor probed.
    metricsPort: integer(env, "FERRY_METRICS_PORT", 9464, 0, 65535, " (0: no metrics listener)"),
    taskNamespace: namespaceName(env, env.FERRY_TASK_NAMESPACE ? "FERRY_TASK_NAMESPACE" : "FERRY_NAMESPACE") ?? "default",
    allowedNamespaces: allowedNamespaces(env),
    workerImage: env.FERRY_WORKER_IMAGE || DEFAULT_WORKER_IMAGE,
    podTemplatePath: env.FERRY_POD_TEMPLATE ? path.resolve(cwd, env.FERRY_POD_TEMPLATE) : null,
    workerApiUrl: env.FERRY_WORKER_API_URL || null,
    // Linux refuses to start a process whose one environment string passes 128 KiB (MAX_ARG_STRLEN).
    inlineBundleMaxBytes: integer(env, "FERRY_INLINE_BUNDLE_MAX_BYTES", 32 * 1024, 0, MAX_INLINE_BUNDLE_BYTES),
    logStoreUrl,
    maxRunningTasks: integer(env, "FERRY_MAX_RUNNING_TASKS", 32, 1, 100000),
    parallelism: env.FERRY_PARALLELISM ? integer(env, "FERRY_PARALLELISM", 0, 1, 1_000_000) : null,
    podPendingTimeoutMs: integer(env, "FERRY_POD_PENDING_TIMEOUT_SECONDS", 300, 1, 7 * 24 * 3600) * 1000,
    timeoutGraceMs: integer(env, "FERRY_TIMEOUT_GRACE_SECONDS", 60, 1, 24 * 3600) * 1000,
    podDeletion: oneOf(env, "FERRY_POD_DELETION", POD_DELETION_POLICIES, "always"),
    keepFailedPodsMs: integer(env, "FERRY_POD_KEEP_FAILED_SECONDS", 3600, 1, 30 * 24 * 3600) * 1000,
    podSweepIntervalMs: integer(env, "FERRY_POD_SWEEP_SECONDS", 60, 1, 24 * 3600) * 1000,
    logFlushIntervalMs: integer(env, "FERRY_LOG_FLUSH_INTERVAL_MS", 1000, 50, 60_000),
    logChunkBytes: integer(env, "FERRY_LOG_CHUNK_BYTES", 1024 * 1024, 4096, 64 * 1024 * 1024),
    logDrainTimeoutMs: integer(env, "FERRY_LOG_DRAIN_TIMEOUT_SECONDS", 10, 1, 3600) * 1000,
    localkube: {
      faults: localkubeFaults(env),
      instant: flag(env, "FERRY_LOCALKUBE_INSTANT"),
      logMaxBytes: integer(env, "FERRY_LOCALKUBE_LOG_MAX_BYTES", 10 * 1024 * 1024, 1, 2 ** 40),
      // A kubelet refuses fewer than 2: the file being written plus the one just rotated.
      logMaxFiles: integer(env, "FERRY_LOCALKUBE_LOG_MAX_FILES", 5, 2, 1000),
    },
    retentionDays: retentionDays(env),
    log: { level: oneOf(env, "FERRY_LOG_LEVEL", LOG_LEVELS, "info"), format: oneOf(env, "FERRY_LOG_FORMAT", LOG_FORMATS, "auto") },
    components: parseComponents(env.FERRY_COMPONENTS),
    kubeClient: {
      // Each try costs two writes (create, delete): 50/s lets a process start about 25 tries a second.
      qps: positiveNumber(env, "FERRY_KUBE_QPS", 50, 100_000),
      burst: integer(env, "FERRY_KUBE_BURST", 100, 1, 100_000),
      requestTimeoutMs: integer(env, "FERRY_KUBE_REQUEST_TIMEOUT_SECONDS", 30, 1, 3600) * 1000,
      watchIdleMs: integer(env, "FERRY_KUBE_WATCH_IDLE_SECONDS", 120, 1, 24 * 3600) * 1000,
    },
  };
}
