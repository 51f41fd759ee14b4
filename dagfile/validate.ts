// Turns what the sandbox reported (a RawDag: the DAG as declared, untrusted JSON) into a checked
// DagDefinition, or into the full list of problems so the author can fix them in one go.
import {
  OVERLAP_POLICIES,
  type CompiledTaskOptions,
  type DagDefinition,
  type OverlapPolicy,
  type PodDefaults,
  type TaskDefinition,
} from "../sdk/definition.ts";
import {
  checkJson,
  checkKnownKeys,
  checkStringArray,
  describe,
  didYouMean,
  isPlainObject,
  joinPath,
  Problems,
} from "./check.ts";
import { topologicalOrder, transitiveUpstreams } from "./graph.ts";
import { isValidTimezone, parseStart, scheduleProblem } from "./schedule.ts";
import { stringLeaves, templateProblems } from "./templates.ts";
import type { DagProblem, SourcePosition } from "./types.ts";
import { checkPodFields, FUNCTION_POD_KEYS, POD_SPEC_KEYS } from "./pod-fields.ts";
import { mergePodLayers } from "./pod-layers.ts";
import { checkTaskOptionValues, FUNCTION_TASK_KEYS, POD_TASK_KEYS, TASK_DEFAULT_KEYS, type PartialTaskOptions } from "./task-options.ts";

export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;
const ID_RULE = "1-200 characters: letters, digits, _ . - (not starting with . or -)";

const DAG_OPTION_KEYS = [
  "schedule",
  "timezone",
  "start",
  "end",
  "catchup",
  "overlap",
  "maxActiveRuns",
  "maxActiveTasks",
  "podDeletion",
  "params",
  "defaults",
  "podDefaults",
  "description",
  "tags",
] as const;

export const BUILT_IN_TASK_DEFAULTS: Omit<CompiledTaskOptions, "dependsOn"> = {
  retries: 0,
  infraRetries: 3,
  retryDelayMs: 30_000,
  retryBackoff: "fixed",
  timeoutMs: null,
  triggerRule: "all_success",
  pool: "default",
  priority: 0,
};

/** Maps a call-site stack captured by the SDK to a position in the DAG file. */
export type Locate = (site: unknown) => SourcePosition | undefined;

export type ValidationResult = { ok: true; definition: DagDefinition } | { ok: false; problems: DagProblem[] };

type DagLevel = Omit<DagDefinition, "dagId" | "tasks"> & { defaults: PartialTaskOptions };

function checkDagOptions(problems: Problems, options: unknown, at?: SourcePosition): DagLevel {
  const out: DagLevel = {
    schedule: null,
    timezone: "UTC",
    start: null,
    catchup: false,
    maxActiveRuns: 16,
    params: {},
    description: null,
    tags: [],
    defaults: {},
  };
  if (options === undefined) return out;
  if (!isPlainObject(options) || "$unsupported" in options) {
    problems.add("options", `dag()'s second argument must be an options object, got ${describe(options)}`, at);
    return out;
  }
  for (const key of Object.keys(options)) {
    if ((DAG_OPTION_KEYS as readonly string[]).includes(key)) continue;
    // Task options written at the DAG level are a common slip: point at `defaults`.
    const hint =
      didYouMean(key, DAG_OPTION_KEYS) ||
      didYouMean(key, TASK_DEFAULT_KEYS).replace(/"(\w+)"\?$/, 'defaults: { $1: ... }? Task options for every task go in defaults.');
    problems.add(joinPath("", key), `unknown dag option "${key}".${hint}`, at);
  }
  const { schedule, timezone, start, end, catchup, overlap, maxActiveRuns, maxActiveTasks, podDeletion, params, defaults, podDefaults, description, tags } = options;

  let zoneOk = true;
  if (timezone !== undefined) {
    if (typeof timezone === "string" && isValidTimezone(timezone)) out.timezone = timezone;
    else {
      zoneOk = false;
      problems.add("timezone", `${describe(timezone)} is not an IANA time zone, e.g. "UTC", "Europe/Berlin", "Asia/Seoul"`, at);
    }
  }
  if (schedule !== undefined && schedule !== null) {
    if (typeof schedule !== "string") {
      problems.add("schedule", `must be a cron expression, a preset like "@daily", or null; got ${describe(schedule)}`, at);
    } else {
      const problem = scheduleProblem(schedule, zoneOk ? out.timezone : "UTC");
      if (problem) problems.add("schedule", problem, at);
      else out.schedule = schedule.trim();
    }
  }
  if (start !== undefined && start !== null) {
    const parsed = typeof start === "string" ? parseStart(start, zoneOk ? out.timezone : "UTC") : undefined;
    if (parsed?.ok) out.start = parsed.iso;
    else problems.add("start", parsed ? parsed.message : `must be an ISO-8601 date string, got ${describe(start)}`, at);
  }
  if (end !== undefined && end !== null) {
    const parsed = typeof end === "string" ? parseStart(end, zoneOk ? out.timezone : "UTC") : undefined;
    if (!parsed?.ok) problems.add("end", parsed ? parsed.message : `must be an ISO-8601 date string, got ${describe(end)}`, at);
    else if (out.start !== null && parsed.iso < out.start) problems.add("end", `${JSON.stringify(end)} is before start (${out.start}); end must not be before start`, at);
    else out.end = parsed.iso;
  }
  if (overlap !== undefined) {
    if ((OVERLAP_POLICIES as readonly unknown[]).includes(overlap)) out.overlap = overlap as OverlapPolicy;
    else problems.add("overlap", `must be one of ${OVERLAP_POLICIES.map((p) => JSON.stringify(p)).join(", ")}, got ${describe(overlap)}`, at);
  }
  if (catchup !== undefined) {
    if (typeof catchup === "boolean") out.catchup = catchup;
    else problems.add("catchup", `must be true or false, got ${describe(catchup)}`, at);
  }
  if (maxActiveRuns !== undefined) {
    if (typeof maxActiveRuns === "number" && Number.isInteger(maxActiveRuns) && maxActiveRuns >= 1) out.maxActiveRuns = maxActiveRuns;
    else problems.add("maxActiveRuns", `must be an integer of at least 1, got ${describe(maxActiveRuns)}`, at);
  }
  if (maxActiveTasks !== undefined) {
    if (typeof maxActiveTasks === "number" && Number.isInteger(maxActiveTasks) && maxActiveTasks >= 1) out.maxActiveTasks = maxActiveTasks;
    else problems.add("maxActiveTasks", `must be an integer of at least 1, got ${describe(maxActiveTasks)}`, at);
  }
  if (podDeletion !== undefined) {
    if (podDeletion === "always" || podDeletion === "keepFailed") out.podDeletion = podDeletion;
    else problems.add("podDeletion", `must be "always" or "keepFailed", got ${describe(podDeletion)}`, at);
  }
  if (params !== undefined) {
    if (!isPlainObject(params) || "$unsupported" in params) problems.add("params", `must be an object, got ${describe(params)}`, at);
    else if (checkJson(problems, "params", params, at)) out.params = params;
  }
  if (defaults !== undefined) {
    if (!isPlainObject(defaults) || "$unsupported" in defaults) {
      problems.add("defaults", `must be an object of task options, got ${describe(defaults)}`, at);
    } else {
      for (const key of Object.keys(defaults)) {
        if (key === "dependsOn") problems.add("defaults.dependsOn", "cannot be a default; set dependsOn on each task", at);
        else if (!(TASK_DEFAULT_KEYS as readonly string[]).includes(key)) {
          problems.add(joinPath("defaults", key), `unknown task option "${key}".${didYouMean(key, TASK_DEFAULT_KEYS)}`, at);
        }
      }
      out.defaults = checkTaskOptionValues(problems, "defaults", defaults, at);
    }
  }
  if (podDefaults !== undefined) {
    if (!isPlainObject(podDefaults) || "$unsupported" in podDefaults) {
      problems.add("podDefaults", `must be an object of Pod fields (the ones a pod task takes, e.g. { nodeSelector: {...}, env: {...} }), got ${describe(podDefaults)}`, at);
    } else {
      checkKnownKeys(problems, "podDefaults", podDefaults, POD_SPEC_KEYS, "Pod field", at);
      out.podDefaults = checkPodFields(problems, "podDefaults", podDefaults, POD_SPEC_KEYS, at) as PodDefaults;
    }
  }
  if (description !== undefined && description !== null) {
    if (typeof description === "string") out.description = description;
    else problems.add("description", `must be a string, got ${describe(description)}`, at);
  }
  if (tags !== undefined) out.tags = checkStringArray(problems, "tags", tags, at) ?? [];
  return out;
}

interface TaskDraft {
  taskId: string;
  kind: "function" | "pod";
  path: string;
  at?: SourcePosition;
  raw: Record<string, unknown>;
  dependsOnRaw: unknown;
  options: PartialTaskOptions;
  /** Its Pod fields as checked (without the DAG's podDefaults). */
  fields: Record<string, unknown>;
}

function checkTask(problems: Problems, entry: unknown, index: number, seen: Map<string, TaskDraft>, locate: Locate): TaskDraft | undefined {
  if (!isPlainObject(entry) || (entry.kind !== "function" && entry.kind !== "pod")) {
    problems.add(`tasks[${index}]`, "is not a task", undefined);
    return undefined;
  }
  const kind = entry.kind;
  const at = locate(entry.site);
  const call = kind === "function" ? "task" : "podTask";
  const taskId = entry.taskId;
  let path = `tasks[${index}]`;
  let usableId = false;
  if (typeof taskId !== "string") problems.add(path, `${call}() needs a task id string as its first argument, got ${describe(taskId)}`, at);
  else if (!ID_PATTERN.test(taskId)) problems.add(path, `task id ${JSON.stringify(taskId)} is not valid: ${ID_RULE}`, at);
  else if (seen.has(taskId)) {
    const first = seen.get(taskId)!.at;
    problems.add(joinPath("tasks", taskId), `duplicate task id "${taskId}"${first ? ` (first defined on line ${first.line})` : ""}; task ids must be unique in a DAG`, at);
  } else {
    path = joinPath("tasks", taskId);
    usableId = true;
  }
  if (kind === "function" && entry.hasFunction !== true) {
    problems.add(path, `task(${JSON.stringify(taskId)}) needs a function as its second argument: task(id, async (ctx) => { ... }, options)`, at);
  }
  let raw: Record<string, unknown> = {};
  if (isPlainObject(entry.options) && !("$unsupported" in entry.options)) raw = entry.options;
  else if (entry.options !== undefined && (kind === "pod" || entry.hasFunction === true)) {
    const shape = kind === "pod" ? 'a spec object: podTask(id, { image: "...", ... })' : "an options object";
    problems.add(path, `${call}(${JSON.stringify(taskId)}) options must be ${shape}, got ${describe(entry.options)}`, at);
  }
  checkKnownKeys(problems, path, raw, kind === "pod" ? POD_TASK_KEYS : FUNCTION_TASK_KEYS, kind === "pod" ? "pod task field" : "task option", at);
  const options = checkTaskOptionValues(problems, path, raw, at);
  const fields = checkPodFields(problems, path, raw, kind === "pod" ? POD_SPEC_KEYS : FUNCTION_POD_KEYS, at);
  const draft: TaskDraft = { taskId: String(taskId), kind, path, at, raw, dependsOnRaw: raw.dependsOn, options, fields };
  if (usableId) seen.set(taskId as string, draft);
  return usableId ? draft : undefined;
}

function checkDependsOn(problems: Problems, task: TaskDraft, ids: readonly string[], known: ReadonlySet<string>): string[] {
  const path = joinPath(task.path, "dependsOn");
  if (task.dependsOnRaw === undefined) return [];
  if (!Array.isArray(task.dependsOnRaw)) {
    problems.add(path, `must be an array of tasks (handles from task()/podTask() or task ids), got ${describe(task.dependsOnRaw)}`, task.at);
    return [];
  }
  const out: string[] = [];
  const listed = new Set<string>();
  task.dependsOnRaw.forEach((item, i) => {
    const itemPath = joinPath(path, i);
    if (typeof item !== "string") problems.add(itemPath, `must be a task (its handle or id), got ${describe(item)}`, task.at);
    else if (item === task.taskId) problems.add(itemPath, `task "${item}" cannot depend on itself`, task.at);
    else if (!known.has(item)) problems.add(itemPath, `there is no task "${item}" in this DAG.${didYouMean(item, ids)}`, task.at);
    else if (!listed.has(item)) {
      listed.add(item);
      out.push(item);
    }
  });
  return out;
}

function checkTemplates(problems: Problems, path: string, fields: Record<string, unknown>, ids: ReadonlySet<string>, upstream: ReadonlySet<string>, at?: SourcePosition): void {
  for (const key of POD_SPEC_KEYS) {
    for (const leaf of stringLeaves(fields[key], joinPath(path, key))) {
      for (const message of templateProblems(leaf.text, ids, upstream)) problems.add(leaf.path, message, at);
    }
  }
}

/**
 * A task's Pod fields: the DAG's podDefaults with the task's own merged over them (README.md, "Pod
 * spec"). A function task takes neither image, command nor args from them: its container is the worker's.
 */
function taskPodFields(problems: Problems, draft: TaskDraft, podDefaults: PodDefaults | undefined): Partial<TaskDefinition> {
  if (draft.kind === "pod") {
    const pod = mergePodLayers<Record<string, unknown>>({ ...podDefaults }, draft.fields);
    if (pod.image === undefined && draft.raw.image === undefined) {
      problems.add(joinPath(draft.path, "image"), 'is required: the container image to run, e.g. "alpine:3.20" (or set podDefaults.image on the DAG)', draft.at);
    }
    return { kind: "pod", pod: pod as never };
  }
  const { image: _image, command: _command, args: _args, ...shared } = podDefaults ?? {};
  const { resources, ...pod } = mergePodLayers<Record<string, unknown>>(shared, draft.fields);
  return { kind: "function", ...(resources ? { resources } : {}), ...(Object.keys(pod).length > 0 ? { pod } : {}) } as Partial<TaskDefinition>;
}

export interface ValidationRules {
  /** Namespaces a task may run in (the server's task namespace and FERRY_ALLOWED_NAMESPACES); absent: any. */
  allowedNamespaces?: readonly string[];
}

export function validateDag(raw: unknown, locate: Locate, rules: ValidationRules = {}): ValidationResult {
  const problems = new Problems();
  if (!isPlainObject(raw) || !Array.isArray(raw.tasks)) return { ok: false, problems: [{ path: "", message: "the sandbox returned no DAG" }] };
  const dagAt = locate(raw.site);
  const dagId = raw.dagId;
  if (typeof dagId !== "string") problems.add("dagId", `dag() needs a DAG id string as its first argument, got ${describe(dagId)}`, dagAt);
  else if (!ID_PATTERN.test(dagId)) problems.add("dagId", `DAG id ${JSON.stringify(dagId)} is not valid: ${ID_RULE}`, dagAt);
  const dagLevel = checkDagOptions(problems, raw.options, dagAt);

  const seen = new Map<string, TaskDraft>();
  const drafts = raw.tasks.map((entry, i) => checkTask(problems, entry, i, seen, locate)).filter((d): d is TaskDraft => d !== undefined);
  if (raw.tasks.length === 0) problems.add("tasks", "a DAG needs at least one task: call task() or podTask() inside the dag() body", dagAt);
  const ids = drafts.map((d) => d.taskId);
  // Looked up by id, never searched: a DAG may have ten thousand tasks.
  const known: ReadonlySet<string> = new Set(ids);
  const upstreams = new Map(drafts.map((d) => [d.taskId, checkDependsOn(problems, d, ids, known)]));

  const sorted = topologicalOrder(ids, upstreams);
  if (!sorted.ok) {
    const first = seen.get(sorted.cycle[0])!;
    problems.add(
      joinPath(first.path, "dependsOn"),
      `dependency cycle: ${sorted.cycle.join(" -> ")}; a task cannot (even indirectly) depend on itself, remove one of these dependencies`,
      first.at,
    );
  }
  // With a cycle there is no order; check templates against declared upstreams only.
  const order = sorted.ok ? sorted.order : ids;
  const allUpstream = sorted.ok ? transitiveUpstreams(order, upstreams) : new Map(ids.map((id) => [id, new Set(upstreams.get(id))]));
  for (const draft of drafts) checkTemplates(problems, draft.path, draft.raw, known, allUpstream.get(draft.taskId)!, draft.at);
  // The DAG's podDefaults are under every task: they can name no upstream task's result.
  if (dagLevel.podDefaults) {
    for (const leaf of stringLeaves(dagLevel.podDefaults, "podDefaults")) {
      if (/\{\{\s*tasks\b/.test(leaf.text)) {
        problems.add(leaf.path, `${JSON.stringify(leaf.text)} refers to a task's result, which podDefaults (under every task) cannot: set it on the tasks downstream of that task`, dagAt);
      } else for (const message of templateProblems(leaf.text, known, new Set())) problems.add(leaf.path, message, dagAt);
    }
  }
  const podFields = new Map(drafts.map((d) => [d.taskId, taskPodFields(problems, d, dagLevel.podDefaults)]));
  if (rules.allowedNamespaces) checkNamespaces(problems, rules.allowedNamespaces, dagLevel.defaults.namespace, drafts, dagAt);

  if (problems.list.length > 0) return { ok: false, problems: problems.list };

  const { defaults, ...dagFields } = dagLevel;
  const tasks = order.map((id) => {
    const draft = seen.get(id)!;
    const options = { ...BUILT_IN_TASK_DEFAULTS, ...defined(defaults), ...defined(draft.options) };
    return { taskId: id, ...podFields.get(id), dependsOn: upstreams.get(id)!, ...options } as TaskDefinition;
  });
  return { ok: true, definition: { dagId: dagId as string, ...dagFields, tasks } };
}

/** A DAG may not send its tasks to a namespace the operator did not allow (where it could reach others' Secrets). */
function checkNamespaces(problems: Problems, allowed: readonly string[], dagDefault: string | undefined, drafts: TaskDraft[], dagAt?: SourcePosition): void {
  const refuse = (path: string, ns: string, at?: SourcePosition) =>
    problems.add(path, `namespace "${ns}" is not allowed here: tasks may run in ${allowed.map((a) => `"${a}"`).join(", ")} (the task namespace and FERRY_ALLOWED_NAMESPACES)`, at);
  if (dagDefault !== undefined && !allowed.includes(dagDefault)) refuse("defaults.namespace", dagDefault, dagAt);
  for (const d of drafts) {
    if (d.options.namespace !== undefined && !allowed.includes(d.options.namespace)) refuse(joinPath(d.path, "namespace"), d.options.namespace, d.at);
  }
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
