// The SDK runtime. It is bundled into the DAG-file sandbox (QuickJS) and loaded by the worker, so it
// must stay dependency-free and plain ES2020. It only records what the DAG file declares: checking
// it is the compiler's job (dagfile/validate.ts), which can then report every problem at
// once instead of stopping at the first throw.
import type {
  Dag,
  DagOptions,
  FunctionTaskOptions,
  PodTaskOptions,
  TaskFunction,
  TaskHandle,
} from "./types.ts";

export interface RegisteredTask {
  kind: "function" | "pod";
  taskId: unknown;
  fn: unknown;
  options: unknown;
  handle: TaskHandle;
  /** Stack at the task() call, so the compiler can point problems at the right source line. */
  site: string | undefined;
}

class TaskHandleImpl implements TaskHandle {
  constructor(
    readonly taskId: string,
    readonly kind: "function" | "pod",
    readonly owner: DagImpl,
  ) {
    Object.freeze(this);
  }
  toString(): string {
    return this.taskId;
  }
}

export class DagImpl implements Dag {
  readonly tasks: RegisteredTask[] = [];
  constructor(
    readonly dagId: string,
    readonly options: unknown,
    readonly site: string | undefined,
  ) {}
  get taskIds(): string[] {
    return this.tasks.map((t) => String(t.taskId));
  }
}

// The DAG whose body is running; task() and podTask() register into it.
let current: DagImpl | null = null;

function callSite(): string | undefined {
  try {
    return new Error().stack;
  } catch {
    return undefined;
  }
}

function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/**
 * Defines a DAG. `body` runs immediately; the `task()` and `podTask()` calls inside it make up the
 * DAG. A DAG file must `export default` the result.
 */
export function dag(dagId: string, options: DagOptions, body: () => void): Dag {
  if (current !== null) {
    throw new Error(
      `dag(${JSON.stringify(dagId)}) was called inside the body of dag(${JSON.stringify(current.dagId)}); ` +
        "define DAGs one after another, not inside each other.",
    );
  }
  if (typeof body !== "function") {
    throw new TypeError(
      `dag(${JSON.stringify(dagId)}) needs a body function as its third argument: ` +
        "dag(id, { ...options }, () => { task(...); podTask(...); })",
    );
  }
  const defined = new DagImpl(dagId, options, callSite());
  current = defined;
  try {
    const returned: unknown = body();
    if (isThenable(returned)) {
      throw new Error(
        `the body of dag(${JSON.stringify(dagId)}) returned a Promise: define tasks synchronously ` +
          "(remove async from the body; task functions themselves may be async).",
      );
    }
  } finally {
    current = null;
  }
  return defined;
}

function register(kind: "function" | "pod", taskId: string, fn: unknown, options: unknown): TaskHandle {
  const caller = kind === "function" ? "task" : "podTask";
  if (current === null) {
    throw new Error(
      `${caller}(${JSON.stringify(taskId)}) was called outside a dag() body. Call task() and podTask() ` +
        "inside the function passed to dag(id, options, () => { ... }).",
    );
  }
  const handle = new TaskHandleImpl(String(taskId), kind, current);
  current.tasks.push({ kind, taskId, fn, options, handle, site: callSite() });
  return handle;
}

/**
 * Defines a function task: `fn` runs in its own Pod (Ferry's worker image) and its JSON-serialisable
 * return value (at most 4 KiB) becomes the task's result, readable downstream as
 * `ctx.tasks.<id>.result` or `{{ tasks.<id>.result }}`.
 */
export function task<R>(taskId: string, fn: TaskFunction<R>, options?: FunctionTaskOptions): TaskHandle<Awaited<R>> {
  return register("function", taskId, fn, options ?? {}) as TaskHandle<Awaited<R>>;
}

/** Defines a pod task: a Pod from your own image, one per try. */
export function podTask(taskId: string, spec: PodTaskOptions): TaskHandle<unknown> {
  return register("pod", taskId, undefined, spec);
}

export function isDag(value: unknown): value is DagImpl {
  return value instanceof DagImpl;
}

function asImpl(d: Dag): DagImpl {
  if (!(d instanceof DagImpl)) throw new TypeError("not a DAG made by dag()");
  return d;
}

export function findTask(d: Dag, taskId: string): RegisteredTask | undefined {
  return asImpl(d).tasks.find((t) => t.taskId === taskId);
}

/** Marks a value JSON cannot carry, so the validator can say what was found instead. */
export interface Unsupported {
  $unsupported: string;
}

// Deep-copies options into plain JSON, replacing task handles by their ids and anything JSON would
// silently drop or mangle by an Unsupported marker.
function toPlain(value: unknown, owner: DagImpl, seen: unknown[]): unknown {
  if (value instanceof TaskHandleImpl) {
    return value.owner === owner ? value.taskId : { $unsupported: `task "${value.taskId}" of another dag()` };
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : { $unsupported: String(value) };
    case "undefined":
      return undefined;
    case "function":
      return { $unsupported: "a function" };
    case "bigint":
    case "symbol":
      return { $unsupported: `a ${typeof value}` };
  }
  if (value === null) return null;
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? { $unsupported: "an invalid Date" } : value.toISOString();
  }
  if (seen.includes(value)) return { $unsupported: "a circular reference" };
  seen.push(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item) => {
        const plain = toPlain(item, owner, seen);
        return plain === undefined ? null : plain;
      });
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object)) {
      const plain = toPlain((value as Record<string, unknown>)[key], owner, seen);
      if (plain !== undefined) out[key] = plain;
    }
    return out;
  } finally {
    seen.pop();
  }
}

/** The JSON the sandbox hands to the compiler: the DAG as declared, unchecked. */
export interface RawDag {
  dagId: unknown;
  options: unknown;
  site?: string;
  tasks: {
    kind: "function" | "pod";
    taskId: unknown;
    hasFunction: boolean;
    options: unknown;
    site?: string;
  }[];
}

export function describeDag(dagToDescribe: Dag): RawDag {
  const d = asImpl(dagToDescribe);
  return {
    dagId: toPlain(d.dagId, d, []),
    options: toPlain(d.options, d, []),
    site: d.site,
    tasks: d.tasks.map((t) => ({
      kind: t.kind,
      taskId: toPlain(t.taskId, d, []),
      hasFunction: typeof t.fn === "function",
      options: toPlain(t.options, d, []),
      site: t.site,
    })),
  };
}
