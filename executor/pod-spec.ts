// Turns one task try into one Pod, layer over layer (README.md, "Pod spec"): Ferry's safe defaults,
// then the global pod template, then the task's Pod fields (the DAG's podDefaults already merged under
// them when the DAG was compiled), then Ferry's own fields, which always win. Function tasks run
// Ferry's worker image, which gets the DAG version's bundle (inline, or from the API: worker-bundle.ts)
// and runs the one function; pod tasks run the user's image as given. Every string of a task's Pod fields is rendered as a template first.
// The names both sides rely on (env, container, termination message) are the Pod contract's, in
// lib/pod-contract.ts.
import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import type { EnvValue, ExtraContainer, PodDefaults, PodTaskSpec, TaskDefinition } from "../sdk/definition.ts";
import { renderPodSpec } from "../dagfile/templates.ts";
import { mergePodLayers } from "../dagfile/pod-layers.ts";
import { TASK_CONTAINER_NAME, TERMINATION_MESSAGE_PATH, WORKER_ENV, type TryContext } from "../lib/pod-contract.ts";
import { podAnnotations, podLabels, podNameFor } from "./pod-names.ts";
import type { PodTemplate } from "./pod-template.ts";
import type { WorkerBundle } from "./worker-bundle.ts";

/** One try as its Pod needs it: its context, and the DAG version whose bundle the worker runs. */
export interface PodTry extends TryContext {
  dagVersion: number;
}

export interface PodSpecSettings {
  namespace: string;
  workerImage: string;
  /** How a function task's worker gets its bundle; needed only for function tasks. */
  workerBundle?: WorkerBundle;
  /** The global pod template (FERRY_POD_TEMPLATE), under every Pod; null for none. */
  template?: PodTemplate | null;
}

export class TemplateRenderError extends Error {
  override name = "TemplateRenderError";
}

type Obj = Record<string, unknown>;
/** A task's Pod fields as stored: a pod task's spec, or a function task's (no image, command or args). */
type TaskFields = PodDefaults;

/** Every string of a task's Pod fields is a template over the try's context. */
function renderFields(fields: TaskFields, ctx: PodTry): TaskFields {
  try {
    return renderPodSpec(fields, {
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

function envList(env: Record<string, EnvValue> | undefined): V1EnvVar[] | undefined {
  if (!env) return undefined;
  return Object.entries(env).map(([name, value]) => (typeof value === "string" ? { name, value } : { name, valueFrom: value.valueFrom as V1EnvVar["valueFrom"] }));
}

/** The fields a container may have from a task, in Kubernetes' shape (unset ones left out). */
function containerFields(c: Omit<ExtraContainer, "name" | "image"> & { image?: string }): Obj {
  const out: Obj = {
    image: c.image,
    command: c.command,
    args: c.args,
    workingDir: c.workingDir,
    env: envList(c.env),
    envFrom: c.envFrom,
    resources: c.resources,
    volumeMounts: c.volumeMounts,
    securityContext: c.securityContext,
    imagePullPolicy: c.imagePullPolicy,
  };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

/** A task's Pod fields as a Pod in Kubernetes' shape: the layer that goes over the template. */
function taskLayer(f: TaskFields): V1Pod {
  const spec: Obj = {
    containers: [{ name: TASK_CONTAINER_NAME, ...containerFields(f) }],
    volumes: f.volumes,
    nodeSelector: f.nodeSelector,
    tolerations: f.tolerations,
    affinity: f.affinity,
    serviceAccountName: f.serviceAccountName,
    automountServiceAccountToken: f.automountServiceAccountToken,
    imagePullSecrets: f.imagePullSecrets?.map((name) => ({ name })),
    securityContext: f.podSecurityContext,
    priorityClassName: f.priorityClassName,
    runtimeClassName: f.runtimeClassName,
    hostAliases: f.hostAliases,
  };
  // Init containers in order, then sidecars: Kubernetes' native sidecars are init containers that
  // keep running (restartPolicy Always) and are stopped once the task's container has ended.
  const init = [
    ...(f.initContainers ?? []).map((c) => ({ name: c.name, ...containerFields(c) })),
    ...(f.sidecars ?? []).map((c) => ({ name: c.name, ...containerFields(c), restartPolicy: "Always" })),
  ];
  if (init.length > 0) spec.initContainers = init;
  for (const key of Object.keys(spec)) if (spec[key] === undefined) delete spec[key];
  return { metadata: { labels: f.labels, annotations: f.annotations }, spec: spec as unknown as V1Pod["spec"] };
}

/** The worker's environment: the Pod contract. */
function workerEnv(ctx: PodTry, s: PodSpecSettings): V1EnvVar[] {
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
  const bundle = s.workerBundle;
  if (!bundle) throw new Error(`task ${ctx.taskId} is a function task: its Pod needs a way to get its bundle`);
  return [
    ...("inline" in bundle
      ? [{ name: WORKER_ENV.bundle, value: bundle.inline }]
      : [
          { name: WORKER_ENV.apiUrl, value: bundle.apiUrl },
          { name: WORKER_ENV.token, value: bundle.token },
        ]),
    { name: WORKER_ENV.dagId, value: ctx.dagId },
    { name: WORKER_ENV.dagVersion, value: String(ctx.dagVersion) },
    { name: WORKER_ENV.taskId, value: ctx.taskId },
    { name: WORKER_ENV.taskContext, value: JSON.stringify(context) },
  ];
}

/** What Ferry owns in every Pod: laid over everything else. */
function ferryLayer(task: TaskDefinition, ctx: PodTry, s: PodSpecSettings): V1Pod {
  const main: V1Container = {
    name: TASK_CONTAINER_NAME,
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  if (task.kind === "function") Object.assign(main, { image: s.workerImage, env: workerEnv(ctx, s) });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podNameFor(ctx), namespace: s.namespace, labels: podLabels(ctx), annotations: podAnnotations(ctx) },
    spec: {
      restartPolicy: "Never",
      containers: [main],
      activeDeadlineSeconds: task.timeoutMs ? Math.max(1, Math.ceil(task.timeoutMs / 1000)) : undefined,
    },
  };
}

/** Capabilities Kubernetes refuses to grant with allowPrivilegeEscalation false. */
const ESCALATING = new Set(["SYS_ADMIN", "CAP_SYS_ADMIN"]);

/**
 * Ferry's safe defaults, under every layer (each applies only where no layer set the field): the Pod
 * runs as non-root with the runtime's default seccomp profile, each container without privilege
 * escalation and with every capability dropped, and no service account token unless the Pod names a
 * service account. A container asking for runAsUser 0 itself is allowed to run as root.
 */
function applySafeDefaults(pod: V1Pod): void {
  const spec = pod.spec!;
  const podSc = (spec.securityContext ??= {});
  podSc.seccompProfile ??= { type: "RuntimeDefault" };
  const nonRootDefaulted = podSc.runAsNonRoot === undefined && podSc.runAsUser !== 0;
  if (nonRootDefaulted) podSc.runAsNonRoot = true;
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = (c.securityContext ??= {});
    const adds = sc.capabilities?.add ?? [];
    if (sc.allowPrivilegeEscalation === undefined && sc.privileged !== true && !adds.some((a) => ESCALATING.has(a))) sc.allowPrivilegeEscalation = false;
    if (sc.capabilities?.drop === undefined) sc.capabilities = { ...sc.capabilities, drop: ["ALL"] };
    if (nonRootDefaulted && sc.runAsUser === 0 && sc.runAsNonRoot === undefined) sc.runAsNonRoot = false;
  }
  if (spec.automountServiceAccountToken === undefined && !spec.serviceAccountName) spec.automountServiceAccountToken = false;
}

/** The task's own Pod fields as stored (a function task's resources were kept apart before there were others). */
function taskFields(task: TaskDefinition): TaskFields {
  if (task.kind === "pod") return task.pod as PodTaskSpec;
  return { ...task.pod, ...(task.resources ? { resources: task.resources } : {}) };
}

export function buildPod(task: TaskDefinition, ctx: PodTry, s: PodSpecSettings): V1Pod {
  const fields = renderFields(taskFields(task), ctx);
  // Give the task a short while to flush on cancellation; its log is kept either way.
  const base: V1Pod = { metadata: {}, spec: { containers: [{ name: TASK_CONTAINER_NAME }], terminationGracePeriodSeconds: 10 } };
  const template: V1Pod = s.template ? { metadata: structuredClone(s.template.metadata), spec: structuredClone(s.template.spec) as unknown as V1Pod["spec"] } : {};
  let pod = mergePodLayers(base, template);
  pod = mergePodLayers(pod, taskLayer(fields));
  pod = mergePodLayers(pod, ferryLayer(task, ctx, s));
  // The worker runs its image's entrypoint: a command or args from the template would replace it.
  if (task.kind === "function") {
    delete pod.spec!.containers[0]!.command;
    delete pod.spec!.containers[0]!.args;
  }
  applySafeDefaults(pod);
  return pod;
}
