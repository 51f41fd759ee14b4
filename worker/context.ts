// The `ctx` a function task receives.
import type { Writable } from "node:stream";
import { format } from "node:util";
import type { TaskContext, TaskHandle } from "../sdk/index.ts";
import type { TryContext } from "../lib/pod-contract.ts";

export function buildContext(input: TryContext, stdout: Writable): TaskContext {
  const tasks = Object.freeze({ ...input.tasks });
  function result(ref: TaskHandle<unknown> | string): any {
    const id = typeof ref === "string" ? ref : ref?.taskId;
    if (typeof id !== "string" || !Object.prototype.hasOwnProperty.call(tasks, id)) {
      const known = Object.keys(tasks);
      throw new Error(
        `ctx.result(${JSON.stringify(id)}): no result of that task was passed to "${input.taskId}"; ` +
          `only upstream tasks' results are (${known.length ? known.join(", ") : "it has none"}). Add it to dependsOn.`,
      );
    }
    return tasks[id].result;
  }
  return {
    log: (...args: unknown[]) => {
      stdout.write(`${format(...args)}\n`);
    },
    params: input.params,
    logicalDate: input.logicalDate,
    dataIntervalStart: input.dataIntervalStart ?? input.logicalDate,
    dataIntervalEnd: input.dataIntervalEnd ?? input.logicalDate,
    runId: input.runId,
    dagId: input.dagId,
    taskId: input.taskId,
    tryNumber: input.tryNumber,
    tasks,
    result,
  };
}
