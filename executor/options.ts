// The executor's options as callers give them, and compiled with their defaults (one place for both).
import { DagDefinitionCache } from "../scheduler/dags.repository.ts";
import type { PodDeletion } from "../config/config.ts";
import { unservedMetrics, type Metrics } from "../lib/metrics.ts";
import type { PodTemplate } from "./pod-template.ts";
import { INFRA_RETRY_DELAY_MS } from "./retry-policy.ts";

export interface ExecutorOptions {
  /** Most tries this executor holds at once. */
  maxRunningTasks: number;
  /**
   * Namespaces besides the Kubernetes client's own (the task namespace) that tasks may run in
   * (FERRY_ALLOWED_NAMESPACES): each is watched and swept. @default []
   */
  extraNamespaces?: string[];
  /** Most tries queued or running across every executor (FERRY_PARALLELISM); null for no bound. @default null */
  parallelism?: number | null;
  workerImage: string;
  /** Resolved lazily: the API's own address is known only once it listens. */
  workerApiUrl: () => string;
  workerSecret: string;
  /** A function task's bundle up to this many bytes goes in its Pod (FERRY_INLINE_BUNDLE_MAX_BYTES); 0 for never. @default 32768 */
  inlineBundleMaxBytes?: number;
  /** The global pod template every try's Pod starts from (FERRY_POD_TEMPLATE, read by loadPodTemplate); null for none. @default null */
  podTemplate?: PodTemplate | null;
  /** @default 1000 */
  pollIntervalMs?: number;
  /** @default 30000 */
  leaseMs?: number;
  /** A Pod still pending after this long with an image or scheduling problem fails its try. @default 300000 */
  pendingTimeoutMs?: number;
  /**
   * The backstop for timeouts: a container still running this long past its timeout (the cluster lost
   * its deadline) is stopped by Ferry, and deleted if it runs this long again. @default 60000
   */
  timeoutGraceMs?: number;
  /**
   * What happens to a try's Pod once its log is safe: `always` deleted, or `keepFailed`: a failed try's
   * Pod is kept for `keepFailedPodsMs` for debugging (the try is done at once), then swept. @default "always"
   */
  podDeletion?: PodDeletion;
  /** @default 3600000 (1 h) */
  keepFailedPodsMs?: number;
  /** How often Ferry-labelled Pods no live try owns are looked for and removed. @default 60000 */
  sweepIntervalMs?: number;
  /** The first retry after a failure outside the task waits this long; each further one doubles (to 5 min). @default 10000 */
  infraRetryDelayMs?: number;
  /** Longest a printed byte waits before it is put to the log store. @default 1000 */
  logFlushIntervalMs?: number;
  /** Largest log chunk put to the store. @default 1048576 */
  logChunkBytes?: number;
  /** After a container ended, how long a read of its log may go without progress. @default 10000 */
  logDrainTimeoutMs?: number;
  /** The process's metrics. @default a registry nobody serves */
  metrics?: Metrics;
  /** The process's cache of DAG definitions, shared with the scheduler. @default a cache of its own */
  definitions?: DagDefinitionCache;
}

export type CompiledExecutorOptions = Required<ExecutorOptions>;

export function compileExecutorOptions(opts: ExecutorOptions): CompiledExecutorOptions {
  return {
    pollIntervalMs: 1000,
    parallelism: null,
    podTemplate: null,
    extraNamespaces: [],
    leaseMs: 30_000,
    pendingTimeoutMs: 300_000,
    timeoutGraceMs: 60_000,
    podDeletion: "always",
    keepFailedPodsMs: 3_600_000,
    sweepIntervalMs: 60_000,
    infraRetryDelayMs: INFRA_RETRY_DELAY_MS,
    logFlushIntervalMs: 1000,
    logChunkBytes: 1024 * 1024,
    logDrainTimeoutMs: 10_000,
    inlineBundleMaxBytes: 32 * 1024,
    ...opts,
    definitions: opts.definitions ?? new DagDefinitionCache(),
    metrics: opts.metrics ?? unservedMetrics(),
  };
}
