// The task state machine: which tasks move next, by trigger rule, and how a run ends.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { downstreamOf, planRun, type TaskSnapshot } from "../../scheduler/run-planner.ts";
import { decide } from "../../scheduler/trigger-rules.ts";
import type { DagDefinition, TaskDefinition, TriggerRule } from "../../sdk/definition.ts";
import type { TaskState } from "../../scheduler/states.ts";

function task(taskId: string, dependsOn: string[] = [], triggerRule: TriggerRule = "all_success"): TaskDefinition {
  return { taskId, kind: "pod", pod: { image: "x" }, dependsOn, retries: 0, retryDelayMs: 0, retryBackoff: "fixed", timeoutMs: null, triggerRule };
}

function dag(tasks: TaskDefinition[]): DagDefinition {
  return { dagId: "d", schedule: null, timezone: "UTC", start: null, catchup: false, maxActiveRuns: 1, params: {}, description: null, tags: [], tasks };
}

function states(s: Record<string, TaskState>, retryAt: Date | null = null): Map<string, TaskSnapshot> {
  return new Map(Object.entries(s).map(([k, v]) => [k, { state: v, retryAt }]));
}

const now = new Date("2026-01-01T00:00:00Z");

describe("trigger rules", () => {
  const cases: [TriggerRule, TaskState[], string][] = [
    ["all_success", ["success", "success"], "run"],
    ["all_success", ["success", "running"], "wait"],
    ["all_success", ["failed", "running"], "upstream_failed"],
    ["all_success", ["skipped", "success"], "skip"],
    ["all_success", ["upstream_failed", "success"], "upstream_failed"],
    ["all_done", ["failed", "success"], "run"],
    ["all_done", ["failed", "queued"], "wait"],
    ["all_failed", ["failed", "upstream_failed"], "run"],
    ["all_failed", ["failed", "success"], "skip"],
    ["one_success", ["running", "success"], "run"],
    ["one_success", ["failed", "failed"], "upstream_failed"],
    ["one_success", ["skipped", "skipped"], "skip"],
    ["one_failed", ["running", "failed"], "run"],
    ["one_failed", ["success", "success"], "skip"],
    ["none_failed", ["success", "skipped"], "run"],
    ["none_failed", ["failed", "running"], "upstream_failed"],
  ];
  for (const [rule, upstream, expected] of cases) {
    it(`${rule} with [${upstream.join(", ")}] → ${expected}`, () => {
      assert.equal(decide(rule, upstream), expected);
    });
  }
  it("a task without upstream runs", () => assert.equal(decide("all_success", []), "run"));
});

describe("planRun", () => {
  const chain = dag([task("a"), task("b", ["a"]), task("c", ["b"])]);

  it("schedules the roots of a new run", () => {
    const plan = planRun(chain, states({ a: "pending", b: "pending", c: "pending" }), now);
    assert.deepEqual(plan.moves, [{ taskId: "a", from: "pending", to: "scheduled" }]);
    assert.equal(plan.runOutcome, null);
  });

  it("schedules a task once its upstream succeeded", () => {
    const plan = planRun(chain, states({ a: "success", b: "pending", c: "pending" }), now);
    assert.deepEqual(plan.moves, [{ taskId: "b", from: "pending", to: "scheduled" }]);
  });

  it("marks the whole chain below a failure upstream_failed and fails the run", () => {
    const plan = planRun(chain, states({ a: "failed", b: "pending", c: "pending" }), now);
    assert.deepEqual(
      plan.moves.map((m) => [m.taskId, m.to]),
      [
        ["b", "upstream_failed"],
        ["c", "upstream_failed"],
      ],
    );
    assert.equal(plan.runOutcome, "failed");
  });

  it("succeeds a run whose leaves succeeded", () => {
    assert.equal(planRun(chain, states({ a: "success", b: "success", c: "success" }), now).runOutcome, "success");
  });

  it("lets an all_done cleanup task run after a failure, and the leaves decide the run", () => {
    const d = dag([task("a"), task("cleanup", ["a"], "all_done")]);
    const plan = planRun(d, states({ a: "failed", cleanup: "pending" }), now);
    assert.deepEqual(plan.moves, [{ taskId: "cleanup", from: "pending", to: "scheduled" }]);
    assert.equal(planRun(d, states({ a: "failed", cleanup: "success" }), now).runOutcome, "success");
  });

  it("retries a task only once its retry time has come", () => {
    const d = dag([task("a")]);
    const later = new Date(now.getTime() + 1000);
    assert.deepEqual(planRun(d, states({ a: "up_for_retry" }, later), now).moves, []);
    assert.deepEqual(planRun(d, states({ a: "up_for_retry" }, now), now).moves, [{ taskId: "a", from: "up_for_retry", to: "scheduled" }]);
  });

  it("propagates skips through all_success", () => {
    const d = dag([task("a"), task("b", ["a"]), task("c", ["b"])]);
    const plan = planRun(d, states({ a: "skipped", b: "pending", c: "pending" }), now);
    assert.deepEqual(plan.moves.map((m) => m.to), ["skipped", "skipped"]);
    assert.equal(plan.runOutcome, "success");
  });

  it("does not end a run while a task is still running", () => {
    const d = dag([task("a"), task("b")]);
    assert.equal(planRun(d, states({ a: "success", b: "running" }), now).runOutcome, null);
  });

  it("finds everything downstream of a task", () => {
    const d = dag([task("a"), task("b", ["a"]), task("c"), task("d", ["b", "c"])]);
    assert.deepEqual(downstreamOf(d, "a"), ["b", "d"]);
    assert.deepEqual(downstreamOf(d, "c"), ["d"]);
    assert.deepEqual(downstreamOf(d, "d"), []);
  });
});
