import assert from "node:assert/strict";
import { test } from "node:test";
import { compileDagFile, type DagFileError, type DagProblem } from "../../dagfile/index.ts";

const HEADER = `import { dag, task, podTask } from "ferry";\n`;

async function problemsOf(source: string): Promise<{ error: DagFileError; problems: DagProblem[] }> {
  const result = await compileDagFile(HEADER + source);
  assert.equal(result.ok, false, "expected the DAG to be invalid");
  const error = (result as { ok: false; error: DagFileError }).error;
  assert.equal(error.code, "invalid_dag", error.message);
  assert.ok(error.problems && error.problems.length > 0);
  return { error, problems: error.problems };
}

function find(problems: DagProblem[], path: string): DagProblem {
  const problem = problems.find((p) => p.path === path);
  assert.ok(problem, `no problem at ${path}; got ${JSON.stringify(problems.map((p) => p.path))}`);
  return problem;
}

test("a dependency cycle is reported with its path", async () => {
  const { problems } = await problemsOf(`export default dag("c", {}, () => {
  task("a", () => 1, { dependsOn: ["c"] });
  task("b", () => 1, { dependsOn: ["a"] });
  task("c", () => 1, { dependsOn: ["b"] });
  task("free", () => 1);
});`);
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/);
  assert.match(problems[0].path, /^tasks\.[abc]\.dependsOn$/);
});

test("unknown and self dependencies are reported per entry, with a suggestion", async () => {
  const { problems, error } = await problemsOf(`export default dag("u", {}, () => {
  task("extract", () => 1);
  task("count", () => 1, { dependsOn: ["extrct"] });
  task("self", () => 1, { dependsOn: ["extract", "self"] });
});`);
  assert.match(find(problems, "tasks.count.dependsOn[0]").message, /no task "extrct".*Did you mean "extract"/);
  assert.match(find(problems, "tasks.self.dependsOn[1]").message, /itself/);
  assert.equal(find(problems, "tasks.count.dependsOn[0]").line, 4);
  assert.equal(error.line, 4);
});

test("bad cron expressions and presets", async () => {
  for (const schedule of ["0 2 * *", "61 * * * *", "* * * * * * *", "@fortnightly", "every day"]) {
    const { problems } = await problemsOf(`export default dag("s", { schedule: ${JSON.stringify(schedule)} }, () => { task("t", () => 1); });`);
    assert.equal(problems.length, 1, schedule);
    assert.equal(problems[0].path, "schedule");
  }
  for (const schedule of ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "*/15 * * * *", "0 0 2 * * 1-5"]) {
    const result = await compileDagFile(HEADER + `export default dag("s", { schedule: ${JSON.stringify(schedule)} }, () => { task("t", () => 1); });`);
    assert.ok(result.ok, `${schedule}: ${!result.ok && result.error.message}`);
  }
});

test("bad timezone and start", async () => {
  const { problems } = await problemsOf(`export default dag("z", { schedule: "@daily", timezone: "Mars/Olympus", start: "yesterday" }, () => { task("t", () => 1); });`);
  assert.match(find(problems, "timezone").message, /IANA/);
  assert.match(find(problems, "start").message, /ISO-8601/);
});

test("duplicate and malformed ids", async () => {
  const { problems } = await problemsOf(`export default dag("bad id!", {}, () => {
  task("same", () => 1);
  task("same", () => 2);
  task("-dash", () => 3);
});`);
  assert.match(find(problems, "dagId").message, /not valid/);
  const duplicate = find(problems, "tasks.same");
  assert.match(duplicate.message, /duplicate task id "same" \(first defined on line 3\)/);
  assert.equal(duplicate.line, 4);
  assert.match(find(problems, "tasks[2]").message, /not valid/);
});

test("template references must be known names and upstream tasks", async () => {
  const { problems } = await problemsOf(`export default dag("t", {}, () => {
  const a = task("a", () => ({ rows: 1 }));
  const b = task("b", () => 1, { dependsOn: [a] });
  task("side", () => 1);
  podTask("p", {
    image: "alpine",
    command: ["echo", "{{ tasks.a.result.rows }}", "{{ tasks.side.result }}", "{{ secrets.x }}"],
    args: ["{{ tasks.nope.result }}", "{{ params.x", "{{ tasks.b }}"],
    env: { OK: "{{params.region}}-{{logicalDate}}-{{runId}}-{{dagId}}-{{taskId}}-{{tryNumber}}", BAD: "{{ runId.x }}" },
    dependsOn: [b],
  });
});`);
  const paths = problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    "tasks.p.args[0]",
    "tasks.p.args[1]",
    "tasks.p.args[2]",
    "tasks.p.command[2]",
    "tasks.p.command[3]",
    "tasks.p.env.BAD",
  ]);
  assert.match(find(problems, "tasks.p.command[2]").message, /"side" is not upstream/);
  assert.match(find(problems, "tasks.p.command[3]").message, /unknown name "secrets"/);
  assert.match(find(problems, "tasks.p.args[0]").message, /no task "nope"/);
  assert.match(find(problems, "tasks.p.args[1]").message, /without a closing/);
});

test("every problem is reported at once", async () => {
  const { problems, error } = await problemsOf(`export default dag("many", {
  schedule: "0 25 * * *",
  timezone: "Nowhere/City",
  maxActiveRuns: 0,
  catchup: "yes" as any,
  retires: 3,
  defaults: { retries: -1, retryDelay: "soon" },
} as any, () => {
  task("count", () => 1, { dependsOn: ["missing"], timeout: "20 minutes", triggerRule: "sometimes" as any, retryBackoff: "linear" as any, infraRetries: 1.5, pool: "no pools/here", priority: 0.5 });
  podTask("pod", { command: ["echo", 1 as any], env: { N: 5 as any }, resources: { limits: { memory: "lots" } } } as any);
});`);
  const paths = problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    "catchup",
    "defaults.retries",
    "defaults.retryDelay",
    "maxActiveRuns",
    "retires",
    "schedule",
    "tasks.count.dependsOn[0]",
    "tasks.count.infraRetries",
    "tasks.count.pool",
    "tasks.count.priority",
    "tasks.count.retryBackoff",
    "tasks.count.timeout",
    "tasks.count.triggerRule",
    "tasks.pod.command[1]",
    "tasks.pod.env.N",
    "tasks.pod.image",
    "tasks.pod.resources.limits.memory",
    "timezone",
  ]);
  assert.match(find(problems, "retires").message, /Did you mean defaults: \{ retries: \.\.\. \}/);
  assert.match(error.message, /18 problems/);
  for (const p of problems) assert.ok(error.message.includes(p.path), `message should list ${p.path}`);
});

test("a DAG needs tasks, and task() needs a function", async () => {
  const empty = await problemsOf(`export default dag("e", {}, () => {});`);
  assert.equal(empty.problems[0].path, "tasks");
  const noFn = await problemsOf(`export default dag("f", {}, () => { task("t", { retries: 1 } as any); });`);
  assert.match(find(noFn.problems, "tasks.t").message, /needs a function/);
});

test("task handles from another dag() are rejected", async () => {
  const { problems } = await problemsOf(`let other: any;
dag("first", {}, () => { other = task("x", () => 1); });
export default dag("second", {}, () => { task("y", () => 1, { dependsOn: [other] }); });`);
  assert.match(find(problems, "tasks.y.dependsOn[0]").message, /another dag/);
});
