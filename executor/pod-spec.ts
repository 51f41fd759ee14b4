// Turns one task try into one Pod. Function tasks run Ferry's worker image, which fetches the DAG
// version's bundle and runs the one function; pod tasks run the user's image as given, with every
// string rendered as a template first. The names both sides rely on (env, container, termination
// message) are the Pod contract's, in lib/pod-contract.ts.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { PodTaskSpec, TaskDefinition } from "../sdk/definition.ts";
import { renderPodSpec } from "../dagfile/templates.ts";
import { TASK_CONTAINER_NAME, TERMINATION_MESSAGE_PATH, WORKER_ENV, type TryContext } from "../lib/pod-contract.ts";
import { podAnnotations, podLabels, podNameFor } from "./pod-names.ts";

/** One try as its Pod needs it: its context, and the DAG version whose bundle the worker fetches. */
export interface PodTry extends TryContext {
  dagVersion: number;
}

export interface PodSpecSettings {
  namespace: string;
  workerImage: string;
  /** Where worker Pods reach the API to fetch bundles. */
  workerApiUrl: string;
  /** A token that lets a worker read this DAG version's bundle and nothing else. */
  workerToken: string;
}

export class TemplateRenderError extends Error {
  override name = "TemplateRenderError";
}

/** Every string of a pod task's spec is a template over the try's context. */
function renderSpec(spec: PodTaskSpec, ctx: PodTry): PodTaskSpec {
  try {
    return renderPodSpec(spec, {
      params: ctx.params,
      logicalDate: ctx.logicalDate,
      dataIntervalStart: ctx.dataIntervalStart,
      dataIntervalEnd: ctx.dataIntervalEnd,
      runId: ctx.runId,
      dagId: ctx.dagId,
      taskId: ctx.taskId,
      tryNumber: ctx.tryNumber,
      tasks: ctx.tasks,
    });
  } catch (err) {
    throw new TemplateRenderError(`cannot render the pod spec of task ${ctx.taskId}: ${(err as Error).message}`);
  }
}

function podTaskContainer(spec: PodTaskSpec): V1Container {
  return {
    name: TASK_CONTAINER_NAME,
    image: spec.image,
    command: spec.command,
    args: spec.args,
    env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
    resources: spec.resources as V1Container["resources"],
    volumeMounts: spec.volumeMounts as V1Container["volumeMounts"],
    imagePullPolicy: spec.imagePullPolicy,
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

function workerContainer(task: TaskDefinition, ctx: PodTry, s: PodSpecSettings): V1Container {
  const context: TryContext = {
    dagId: ctx.dagId,
    runId: ctx.runId,
    taskId: ctx.taskId,
    tryNumber: ctx.tryNumber,
    logicalDate: ctx.logicalDate,
    dataIntervalStart: ctx.dataIntervalStart,
    dataIntervalEnd: ctx.dataIntervalEnd,
    params: ctx.params,
    tasks: ctx.tasks,
  };
  return {
    name: TASK_CONTAINER_NAME,
    image: s.workerImage,
    env: [
      { name: WORKER_ENV.apiUrl, value: s.workerApiUrl },
      { name: WORKER_ENV.token, value: s.workerToken },
      { name: WORKER_ENV.dagId, value: ctx.dagId },
      { name: WORKER_ENV.dagVersion, value: String(ctx.dagVersion) },
      { name: WORKER_ENV.taskId, value: ctx.taskId },
      { name: WORKER_ENV.taskContext, value: JSON.stringify(context) },
    ],
    resources: task.kind === "function" ? (task.resources as V1Container["resources"]) : undefined,
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

export function buildPod(task: TaskDefinition, ctx: PodTry, s: PodSpecSettings): V1Pod {
  const labels = podLabels(ctx);
  const annotations = podAnnotations(ctx);
  const spec = task.kind === "pod" ? renderSpec(task.pod, ctx) : null;
  const pod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podNameFor(ctx), namespace: s.namespace, labels, annotations },
    spec: {
      restartPolicy: "Never",
      containers: [spec ? podTaskContainer(spec) : workerContainer(task, ctx, s)],
      activeDeadlineSeconds: task.timeoutMs ? Math.max(1, Math.ceil(task.timeoutMs / 1000)) : undefined,
      // Give the task a short while to flush on cancellation; its log is kept either way.
      terminationGracePeriodSeconds: 10,
    },
  };
  if (spec) {
    // The user's labels and annotations come first so that Ferry's own always win.
    Object.assign(pod.metadata!.labels!, spec.labels ?? {}, labels);
    Object.assign(pod.metadata!.annotations!, spec.annotations ?? {}, annotations);
    Object.assign(pod.spec!, {
      volumes: spec.volumes,
      nodeSelector: spec.nodeSelector,
      tolerations: spec.tolerations,
      affinity: spec.affinity,
      serviceAccountName: spec.serviceAccountName,
    });
  }
  return pod;
}
