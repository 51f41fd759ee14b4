// Pod task strings are templates: `{{ params.region }}`, `{{ logicalDate }}`,
// `{{ tasks.count.result.rows }}`. The compiler checks every reference when a DAG is posted
// (templateProblems) so the executor's rendering (renderTemplate / renderPodSpec) only fails on
// values that are missing at run time.

import type { TryContext } from "../lib/pod-contract.ts";

/** What a pod task's templates can see, built by the executor for one try: the try's context. */
export type TemplateScope = TryContext;

export const TEMPLATE_ROOTS = ["params", "logicalDate", "dataIntervalStart", "dataIntervalEnd", "runId", "dagId", "taskId", "tryNumber", "tasks"] as const;

type Segment = { name: string } | { index: string | number };

interface Reference {
  /** The placeholder's text, e.g. "{{ tasks.count.result.rows }}". */
  source: string;
  expression: string;
  segments: Segment[];
}

const PLACEHOLDER = /\{\{([\s\S]*?)\}\}/g;
const NAME = /[A-Za-z0-9_$-]+/y;
const BRACKET = /\[\s*(?:(\d+)|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]/y;

class TemplateSyntaxError extends Error {}

function parseExpression(expression: string): Segment[] {
  const text = expression.trim();
  if (text === "") throw new TemplateSyntaxError("is empty");
  const segments: Segment[] = [];
  let index = 0;
  while (index < text.length) {
    if (segments.length > 0 && text[index] === ".") index++;
    else if (segments.length > 0 && text[index] !== "[") {
      throw new TemplateSyntaxError(`has an unexpected "${text[index]}" at offset ${index}`);
    }
    NAME.lastIndex = index;
    BRACKET.lastIndex = index;
    const name = NAME.exec(text);
    if (name) {
      segments.push({ name: name[0] });
      index = NAME.lastIndex;
      continue;
    }
    const bracket = segments.length > 0 ? BRACKET.exec(text) : null;
    if (!bracket) throw new TemplateSyntaxError(`is not a reference like "params.name" or "tasks.<id>.result"`);
    if (bracket[1] !== undefined) segments.push({ index: Number(bracket[1]) });
    else segments.push({ index: JSON.parse(`"${bracket[2] ?? bracket[3].replace(/"/g, '\\"')}"`) as string });
    index = BRACKET.lastIndex;
  }
  return segments;
}

function parseTemplate(template: string): Reference[] {
  const references: Reference[] = [];
  let rest = "";
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    rest += template.slice(last, match.index);
    last = match.index! + match[0].length;
    references.push({ source: match[0], expression: match[1].trim(), segments: parseExpression(match[1]) });
  }
  rest += template.slice(last);
  if (rest.includes("{{")) throw new TemplateSyntaxError('has a "{{" without a closing "}}"');
  return references;
}

function keyOf(segment: Segment): string | number {
  return "name" in segment ? segment.name : segment.index;
}

/**
 * Splits `tasks.<id>.result...` into the task id and the path inside its result. Task ids may contain
 * dots, so the id is the shortest run of segments, among known ids, that is followed by `result`.
 */
function splitTaskReference(
  segments: Segment[],
  knownIds: ReadonlySet<string>,
): { taskId: string; resultPath: Segment[] } | { error: string } {
  const first = segments[1];
  if (first === undefined) return { error: 'needs a task: "tasks.<id>.result"' };
  if ("index" in first) {
    if (segments[2] && keyOf(segments[2]) === "result") return { taskId: String(first.index), resultPath: segments.slice(3) };
    return { error: `must continue with ".result" after the task id` };
  }
  let fallback: string | undefined;
  for (let end = 2; end < segments.length; end++) {
    const names = segments.slice(1, end);
    if (!names.every((s) => "name" in s) || keyOf(segments[end]) !== "result") continue;
    const taskId = names.map(keyOf).join(".");
    if (knownIds.has(taskId)) return { taskId, resultPath: segments.slice(end + 1) };
    fallback ??= taskId;
  }
  if (fallback !== undefined) return { taskId: fallback, resultPath: [] };
  return { error: 'must name a task and its result: "tasks.<id>.result" (optionally ".result.field")' };
}

/**
 * Problems with the references in one template string: unknown roots, tasks that are not upstream of
 * the task the string belongs to, and syntax errors. Empty when the template is fine.
 */
export function templateProblems(
  template: string,
  allTaskIds: readonly string[] | ReadonlySet<string>,
  upstreamIds: ReadonlySet<string>,
): string[] {
  // A set when the caller has many ids (validate.ts): looked up, not searched.
  const known: ReadonlySet<string> = Array.isArray(allTaskIds) ? new Set(allTaskIds) : (allTaskIds as ReadonlySet<string>);
  let references: Reference[];
  try {
    references = parseTemplate(template);
  } catch (error) {
    if (!(error instanceof TemplateSyntaxError)) throw error;
    return [`template ${JSON.stringify(template)} ${error.message}`];
  }
  const problems: string[] = [];
  for (const ref of references) {
    const root = keyOf(ref.segments[0]);
    if (!(TEMPLATE_ROOTS as readonly unknown[]).includes(root)) {
      problems.push(`${ref.source}: unknown name "${root}"; templates can use ${TEMPLATE_ROOTS.join(", ")}`);
      continue;
    }
    if (root !== "tasks") {
      if (root !== "params" && ref.segments.length > 1) problems.push(`${ref.source}: "${root}" is a plain value, it has no fields`);
      continue;
    }
    const split = splitTaskReference(ref.segments, known);
    if ("error" in split) problems.push(`${ref.source} ${split.error}`);
    else if (!known.has(split.taskId)) problems.push(`${ref.source}: there is no task "${split.taskId}"`);
    else if (!upstreamIds.has(split.taskId)) {
      problems.push(
        `${ref.source}: task "${split.taskId}" is not upstream of this task, so its result is not known when ` +
          `it starts; add it (or a task after it) to dependsOn`,
      );
    }
  }
  return problems;
}

function lookup(value: unknown, path: readonly Segment[], ref: Reference, described: string): unknown {
  let current = value;
  let where = described;
  for (const segment of path) {
    const key = keyOf(segment);
    where += typeof key === "number" ? `[${key}]` : `.${key}`;
    if (typeof current !== "object" || current === null || !Object.prototype.hasOwnProperty.call(current, key)) {
      throw new Error(`template reference ${ref.source} does not resolve: ${where} is undefined`);
    }
    current = (current as Record<string | number, unknown>)[key];
  }
  if (current === undefined) throw new Error(`template reference ${ref.source} does not resolve: ${where} is undefined`);
  return current;
}

function resolve(ref: Reference, scope: TemplateScope): unknown {
  const root = keyOf(ref.segments[0]);
  if (root === "tasks") {
    const split = splitTaskReference(ref.segments, new Set(Object.keys(scope.tasks ?? {})));
    if ("error" in split) throw new Error(`template reference ${ref.source} ${split.error}`);
    const upstream = scope.tasks?.[split.taskId];
    if (upstream === undefined) {
      throw new Error(`template reference ${ref.source} does not resolve: no result of task "${split.taskId}"`);
    }
    return lookup(upstream.result, split.resultPath, ref, `tasks.${split.taskId}.result`);
  }
  if (!(TEMPLATE_ROOTS as readonly unknown[]).includes(root)) {
    throw new Error(`template reference ${ref.source} does not resolve: unknown name "${root}"`);
  }
  return lookup((scope as unknown as Record<string, unknown>)[root], ref.segments.slice(1), ref, String(root));
}

function display(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || typeof value !== "object") return String(value);
  return JSON.stringify(value);
}

/**
 * Replaces every `{{ reference }}` in `template`. Strings are inserted as they are, objects and
 * arrays as JSON. Throws an error naming the reference when it does not resolve.
 */
export function renderTemplate(template: string, scope: TemplateScope): string {
  let references: Reference[];
  try {
    references = parseTemplate(template);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new Error(`template ${JSON.stringify(template)} ${error.message}`);
    throw error;
  }
  if (references.length === 0) return template;
  let index = 0;
  return template.replace(PLACEHOLDER, () => display(resolve(references[index++], scope)));
}

/** Renders every string in a pod spec (or any JSON value), leaving keys and non-strings as they are. */
export function renderPodSpec<T>(spec: T, scope: TemplateScope): T {
  const render = (value: unknown): unknown => {
    if (typeof value === "string") return renderTemplate(value, scope);
    if (Array.isArray(value)) return value.map(render);
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, render(item)]));
    }
    return value;
  };
  return render(spec) as T;
}

/** Every string leaf of a JSON value with its path, for checking templates across a pod spec. */
export function stringLeaves(value: unknown, path: string, out: { path: string; text: string }[] = []): { path: string; text: string }[] {
  if (typeof value === "string") out.push({ path, text: value });
  else if (Array.isArray(value)) value.forEach((item, i) => stringLeaves(item, `${path}[${i}]`, out));
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      stringLeaves(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, out);
    }
  }
  return out;
}
