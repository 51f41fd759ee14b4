// Run routes: trigger, list, read, cancel, and clear a task or a whole run (run it again, with what depends on it).
import { randomBytes } from "node:crypto";
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/db.ts";
import { notifyWakeup } from "../../db/wakeup.ts";
import type { DagDefinition } from "../../sdk/definition.ts";
import { dagIdKnown, getDag, getDagVersion } from "../../scheduler/dags.repository.ts";
import {
  cancelRun,
  createRun,
  getRun,
  listRuns,
  listTaskViews,
  lockTaskInstances,
  lockRun,
  reopenRun,
  resetTasks,
} from "../../scheduler/runs.repository.ts";
import { ACTIVE_TASK_STATES, RUN_STATES, UNSUCCESSFUL_TASK_STATES, type RunState, type TaskState } from "../../scheduler/states.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badCursor, badRequest, notFound } from "../errors.ts";
import { DagParams, errorResponses, JsonObject, PageQuery, RUN_ID_PATTERN, RunId, RunParams, StringEnum, TaskParams } from "../schemas/common.ts";
import { Run, RunCancelled, RunCleared, RunList, RunWithTasks, TaskCleared, TaskWithTries } from "../schemas/resources.ts";
import { decodeCursor, encodeCursor, runBody, taskBody, tryBody } from "../serialize.ts";
import { listTries } from "../../executor/tries.repository.ts";
import { listTaskTryEvents, recordOnLatestTries, recordOnOpenTries, summarizeTryEvents } from "../../executor/try-events.repository.ts";
import { describePrincipal } from "../auth.ts";

const RUN_ID = RUN_ID_PATTERN;

interface TriggerBody {
  params?: unknown;
  logicalDate?: unknown;
  runId?: unknown;
}

function parseTrigger(body: unknown): { params: Record<string, unknown>; logicalDate: Date | null; runId: string | null } {
  if (body === undefined || body === null) return { params: {}, logicalDate: null, runId: null };
  if (typeof body !== "object" || Array.isArray(body)) throw badRequest('Send a JSON object: {"params"?, "logicalDate"?, "runId"?}.');
  const b = body as TriggerBody;
  const unknownKeys = Object.keys(b).filter((k) => !["params", "logicalDate", "runId"].includes(k));
  if (unknownKeys.length > 0) throw badRequest(`Unknown field(s) ${unknownKeys.join(", ")}: a trigger takes params, logicalDate and runId.`);
  if (b.params !== undefined && (typeof b.params !== "object" || b.params === null || Array.isArray(b.params))) {
    throw badRequest("params must be a JSON object.");
  }
  let logicalDate: Date | null = null;
  if (b.logicalDate !== undefined) {
    logicalDate = typeof b.logicalDate === "string" ? new Date(b.logicalDate) : new Date(NaN);
    if (Number.isNaN(logicalDate.getTime())) throw badRequest('logicalDate must be an ISO-8601 date-time, e.g. "2026-01-01T00:00:00Z".');
    // JavaScript dates reach 271,821 BC; Postgres's end at 4713 BC (a 500 at the insert). Years 1 to 9999 it is.
    const year = logicalDate.getUTCFullYear();
    if (year < 1 || year > 9999) throw badRequest(`logicalDate must be in the years 1 to 9999, got ${JSON.stringify(b.logicalDate)}.`, { field: "body.logicalDate" });
  }
  if (b.runId !== undefined && (typeof b.runId !== "string" || !RUN_ID.test(b.runId))) {
    throw badRequest("runId must be 1 to 250 characters of letters, digits and _ . : + @ -.");
  }
  return { params: (b.params as Record<string, unknown>) ?? {}, logicalDate, runId: (b.runId as string | undefined) ?? null };
}

const TriggerBody = Type.Union(
  [
    Type.Object(
      {
        params: Type.Optional(JsonObject("Params for this run, over the DAG's own.")),
        logicalDate: Type.Optional(Type.String({ description: 'ISO-8601, e.g. "2026-01-01T00:00:00Z"; default now.' })),
        runId: Type.Optional(RunId),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { description: "All optional; no body at all is a trigger with the DAG's params, now." },
);

const RunClearBody = Type.Union(
  [
    Type.Object(
      {
        onlyFailed: Type.Optional(
          Type.Boolean({
            default: true,
            description: "true (default): the failed, upstream_failed and cancelled tasks and everything downstream of them; false: every task.",
          }),
        ),
      },
      { additionalProperties: false },
    ),
    Type.Null(),
  ],
  { description: "Optional; no body at all clears only the failed tasks." },
);

/** Where a clear starts: one task, or a whole run (its unsuccessful tasks, or all). What is downstream goes along. */
type ClearScope = { kind: "task"; taskId: string } | { kind: "run"; onlyFailed: boolean };

/** `roots` and every task downstream of any of them, in the DAG's (topological) order, in one pass. */
function withDownstream(def: DagDefinition, roots: readonly string[]): string[] {
  const taken = new Set(roots);
  const result: string[] = [];
  for (const t of def.tasks) {
    if (taken.has(t.taskId) || t.dependsOn.some((d) => taken.has(d))) {
      taken.add(t.taskId);
      result.push(t.taskId);
    }
  }
  return result;
}

/** How a cleared task came to be cleared, for its Cleared event; `endedAs` is a root's state before the clear. */
function clearedNote(scope: ClearScope, taskId: string, endedAs: TaskState | undefined): string {
  if (scope.kind === "task") return taskId === scope.taskId ? "" : `, with upstream task ${scope.taskId}`;
  if (!scope.onlyFailed) return ", with the whole run";
  return `, with the run's failed tasks (${endedAs ? `it was ${endedAs}` : "it is downstream of one"})`;
}

/**
 * Clears tasks of a run, for the task clear and the run clear alike: each runs again as a new try. One
 * transaction that locks the run and then its tasks (the order the executor's recordOutcome takes too,
 * so the two cannot deadlock), so two clears of one run happen one after the other, and the second
 * sees what the first did.
 */
async function clearTasks(db: Db, who: string, dagId: string, runId: string, scope: ClearScope): Promise<{ runId: string; dagId: string; state: RunState; cleared: string[] }> {
  const cleared = await db.transaction(async (tx) => {
    const run = await lockRun(tx, dagId, runId);
    if (!run) throw notFound("run", runId, "run_not_found");
    const def = (await getDagVersion(tx, dagId, run.dagVersion))!.definition;
    if (scope.kind === "task" && !def.tasks.some((t) => t.taskId === scope.taskId)) throw notFound("task", scope.taskId, "task_not_found");
    // A task clear locks only what it may clear; a run clear must see every task's state to choose.
    const candidates = scope.kind === "task" ? withDownstream(def, [scope.taskId]) : def.tasks.map((t) => t.taskId);
    // Lock the tasks: an executor claiming one now skips it, or we wait and then see it queued.
    const instances = await lockTaskInstances(tx, run.pk, candidates);
    const roots =
      scope.kind === "task"
        ? [scope.taskId]
        : scope.onlyFailed
          ? instances.filter((ti) => UNSUCCESSFUL_TASK_STATES.includes(ti.state)).map((ti) => ti.taskId)
          : candidates;
    const affected = withDownstream(def, roots);
    if (affected.length === 0) {
      throw new ApiError(
        "nothing_to_clear",
        `Run ${runId} has no failed, upstream_failed or cancelled task (the run is ${run.state}), so there is nothing to clear; send {"onlyFailed": false} to run every task again.`,
      );
    }
    const affectedSet = new Set(affected);
    // A cancelled task whose Pod is still stopping may be cleared: its next try is claimed only once
    // that Pod's container has ended (claimTasks), so the two never run at once.
    const busy = instances.filter((ti) => affectedSet.has(ti.taskId) && ACTIVE_TASK_STATES.includes(ti.state)).map((ti) => ti.taskId);
    if (busy.length > 0) {
      const are = `${busy.join(", ")} ${busy.length === 1 ? "is" : "are"}`;
      throw new ApiError("task_active", `Nothing was cleared: ${are} queued or running; wait for them to end, or cancel the run first.`, { tasks: busy });
    }
    const retries = new Map(def.tasks.map((t) => [t.taskId, t.retries]));
    await resetTasks(
      tx,
      run.pk,
      affected.map((id) => ({ taskId: id, retries: retries.get(id)! })),
    );
    await reopenRun(tx, run.pk);
    // Normal, not Warning: the try's own end (a failure, a cancel) stays its last Warning.
    const rootSet = new Set(roots);
    const rootStates = new Map(instances.filter((ti) => rootSet.has(ti.taskId)).map((ti) => [ti.taskId, ti.state]));
    await recordOnLatestTries(
      tx,
      run.pk,
      affected.map((id) => ({
        taskId: id,
        type: "Normal" as const,
        reason: "Cleared",
        message: `cleared through the API by ${who}${clearedNote(scope, id, rootStates.get(id))}; the task runs again as a new try`,
      })),
    );
    return affected;
  });
  await notifyWakeup(db, "runs");
  const run = (await getRun(db, dagId, runId))!;
  return { runId, dagId, state: run.state, cleared };
}

export function runRoutes(server: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    "/api/v1/dags/:dagId/runs",
    {
      config: { role: "author" },
      schema: {
        tags: ["runs"],
        summary: "Trigger a run",
        description: "A manual run of the DAG's latest version; 409 `run_exists` when the DAG has a run with the runId asked for.",
        params: DagParams,
        body: TriggerBody,
        response: { 201: Run, ...errorResponses(["dag_not_found", "run_exists"], { body: true }) },
      },
    },
    async (req, reply) => {
      const trigger = parseTrigger(req.body);
      const dag = await getDag(db, req.params.dagId);
      if (!dag) throw notFound("DAG", req.params.dagId, "dag_not_found");
      const logicalDate = trigger.logicalDate ?? new Date();
      const create = (runId: string) =>
        db.transaction((tx) =>
          createRun(tx, {
            dagId: dag.dagId,
            runId,
            runType: "manual",
            logicalDate,
            params: { ...dag.definition.params, ...trigger.params },
            dagVersion: dag.latestVersion,
            definition: dag.definition,
          }),
        );
      const runId = trigger.runId ?? `manual__${logicalDate.toISOString()}`;
      let run = await create(runId).catch((err: { code?: string }) => {
        // The DAG was deleted between the read above and this insert.
        if (err.code === "23503") throw notFound("DAG", dag.dagId, "dag_not_found");
        throw err;
      });
      // Two triggers in the same millisecond: only a run id the caller chose is a real conflict.
      if (!run && !trigger.runId) run = await create(`${runId}__${randomBytes(3).toString("hex")}`);
      if (!run) throw new ApiError("run_exists", `DAG ${dag.dagId} already has a run ${JSON.stringify(runId)}: pick another runId.`);
      await notifyWakeup(db, "runs");
      deps.metrics?.runsCreated.inc({ type: "manual" });
      return reply.status(201).send(runBody(run));
    },
  );

  app.get(
    "/api/v1/dags/:dagId/runs",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["runs"],
        summary: "List a DAG's runs",
        description: "Newest first (by logical date). A deleted DAG's runs stay listed.",
        params: DagParams,
        querystring: PageQuery(25, 100, { state: Type.Optional(StringEnum(RUN_STATES, { description: "Only runs in this state." })) }),
        response: { 200: RunList, ...errorResponses(["dag_not_found"]) },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 25;
      const state = req.query.state as RunState | undefined;
      if (state !== undefined && !RUN_STATES.includes(state)) throw badRequest(`state must be one of ${RUN_STATES.join(", ")}.`);
      let before: { logicalDate: Date; pk: string } | undefined;
      if (req.query.cursor) {
        const c = decodeCursor(req.query.cursor);
        const date = c && typeof c[0] === "string" ? new Date(c[0]) : null;
        if (!date || Number.isNaN(date.getTime()) || typeof c![1] !== "string" || !/^\d{1,18}$/.test(c![1] as string)) {
          throw badCursor();
        }
        before = { logicalDate: date, pk: c![1] as string };
      }
      // A deleted DAG's runs stay readable, like each run and its logs.
      const known = await dagIdKnown(db, req.params.dagId);
      if (!known) throw notFound("DAG", req.params.dagId, "dag_not_found");
      const runs = await listRuns(db, req.params.dagId, { limit: limit + 1, state, before });
      const page = runs.slice(0, limit);
      const last = page[page.length - 1];
      return {
        runs: page.map(runBody),
        nextCursor: runs.length > limit && last ? encodeCursor([last.logicalDate.toISOString(), last.pk]) : null,
      };
    },
  );

  app.get(
    "/api/v1/dags/:dagId/runs/:runId",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["runs"],
        summary: "Read a run",
        description: "The run with each of its tasks.",
        params: RunParams,
        response: { 200: RunWithTasks, ...errorResponses(["run_not_found"]) },
      },
    },
    async (req) => {
      const run = await getRun(db, req.params.dagId, req.params.runId);
      if (!run) throw notFound("run", req.params.runId, "run_not_found");
      const tasks = await listTaskViews(db, run.pk);
      return { ...runBody(run), tasks: tasks.map(taskBody) };
    },
  );

  app.get(
    "/api/v1/dags/:dagId/runs/:runId/tasks/:taskId",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["runs"],
        summary: "Read a task of a run",
        description: "The task as in the run, with each of its tries and a summary of each try's events.",
        params: TaskParams,
        response: { 200: TaskWithTries, ...errorResponses(["run_not_found", "task_not_found"]) },
      },
    },
    async (req) => {
      const { dagId, runId, taskId } = req.params;
      const run = await getRun(db, dagId, runId);
      if (!run) throw notFound("run", runId, "run_not_found");
      const task = (await listTaskViews(db, run.pk)).find((t) => t.taskId === taskId);
      if (!task) throw notFound("task", taskId, "task_not_found");
      const [tries, events] = await Promise.all([listTries(db, task.id), listTaskTryEvents(db, task.id)]);
      return { dagId, runId, ...taskBody(task), tries: tries.map((t) => tryBody(t, summarizeTryEvents(events.get(t.tryNumber) ?? []))) };
    },
  );

  app.post(
    "/api/v1/dags/:dagId/runs/:runId/cancel",
    {
      config: { role: "author" },
      schema: {
        tags: ["runs"],
        summary: "Cancel a run",
        description: "Its running Pods are stopped (each Pod's log is stored first) and its other tasks never start; 409 `run_finished` when it has ended.",
        params: RunParams,
        response: { 200: RunCancelled, ...errorResponses(["run_not_found", "run_finished"]) },
      },
    },
    async (req) => {
      const { dagId, runId } = req.params;
      const run = await db.transaction(async (tx) => {
        const r = await lockRun(tx, dagId, runId);
        if (!r) throw notFound("run", runId, "run_not_found");
        if (r.state !== "queued" && r.state !== "running") {
          throw new ApiError("run_finished", `Run ${runId} has already finished (${r.state}); there is nothing to cancel.`);
        }
        await cancelRun(tx, r.pk);
        // Who stopped them, on the tries themselves: their logs end mid-way and this says why.
        await recordOnOpenTries(tx, r.pk, { type: "Warning", reason: "Cancelled", message: `cancelled through the API by ${describePrincipal(req.principal)}` });
        return r;
      });
      await notifyWakeup(db, "tries");
      return { runId: run.runId, dagId, state: "cancelled" as const };
    },
  );

  app.post(
    "/api/v1/dags/:dagId/runs/:runId/tasks/:taskId/clear",
    {
      config: { role: "author" },
      schema: {
        tags: ["runs"],
        summary: "Clear a task: run it again",
        description: "The task and everything downstream of it run again, each as a new try; 409 `task_active` while one of them runs.",
        params: TaskParams,
        response: { 200: TaskCleared, ...errorResponses(["run_not_found", "task_not_found", "task_active"]) },
      },
    },
    async (req) => {
      const { dagId, runId, taskId } = req.params;
      return clearTasks(db, describePrincipal(req.principal), dagId, runId, { kind: "task", taskId });
    },
  );

  app.post(
    "/api/v1/dags/:dagId/runs/:runId/clear",
    {
      config: { role: "author" },
      schema: {
        tags: ["runs"],
        summary: "Clear a run: run its failed tasks, or all of them, again",
        description:
          "In one transaction, the run's failed, upstream_failed and cancelled tasks and everything downstream of them (or, with `onlyFailed: false`, every task) " +
          "run again, each as a new try, and a finished run goes back to queued. 409 `task_active` while one of them is queued or running (nothing is cleared); " +
          "409 `nothing_to_clear` when `onlyFailed` finds no such task.",
        params: RunParams,
        body: RunClearBody,
        response: { 200: RunCleared, ...errorResponses(["run_not_found", "task_active", "nothing_to_clear"], { body: true }) },
      },
    },
    async (req) => {
      const { dagId, runId } = req.params;
      const onlyFailed = req.body?.onlyFailed ?? true;
      return clearTasks(db, describePrincipal(req.principal), dagId, runId, { kind: "run", onlyFailed });
    },
  );
}
