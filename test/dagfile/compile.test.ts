import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import type { DagDefinition } from "../../sdk/definition.ts";
import { compileDagFile, type DagFileError } from "../../dagfile/index.ts";

const fixture = new URL("../fixtures/dags/nightly_report.ts", import.meta.url);

async function compileError(source: string): Promise<DagFileError> {
  const result = await compileDagFile(source);
  assert.equal(result.ok, false, "expected the DAG file to be rejected");
  return (result as { ok: false; error: DagFileError }).error;
}

const retryDefaults = { retries: 2, infraRetries: 3, retryDelayMs: 30_000, retryBackoff: "fixed", timeoutMs: 1_200_000, triggerRule: "all_success", pool: "default", priority: 0 } as const;

test("the README's example compiles to the expected definition", async () => {
  const result = await compileDagFile(await readFile(fixture, "utf8"));
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  const expected: DagDefinition = {
    dagId: "nightly_report",
    schedule: "0 2 * * *",
    timezone: "Asia/Seoul",
    start: "2026-01-01T00:00:00.000Z",
    catchup: false,
    maxActiveRuns: 1,
    params: { region: "kr" },
    description: null,
    tags: [],
    tasks: [
      {
        taskId: "extract",
        kind: "pod",
        dependsOn: [],
        ...retryDefaults,
        pod: {
          image: "alpine:3.20",
          command: ["sh", "-c", "echo extracting {{ params.region }} for {{ logicalDate }}"],
          resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "256Mi" } },
        },
      },
      { taskId: "count", kind: "function", dependsOn: ["extract"], ...retryDefaults },
      {
        taskId: "load",
        kind: "pod",
        dependsOn: ["count"],
        ...retryDefaults,
        pod: { image: "alpine:3.20", command: ["sh", "-c", "echo loaded {{ tasks.count.result.rows }} rows"] },
      },
    ],
  };
  assert.deepEqual(result.definition, expected);
  assert.match(result.bundle, /require\("ferry"\)/);
  // The definition is stored as JSON: it must survive a round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(result.definition)), expected);
});

test("built-in defaults apply without DAG defaults; tasks come out in dependency order", async () => {
  const result = await compileDagFile(`
import { dag, task } from "ferry";
export default dag("order", { schedule: "@daily", description: "d", tags: ["a"] }, () => {
  task("last", () => 1, { dependsOn: ["middle"], retries: 1, infraRetries: 0, retryBackoff: "exponential", timeout: "1h30m", triggerRule: "all_done", pool: "etl", priority: 5 });
  task("middle", () => 1, { dependsOn: ["first"], retryDelay: 90 });
  task("first", () => 1, { resources: { limits: { memory: "1Gi" } } });
});`);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  const d = result.definition;
  assert.deepEqual(d.tasks.map((t) => t.taskId), ["first", "middle", "last"]);
  assert.equal(d.schedule, "@daily");
  assert.equal(d.timezone, "UTC");
  assert.equal(d.start, null);
  assert.equal(d.maxActiveRuns, 16);
  assert.equal(d.catchup, false);
  assert.deepEqual(d.params, {});
  assert.equal(d.description, "d");
  assert.deepEqual(d.tags, ["a"]);
  assert.deepEqual(d.tasks[0], {
    taskId: "first",
    kind: "function",
    dependsOn: [],
    resources: { limits: { memory: "1Gi" } },
    retries: 0,
    infraRetries: 3,
    retryDelayMs: 30_000,
    retryBackoff: "fixed",
    timeoutMs: null,
    triggerRule: "all_success",
    pool: "default",
    priority: 0,
  });
  assert.equal(d.tasks[1].retryDelayMs, 90_000);
  assert.deepEqual(
    { ...d.tasks[2], kind: undefined, taskId: undefined },
    { taskId: undefined, kind: undefined, dependsOn: ["middle"], retries: 1, infraRetries: 0, retryDelayMs: 30_000, retryBackoff: "exponential", timeoutMs: 5_400_000, triggerRule: "all_done", pool: "etl", priority: 5 },
  );
});

test("a start without an offset is read in the DAG's timezone", async () => {
  const result = await compileDagFile(`
import { dag, task } from "ferry";
export default dag("tz", { timezone: "Asia/Seoul", start: "2026-01-01" }, () => { task("t", () => null); });`);
  assert.ok(result.ok);
  assert.equal(result.definition.start, "2025-12-31T15:00:00.000Z");
});

test("a syntax error is compile_error with the position in the TypeScript source", async () => {
  const error = await compileError(`import { dag } from "ferry";\n\nconst x: number = ;\nexport default dag("a", {}, () => {});\n`);
  assert.equal(error.code, "compile_error");
  assert.equal(error.line, 3);
  assert.equal(error.column, 19);
});

test("importing anything but ferry is import_not_allowed, even if unused", async () => {
  const error = await compileError(`import { dag } from "ferry";\nimport fs from "node:fs";\nexport default dag("a", {}, () => {});\n`);
  assert.equal(error.code, "import_not_allowed");
  assert.equal(error.line, 2);
  assert.equal(error.column, 16);
  assert.match(error.message, /node:fs/);

  const relative = await compileError(`import { dag } from "ferry";\nimport { helper } from "./helper.ts";\nexport default dag("a", {}, () => { helper(); });\n`);
  assert.equal(relative.code, "import_not_allowed");
  assert.equal(relative.line, 2);

  const required = await compileError(`import { dag } from "ferry";\n\n\nconst cp = require("child_process");\nexport default dag("a", {}, () => {});\n`);
  assert.equal(required.code, "import_not_allowed");
  assert.equal(required.line, 4);
});

test("type-only imports are allowed", async () => {
  const result = await compileDagFile(`import { dag, task, type TaskContext } from "ferry";
const f = async (ctx: TaskContext) => ctx.params.x;
export default dag("types", {}, () => { task("t", f); });`);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
});

test("throwing at the top level is evaluation_error at the throwing line", async () => {
  const error = await compileError(`import { dag } from "ferry";

interface Nothing { a: number }

function explode(): never {
  throw new Error("boom");
}
explode();
export default dag("a", {}, () => {});
`);
  assert.equal(error.code, "evaluation_error");
  assert.match(error.message, /boom/);
  assert.equal(error.line, 6);
});

test("throwing inside the dag body maps to the TS line", async () => {
  const error = await compileError(`import { dag, task } from "ferry";
type T = { x: string };
export default dag("a", {}, () => {
  const t: T | null = null as T | null;
  task("x", () => 1);
  console.log(t!.x);
});
`);
  assert.equal(error.code, "evaluation_error");
  assert.equal(error.line, 6);
});

test("a missing default export, or one that is not a dag, is evaluation_error", async () => {
  const none = await compileError(`import { dag } from "ferry";\nexport const d = dag("a", {}, () => {});\n`);
  assert.equal(none.code, "evaluation_error");
  assert.match(none.message, /no default export/);

  const other = await compileError(`import { dag } from "ferry";\n\nexport default { dagId: "a" };\n`);
  assert.equal(other.code, "evaluation_error");
  assert.match(other.message, /not a DAG/);
  assert.equal(other.line, 3);
});

test("task() outside a dag body is evaluation_error with a clear message", async () => {
  const error = await compileError(`import { dag, task } from "ferry";\n\nconst t = task("early", () => 1);\nexport default dag("a", {}, () => {});\n`);
  assert.equal(error.code, "evaluation_error");
  assert.match(error.message, /task\("early"\) was called outside a dag\(\) body/);
  assert.equal(error.line, 3);
});

test("an async dag body is rejected", async () => {
  const error = await compileError(`import { dag, task } from "ferry";\nexport default dag("a", {}, (async () => { task("t", () => 1); }) as any);\n`);
  assert.equal(error.code, "evaluation_error");
  assert.match(error.message, /synchronously/);
});
