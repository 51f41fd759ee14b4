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
  /** Absent = the task namespace. */
  namespace?: string;
  retryDelayMs: number;
  retryBackoff: RetryBackoff;
  /** null = no timeout. */
  timeoutMs: number | null;
  triggerRule: TriggerRule;
}

export interface ResourceList {
  cpu?: string;
  memory?: string;
  /** Local scratch space (the container's writable layer, logs, emptyDir volumes). */
  "ephemeral-storage"?: string;
  [name: string]: string | undefined;
}

export interface Resources {
  requests?: ResourceList;
  limits?: ResourceList;
}

/** Where an env var's value comes from when the container starts (Kubernetes' EnvVarSource; one of the three). */
export interface EnvVarSource {
  secretKeyRef?: { name: string; key: string; optional?: boolean };
  configMapKeyRef?: { name: string; key: string; optional?: boolean };
  /** A field of the Pod: `metadata.name`, `metadata.namespace`, `metadata.uid`, `metadata.labels['k']`, `spec.nodeName`, `status.podIP`, ... */
  fieldRef?: { fieldPath: string; apiVersion?: string };
}

/** An env var's value: a string (a template in pod tasks), or `{ valueFrom }` read when the container starts. */
export type EnvValue = string | { valueFrom: EnvVarSource };

/** Every key of a Secret or ConfigMap as an env var (Kubernetes' EnvFromSource; one of the two refs). */
export interface EnvFromSource {
  secretRef?: { name: string; optional?: boolean };
  configMapRef?: { name: string; optional?: boolean };
  /** Put before every key's name. */
  prefix?: string;
}

/** A container's securityContext (the fields Ferry checks; Kubernetes' SecurityContext). */
export interface ContainerSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: "RuntimeDefault" | "Localhost" | "Unconfined"; localhostProfile?: string };
  procMount?: "Default" | "Unmasked";
}

/** The Pod's securityContext (the fields Ferry checks; Kubernetes' PodSecurityContext). */
export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  fsGroupChangePolicy?: "Always" | "OnRootMismatch";
  supplementalGroups?: number[];
  seccompProfile?: { type: "RuntimeDefault" | "Localhost" | "Unconfined"; localhostProfile?: string };
  sysctls?: { name: string; value: string }[];
}

/** A container beside the task's own: an init container (runs to completion first) or a sidecar. */
export interface ExtraContainer {
  /** A DNS-1123 label, unique in the Pod; not "task" (the task's own container). */
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: Record<string, EnvValue>;
  envFrom?: EnvFromSource[];
  resources?: Resources;
  volumeMounts?: unknown[];
  securityContext?: ContainerSecurityContext;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
}

/**
 * The Pod fields a task (and the DAG's `podDefaults`) may set. They are merged over the global pod
 * template and under Ferry's own fields (README.md, "Pod spec").
 */
export interface PodFields {
  command?: string[];
  args?: string[];
  env?: Record<string, EnvValue>;
  envFrom?: EnvFromSource[];
  resources?: Resources;
  /** Passed through to the Pod spec as given (Kubernetes shapes). */
  volumes?: unknown[];
  volumeMounts?: unknown[];
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  serviceAccountName?: string;
  /** Absent: false, unless the Pod names a service account. */
  automountServiceAccountToken?: boolean;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Names of Secrets holding registry credentials. */
  imagePullSecrets?: string[];
  /** The task container's securityContext. */
  securityContext?: ContainerSecurityContext;
  /** The Pod's securityContext. */
  podSecurityContext?: PodSecurityContext;
  priorityClassName?: string;
  runtimeClassName?: string;
  hostAliases?: { ip: string; hostnames: string[] }[];
  /** Run in order before the task's container; each must exit 0. */
  initContainers?: ExtraContainer[];
  /** Run beside the task's container and stopped once it ends (Kubernetes' native sidecars: init containers with restartPolicy Always). */
  sidecars?: ExtraContainer[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface PodTaskSpec extends PodFields {
  image: string;
}

/** What a function task may set of its Pod: everything but the container's image, command and args (the worker's). */
export type FunctionPodFields = Omit<PodFields, "command" | "args" | "resources">;

/** A DAG's `podDefaults`: the fields of every task's Pod, under each task's own. */
export interface PodDefaults extends PodFields {
  /** Pod tasks only; a pod task's own image wins. */
  image?: string;
}

export interface FunctionTaskDefinition extends CompiledTaskOptions {
  taskId: string;
  kind: "function";
  /** Resources for the worker Pod, optional. */
  resources?: Resources;
  /** The other Pod fields it (or the DAG's podDefaults) set; absent when none. */
  pod?: FunctionPodFields;
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
  /** Absent = the server's FERRY_POD_DELETION. */
  podDeletion?: "always" | "keepFailed";
  params: Record<string, unknown>;
  /** The DAG's podDefaults as given (already merged into each task's fields). Absent = none. */
  podDefaults?: PodDefaults;
  description: string | null;
  tags: string[];
  /** In topological order. */
  tasks: TaskDefinition[];
}
