// Public types of the "ferry" module: what DAG authors see in their editor. Runtime lives in dag.ts.
// `export type ... from` puts no name in scope here: the ones this file's own declarations use are imported too.
import type { FunctionPodFields, OverlapPolicy, PodDefaults, PodTaskSpec, Resources, RetryBackoff, TriggerRule } from "./definition.ts";

export type {
  ContainerSecurityContext,
  EnvFromSource,
  EnvValue,
  EnvVarSource,
  ExtraContainer,
  FunctionPodFields,
  OverlapPolicy,
  PodDefaults,
  PodFields,
  PodSecurityContext,
  PodTaskSpec,
  ResourceList,
  Resources,
  RetryBackoff,
  TriggerRule,
} from "./definition.ts";

/**
 * A duration: a number of seconds, or a string of one or more `<number><unit>` parts with units
 * `ms`, `s`, `m`, `h`, `d`, e.g. `"500ms"`, `"30s"`, `"20m"`, `"1h30m"`, `"2d"`.
 */
export type Duration = number | string;

/** DAG run parameters: JSON values, overridable per run when triggering. */
export type Params = { [key: string]: any };

// Type-level only (no runtime value): carries a task's result type from task() to ctx.result().
declare const resultType: unique symbol;

/** A task defined with `task()` or `podTask()`; pass it in another task's `dependsOn`. */
export interface TaskHandle<Result = unknown> {
  readonly taskId: string;
  readonly kind: "function" | "pod";
  readonly [resultType]?: Result;
}

/** A task to wait for: its handle, or its task id. */
export type TaskRef = TaskHandle<any> | string;

/** Options every task takes. Unset options fall back to the DAG's `defaults`, then to the built-ins. */
export interface TaskOptions {
  /**
   * Tasks that must reach a final state before this one is considered (see `triggerRule`).
   * @default []
   */
  dependsOn?: readonly TaskRef[];
  /**
   * How many times a failed try is retried (so at most `retries + 1` tries).
   * @default 0
   */
  retries?: number;
  /**
   * How many times a try that failed for a reason outside the task is retried without using up
   * `retries`: its Pod evicted, its node lost, its image not pulled or no node fitting it within the
   * start timeout, its Pod deleted by someone else. Such tries show `counted: false`.
   * @default 3
   */
  infraRetries?: number;
  /**
   * Wait before a retry. Seconds, or a string like `"30s"`, `"5m"`.
   * @default "30s"
   */
  retryDelay?: Duration;
  /**
   * `"fixed"` waits `retryDelay` every time; `"exponential"` doubles it on every further retry.
   * @default "fixed"
   */
  retryBackoff?: RetryBackoff;
  /**
   * Longest a single try may run before it is killed and counted as failed. `null` = no limit.
   * @default null
   */
  timeout?: Duration | null;
  /**
   * When the task may run, given its upstream tasks' outcomes: `all_success`, `all_done`,
   * `all_failed`, `one_success`, `one_failed` or `none_failed`.
   * @default "all_success"
   */
  triggerRule?: TriggerRule;
  /**
   * The pool whose slots the task's tries take while they are queued or running (`PUT
   * /api/v1/pools/{name}` makes one). A task whose pool is full, or does not exist, waits `scheduled`.
   * @default "default" (128 slots unless changed)
   */
  pool?: string;
  /**
   * When slots are scarce, tasks with a higher priority start first; among equals, the one scheduled
   * first. An integer from -1,000,000 to 1,000,000.
   * @default 0
   */
  priority?: number;
  /**
   * The Kubernetes namespace its Pod runs in; only the task namespace and those the operator allows
   * (FERRY_ALLOWED_NAMESPACES) are accepted, else the DAG is refused when pushed. Secrets, ConfigMaps and
   * service accounts the task names are looked up there. For every task of a DAG: `defaults: { namespace }`.
   * @default the task namespace (FERRY_TASK_NAMESPACE)
   */
  namespace?: string;
}

/** Task option defaults a DAG can set for all its tasks (`dependsOn` is per task). */
export type TaskDefaults = Omit<TaskOptions, "dependsOn">;

/**
 * Options of a function task (`task()`): the common task options and the fields of its Pod, except the
 * container's image, command and args (Ferry's worker). As in pod tasks, every string of these fields
 * is a template (`{{ params.x }}`, ...).
 */
export interface FunctionTaskOptions extends TaskOptions, FunctionPodFields {
  /**
   * CPU, memory and ephemeral storage for the worker Pod that runs the function.
   * @default the executor's worker defaults
   */
  resources?: Resources;
}

/**
 * A pod task (`podTask()`): the Pod spec plus the common task options. Every string in the spec is a
 * template: `{{ params.x }}`, `{{ logicalDate }}`, `{{ dataIntervalStart }}`, `{{ dataIntervalEnd }}`,
 * `{{ runId }}`, `{{ dagId }}`, `{{ taskId }}`, `{{ tryNumber }}` and `{{ tasks.<upstream id>.result... }}`.
 */
export interface PodTaskOptions extends PodTaskSpec, TaskOptions {}

/** An upstream task's outcome, as seen by a function task. */
export interface UpstreamTask {
  /** The upstream task's JSON result (`null` if it returned nothing). */
  result: any;
}

/** What a function task receives. */
export interface TaskContext {
  /** Writes one line to the task's log (stdout), arguments formatted like `console.log`. */
  log(...args: unknown[]): void;
  /** The run's parameters: the DAG's `params` merged with those given when triggering. */
  readonly params: Params;
  /** The run's logical date (ISO-8601), e.g. the schedule tick it stands for. */
  readonly logicalDate: string;
  /**
   * The span of data the run stands for (ISO-8601 UTC): from the schedule's previous tick to this run's
   * tick for scheduled and backfilled runs; the logical date for both in a manual run.
   */
  readonly dataIntervalStart: string;
  readonly dataIntervalEnd: string;
  readonly runId: string;
  readonly dagId: string;
  readonly taskId: string;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly tryNumber: number;
  /** Results of upstream tasks, by task id: `ctx.tasks.count.result`. */
  readonly tasks: { readonly [taskId: string]: UpstreamTask };
  /**
   * An upstream task's result, typed when given its handle. Throws if that task's result was not
   * passed to this task (it is not upstream of it).
   */
  result<R>(task: TaskHandle<R>): R;
  result(taskId: string): any;
}

/** The body of a function task: its JSON-serialisable return value (at most 4 KiB) is its result. */
export type TaskFunction<R> = (ctx: TaskContext) => R;

/** Options of `dag()`. */
export interface DagOptions {
  /**
   * When runs are created: a cron expression with 5 fields (`min hour day month weekday`) or 6
   * (seconds first), a preset (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, `@annually`),
   * or `null` for manual runs only.
   * @default null
   */
  schedule?: string | null;
  /**
   * IANA time zone the schedule (and a `start` without an offset) is read in, e.g. `"Asia/Seoul"`.
   * @default "UTC"
   */
  timezone?: string;
  /**
   * The first schedule tick is at or after this instant (ISO-8601).
   * @default when the DAG is first posted
   */
  start?: string | Date;
  /**
   * No scheduled run after this instant (ISO-8601; read in `timezone` without an offset). Backfills
   * and manual runs are not bound by it.
   * @default no end
   */
  end?: string | Date;
  /**
   * What a schedule tick does while a scheduled or manual run of this DAG is queued or running:
   * `"allow"` creates its run as usual (`maxActiveRuns` bounds how many run at once), `"forbid"` skips
   * the tick (recorded on the DAG as `lastSkippedTick`), `"replace"` cancels the active runs and
   * creates the tick's run. Backfill runs are neither counted nor cancelled.
   * @default "allow"
   */
  overlap?: OverlapPolicy;
  /**
   * Whether missed schedule ticks between `start` (or the last run) and now are run.
   * @default false
   */
  catchup?: boolean;
  /**
   * How many runs of this DAG may be active at once.
   * @default 16
   */
  maxActiveRuns?: number;
  /**
   * How many of this DAG's tasks may be queued or running at once, across all its runs.
   * @default no limit of its own (pools and FERRY_PARALLELISM still apply)
   */
  maxActiveTasks?: number;
  /**
   * A finished try's Pod, once its log is stored: `"always"` deleted, `"keepFailed"` kept for debugging
   * when the try failed (for FERRY_POD_KEEP_FAILED_SECONDS, then swept).
   * @default the server's FERRY_POD_DELETION
   */
  podDeletion?: "always" | "keepFailed";
  /**
   * Default run parameters (JSON), overridable per run.
   * @default {}
   */
  params?: Params;
  /**
   * Pod fields for every task of this DAG (the same fields a pod task takes; `image`, `command` and
   * `args` apply to pod tasks only). Each task's own fields are merged over them, by the rules of
   * README.md, "Pod spec"; their strings are templates of every pod task, which may not refer to
   * `tasks.<id>`.
   * @default {}
   */
  podDefaults?: PodDefaults;
  /**
   * Task option defaults for every task of this DAG.
   * @default { retries: 0, infraRetries: 3, retryDelay: "30s", retryBackoff: "fixed", timeout: null, triggerRule: "all_success" }
   */
  defaults?: TaskDefaults;
  /** @default null */
  description?: string;
  /** @default [] */
  tags?: string[];
}

/** A defined DAG: what a DAG file default-exports. */
export interface Dag {
  readonly dagId: string;
  /** Task ids in definition order. */
  readonly taskIds: readonly string[];
}
