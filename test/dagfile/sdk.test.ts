import assert from "node:assert/strict";
import { test } from "node:test";
import { dag, podTask, task, type TaskContext, type TaskHandle } from "../../sdk/index.ts";
import { describeDag, findTask, isDag } from "../../sdk/internal.ts";

test("dag() runs its body at once and records tasks in order, handles as ids", () => {
  let ran = false;
  const defined = dag("sdk_demo", { schedule: "@daily", params: { a: 1 } }, () => {
    ran = true;
    const first = task("first", async () => ({ n: 1 }));
    const pod = podTask("pod", { image: "alpine", dependsOn: [first] });
    task("last", (ctx) => ctx.result(first).n, { dependsOn: [pod, "first"], retries: 1 });
  });
  assert.ok(ran);
  assert.ok(isDag(defined));
  assert.deepEqual(defined.taskIds, ["first", "pod", "last"]);
  assert.equal(typeof findTask(defined, "first")?.fn, "function");
  const raw = describeDag(defined);
  assert.equal(raw.dagId, "sdk_demo");
  assert.deepEqual(raw.options, { schedule: "@daily", params: { a: 1 } });
  assert.deepEqual(raw.tasks.map((t) => [t.kind, t.taskId, t.hasFunction, t.options]), [
    ["function", "first", true, {}],
    ["pod", "pod", false, { image: "alpine", dependsOn: ["first"] }],
    ["function", "last", true, { dependsOn: ["pod", "first"], retries: 1 }],
  ]);
});

test("values JSON cannot carry are marked, not dropped", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const defined = dag("odd", { params: { f: () => 1, n: NaN, c: circular, d: new Date("2026-01-02T00:00:00Z") } as any }, () => {
    task("t", () => 1);
  });
  assert.deepEqual(describeDag(defined).options, {
    params: {
      f: { $unsupported: "a function" },
      n: { $unsupported: "NaN" },
      c: { self: { $unsupported: "a circular reference" } },
      d: "2026-01-02T00:00:00.000Z",
    },
  });
});

test("task() outside a dag body, nested dags and async bodies are errors", () => {
  assert.throws(() => task("loose", () => 1), /task\("loose"\) was called outside a dag\(\) body/);
  assert.throws(() => podTask("loose", { image: "x" }), /podTask\("loose"\) was called outside a dag\(\) body/);
  assert.throws(() => dag("outer", {}, () => void dag("inner", {}, () => {})), /inside the body of dag\("outer"\)/);
  assert.throws(() => dag("async", {}, (async () => {}) as unknown as () => void), /synchronously/);
  // A failed body must not leave the next dag() thinking it is nested.
  assert.ok(isDag(dag("after", {}, () => void task("t", () => 1))));
});

test("types: handles carry results to ctx.result", () => {
  dag("typed", {}, () => {
    const up: TaskHandle<{ rows: number }> = task("up", async () => ({ rows: 42 }));
    task("down", (ctx: TaskContext) => {
      const rows: number = ctx.result(up).rows;
      const loose: unknown = ctx.tasks.up.result.rows;
      return { rows, loose };
    }, { dependsOn: [up], timeout: "20m", retryDelay: 30, triggerRule: "none_failed" });
  });
});
