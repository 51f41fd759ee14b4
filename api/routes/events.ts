// GET .../tasks/{taskId}/events: Ferry's account of one try beside its log (who cancelled it, what the
// cluster said about its Pod), oldest first. Kept apart from the logs route on purpose: the log is
// exactly the container's bytes, and nothing of Ferry's is ever mixed into it.
import type { FastifyInstance } from "fastify";
import { findTry } from "../../executor/tries.repository.ts";
import { listTryEvents } from "../../executor/try-events.repository.ts";
import { getRun, getTaskInstance } from "../../scheduler/runs.repository.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, notFound } from "../errors.ts";
import { parseLogRequest } from "../log-request.ts";
import { tryEventBody } from "../serialize.ts";

export function eventRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Params: { dagId: string; runId: string; taskId: string }; Querystring: { try?: string } }>(
    "/api/v1/dags/:dagId/runs/:runId/tasks/:taskId/events",
    { config: { role: "viewer" } },
    async (req) => {
      const { dagId, runId, taskId } = req.params;
      // The same `try` as the logs route takes, checked the same way.
      const { tryNumber } = parseLogRequest({ try: req.query.try }, undefined);
      const run = await getRun(deps.db, dagId, runId);
      if (!run) throw notFound("run", runId, "run_not_found");
      const ti = await getTaskInstance(deps.db, run.pk, taskId);
      if (!ti) throw notFound("task", taskId, "task_not_found");
      const tr = await findTry(deps.db, ti.id, tryNumber);
      if (!tr) {
        if (tryNumber !== null) throw new ApiError("try_not_found", `Task ${taskId} has no try ${tryNumber} (it has ${ti.tryNumber}).`);
        throw new ApiError("no_try_yet", `Task ${taskId} has not started yet (state ${ti.state}); it has no try and no events.`);
      }
      const events = await listTryEvents(deps.db, ti.id, tr.tryNumber);
      return {
        tryNumber: tr.tryNumber,
        state: tr.state,
        endedAt: tr.endedAt ? tr.endedAt.toISOString() : null,
        events: events.map(tryEventBody),
      };
    },
  );
}
