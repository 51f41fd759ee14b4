// The JSON shape a DAG file compiles to. This is what Postgres stores per DAG version, what the
// scheduler plans with and what the executor turns into Pods. It never contains code: function task
// bodies stay in the version's bundle and only run inside their own Pods (see worker/).

export const TRIGGER_RULES = [
  "all_success",
  "all_done",
  "all_failed",
  "one_success",
  "one_failed",
  "none_failed",
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

export type RetryBackoff = "fixed" | "exponential";

/** What a schedule tick does while a run of the DAG is active (README.md, "Scheduling rules"). */
export const OVERLAP_POLICIES = ["allow", "forbid", "replace"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** Task options after defaults are applied; durations normalised to milliseconds. */
export interface CompiledTaskOptions {
  dependsOn: string[];
  retries: number;
  /**
   * Tries that fail for a reason outside the task and are retried without using up `retries`. Always
   * set by the compiler; absent only in DAG versions stored before the option existed (read as 3).
   */
  infraRetries?: number;
  /** Absent (versions stored before pools) = "default". */
  pool?: string;
  /** Absent = 0. */
  priority?: number;
  retryDelayMs: number;
  retryBackoff: RetryBackoff;
  /** null = no timeout. */
  timeoutMs: number | null;
  triggerRule: TriggerRule;
}

export interface ResourceList {
  cpu?: string;
  memory?: string;
  [name: string]: string | undefined;
}

export interface PodTaskSpec {
  image: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** Passed through to the Pod spec as given (Kubernetes shapes). */
  volumes?: unknown[];
  volumeMounts?: unknown[];
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  serviceAccountName?: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface FunctionTaskDefinition extends CompiledTaskOptions {
  taskId: string;
  kind: "function";
  /** Resources for the worker Pod, optional. */
  resources?: { requests?: ResourceList; limits?: ResourceList };
}

export interface PodTaskDefinition extends CompiledTaskOptions {
  taskId: string;
  kind: "pod";
  pod: PodTaskSpec;
}

export type TaskDefinition = FunctionTaskDefinition | PodTaskDefinition;

export interface DagDefinition {
  dagId: string;
  /** Cron expression (5 or 6 fields) or preset; null = manual runs only. */
  schedule: string | null;
  timezone: string;
  /** ISO-8601 instant; the first schedule tick is at or after it. null = from when the DAG is posted. */
  start: string | null;
  /**
   * ISO-8601 instant; no scheduled run after it. Absent = no end (also in versions stored before the
   * option existed, which is why the optional options below are left out rather than defaulted).
   */
  end?: string;
  catchup: boolean;
  /** Absent = "allow". */
  overlap?: OverlapPolicy;
  maxActiveRuns: number;
  /** Absent = no limit of its own. */
  maxActiveTasks?: number;
  params: Record<string, unknown>;
  description: string | null;
  tags: string[];
  /** In topological order. */
  tasks: TaskDefinition[];
}
