// Turns one task try into one Pod. Function tasks run Ferry's worker image, which fetches the DAG
// version's bundle and runs the one function; pod tasks run the user's image as given, with every
// string rendered as a template first.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { PodTaskSpec, TaskDefinition } from "../sdk/definition.ts";
import { renderPodSpec } from "../dagfile/templates.ts";
import { podAnnotations, podLabels, podNameFor, type TryIdentity } from "./pod-names.ts";

export const CONTAINER_NAME = "task";

export interface TaskContext extends TryIdentity {
  dagVersion: number;
  logicalDate: string;
  params: Record<string, unknown>;
  /** Results of finished upstream tasks. */
  tasks: Record<string, { result: unknown }>;
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
function renderSpec(spec: PodTaskSpec, ctx: TaskContext): PodTaskSpec {
  try {
    return renderPodSpec(spec, {
      params: ctx.params,
      logicalDate: ctx.logicalDate,
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
    name: CONTAINER_NAME,
    image: spec.image,
    command: spec.command,
    args: spec.args,
    env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
    resources: spec.resources as V1Container["resources"],
    volumeMounts: spec.volumeMounts as V1Container["volumeMounts"],
    imagePullPolicy: spec.imagePullPolicy,
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

function workerContainer(task: TaskDefinition, ctx: TaskContext, s: PodSpecSettings): V1Container {
  const context = {
    dagId: ctx.dagId,
    runId: ctx.runId,
    taskId: ctx.taskId,
    tryNumber: ctx.tryNumber,
    logicalDate: ctx.logicalDate,
    params: ctx.params,
    tasks: ctx.tasks,
  };
  return {
    name: CONTAINER_NAME,
    image: s.workerImage,
    env: [
      { name: "FERRY_API_URL", value: s.workerApiUrl },
      { name: "FERRY_WORKER_TOKEN", value: s.workerToken },
      { name: "FERRY_DAG_ID", value: ctx.dagId },
      { name: "FERRY_DAG_VERSION", value: String(ctx.dagVersion) },
      { name: "FERRY_TASK_ID", value: ctx.taskId },
      { name: "FERRY_TASK_CONTEXT", value: JSON.stringify(context) },
    ],
    resources: task.kind === "function" ? (task.resources as V1Container["resources"]) : undefined,
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

export function buildPod(task: TaskDefinition, ctx: TaskContext, s: PodSpecSettings): V1Pod {
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
