// The "ferry" module DAG files import. Only the authoring API is public here; the compiler and the
// worker reach the runtime's internals through sdk/internal.ts.
export { dag, task, podTask } from "./dag.ts";
export type {
  Dag,
  DagOptions,
  Duration,
  FunctionTaskOptions,
  OverlapPolicy,
  Params,
  PodTaskOptions,
  PodTaskSpec,
  ResourceList,
  RetryBackoff,
  TaskContext,
  TaskDefaults,
  TaskFunction,
  TaskHandle,
  TaskOptions,
  TaskRef,
  TriggerRule,
  UpstreamTask,
} from "./types.ts";
