// The Pod contract between the executor, which builds each try's Pod, and the worker, which runs inside
// a function task's Pod: the environment the executor sets, the container's name, where a result is
// written, the route the worker fetches its bundle from, and the try's identity and context. Both sides
// import it from here, so they cannot drift apart; it imports nothing, so the worker's bundle stays small.
// (localkube, which imports nothing of Ferry's, mirrors one name: the termination-message path handed to
// a process as FERRY_TERMINATION_MESSAGE_PATH when it cannot mount the file in place.)

/** One task try, everywhere: the Pod's name and labels, its log's place in the log store, the API's URLs. */
export interface TryIdentity {
  dagId: string;
  runId: string;
  taskId: string;
  /** 1 for the first try, 2 for the first retry, ... */
  tryNumber: number;
}

/**
 * What one try knows of its run: the worker builds a function task's `ctx` from it (sent as
 * FERRY_TASK_CONTEXT) and a pod task's templates see exactly these names.
 */
export interface TryContext extends TryIdentity {
  /** The run's logical date, ISO-8601. */
  logicalDate: string;
  /**
   * The span of data the run stands for, ISO-8601: the previous schedule tick up to this one for
   * scheduled and backfilled runs, the logical date for both in manual runs. Optional only until the
   * executor passes them everywhere it builds a context; a template using one that is missing fails.
   */
  dataIntervalStart?: string;
  dataIntervalEnd?: string;
  params: Record<string, unknown>;
  /** Results of finished upstream tasks, by task id. */
  tasks: Record<string, { result: unknown }>;
}

/**
 * The environment of a worker Pod (all set by the executor, except the two noted). The worker gets its
 * DAG version's bundle one of two ways: in `bundle` itself when it is small (FERRY_INLINE_BUNDLE_MAX_BYTES),
 * or else from the API, at `apiUrl` with `token`.
 */
export const WORKER_ENV = {
  /** The DAG version's bundle itself, when it is small enough to travel in the Pod spec. */
  bundle: "FERRY_BUNDLE",
  /** Where the worker reaches the API to fetch its bundle (when it is not inline). */
  apiUrl: "FERRY_API_URL",
  /** A token that opens this try's DAG version's bundle, only until the try ends, and nothing else (lib/tokens.ts). */
  token: "FERRY_WORKER_TOKEN",
  dagId: "FERRY_DAG_ID",
  dagVersion: "FERRY_DAG_VERSION",
  taskId: "FERRY_TASK_ID",
  /** The TryContext as JSON. */
  taskContext: "FERRY_TASK_CONTEXT",
  /** Not set by the executor: a local bundle to run instead of fetching one (tests, debugging). */
  bundleFile: "FERRY_BUNDLE_FILE",
  /** Not set by the executor: set by localkube when the termination-message file cannot be mounted in place. */
  terminationMessagePath: "FERRY_TERMINATION_MESSAGE_PATH",
} as const;

/** The one container of every task Pod; the executor reads its log by this name. */
export const TASK_CONTAINER_NAME = "task";

/** Where a task's container writes its result (Kubernetes' default `terminationMessagePath`). */
export const TERMINATION_MESSAGE_PATH = "/dev/termination-log";

/** The API route (fastify syntax) that serves a DAG version's bundle to the worker. */
export const BUNDLE_ROUTE = "/api/v1/dags/:dagId/versions/:version/bundle";

/** The URL of a DAG version's bundle under the API's base URL. */
export function bundleUrl(apiUrl: string, dagId: string, version: string): string {
  return `${apiUrl.replace(/\/+$/, "")}/api/v1/dags/${encodeURIComponent(dagId)}/versions/${encodeURIComponent(version)}/bundle`;
}
