import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDuration, renderPodSpec, renderTemplate, type TemplateScope } from "../../dagfile/index.ts";

const scope: TemplateScope = {
  params: { region: "kr", nested: { a: [1, 2] }, flag: false, nothing: null },
  logicalDate: "2026-01-01T00:00:00.000Z",
  runId: "scheduled__2026-01-01",
  dagId: "nightly_report",
  taskId: "load",
  tryNumber: 2,
  tasks: { count: { result: { rows: 42, items: ["x", "y"] } }, "my.task": { result: "dotted" }, plain: { result: 7 } },
};

test("renders references, with or without spaces", () => {
  assert.equal(renderTemplate("echo {{ params.region }} for {{logicalDate}}", scope), "echo kr for 2026-01-01T00:00:00.000Z");
  assert.equal(renderTemplate("loaded {{ tasks.count.result.rows }} rows", scope), "loaded 42 rows");
  assert.equal(renderTemplate("{{runId}}/{{dagId}}/{{taskId}}/{{ tryNumber }}", scope), "scheduled__2026-01-01/nightly_report/load/2");
  assert.equal(renderTemplate("{{ tasks.count.result.items[1] }}", scope), "y");
  assert.equal(renderTemplate("{{ tasks.my.task.result }} {{ tasks[\"my.task\"].result }}", scope), "dotted dotted");
  assert.equal(renderTemplate("{{ tasks.plain.result }}", scope), "7");
  assert.equal(renderTemplate("no templates here", scope), "no templates here");
});

test("objects render as JSON, other values as text", () => {
  assert.equal(renderTemplate("{{ params.nested }}", scope), '{"a":[1,2]}');
  assert.equal(renderTemplate("{{ tasks.count.result }}", scope), '{"rows":42,"items":["x","y"]}');
  assert.equal(renderTemplate("{{ params.flag }}/{{ params.nothing }}", scope), "false/null");
});

test("a reference that does not resolve throws an error naming it", () => {
  assert.throws(() => renderTemplate("{{ params.missing }}", scope), /\{\{ params\.missing \}\}.*params\.missing is undefined/);
  assert.throws(() => renderTemplate("{{ tasks.other.result }}", scope), /\{\{ tasks\.other\.result \}\}/);
  assert.throws(() => renderTemplate("{{ tasks.count.result.rows.deeper }}", scope), /tasks\.count\.result\.rows\.deeper/);
  assert.throws(() => renderTemplate("{{ secrets.token }}", scope), /secrets/);
  assert.throws(() => renderTemplate("{{ params.region ", scope), /closing/);
});

test("renderPodSpec renders every string and leaves the rest", () => {
  const spec = { image: "img:{{ params.region }}", command: ["echo", "{{ tasks.count.result.rows }}"], env: { A: "{{ runId }}" }, volumes: [{ name: "v", emptyDir: {} }] };
  assert.deepEqual(renderPodSpec(spec, scope), {
    image: "img:kr",
    command: ["echo", "42"],
    env: { A: "scheduled__2026-01-01" },
    volumes: [{ name: "v", emptyDir: {} }],
  });
});

test("durations", () => {
  const ms = (value: unknown) => {
    const parsed = parseDuration(value);
    return parsed.ok ? parsed.ms : parsed.message;
  };
  assert.equal(ms("30s"), 30_000);
  assert.equal(ms("20m"), 1_200_000);
  assert.equal(ms("1h30m"), 5_400_000);
  assert.equal(ms("500ms"), 500);
  assert.equal(ms("2d"), 172_800_000);
  assert.equal(ms(90), 90_000);
  assert.equal(ms(0.5), 500);
  assert.match(String(ms("30")), /no unit/);
  assert.match(String(ms("soon")), /not a duration/);
  assert.match(String(ms(-1)), /non-negative/);
});
