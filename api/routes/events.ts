// GET .../tasks/{taskId}/events: Ferry's account of one try beside its log (who cancelled it, what the
// cluster said about its Pod), oldest first, a page at a time. Kept apart from the logs route on
// purpose: the log is exactly the container's bytes, and nothing of Ferry's is ever mixed into it.
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { findTry } from "../../executor/tries.repository.ts";
import { listTryEvents } from "../../executor/try-events.repository.ts";
import { getRun, getTaskInstance } from "../../scheduler/runs.repository.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badCursor, notFound } from "../errors.ts";
import { parseLogRequest } from "../log-request.ts";
import { errorResponses, PageQuery, TaskParams } from "../schemas/common.ts";
import { TryEvents } from "../schemas/resources.ts";
import { decodeCursor, encodeCursor, tryEventBody } from "../serialize.ts";

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 1000;

export function eventRoutes(server: FastifyInstance, deps: ApiDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    "/api/v1/dags/:dagId/runs/:runId/tasks/:taskId/events",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["logs"],
        summary: "A try's events",
        description:
          "Ferry's account of the try and the Kubernetes Events about its Pod, oldest first. 404 `no_try_yet` when the task has not started a try, " +
          "`try_not_found` for a try it does not have.",
        params: TaskParams,
        querystring: PageQuery(DEFAULT_LIMIT, MAX_LIMIT, {
          try: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: "The try (default: the latest)." })),
        }),
        response: { 200: TryEvents, ...errorResponses(["run_not_found", "task_not_found", "no_try_yet", "try_not_found"]) },
      },
    },
    async (req) => {
      const { dagId, runId, taskId } = req.params;
      // The same `try` as the logs route takes, checked the same way.
      const { tryNumber } = parseLogRequest({ try: req.query.try }, undefined);
      const limit = req.query.limit ?? DEFAULT_LIMIT;
      let offset = 0;
      if (req.query.cursor) {
        const c = decodeCursor(req.query.cursor);
        if (!c || typeof c[0] !== "number" || !Number.isSafeInteger(c[0]) || c[0] < 1) throw badCursor();
        offset = c[0];
      }
      const run = await getRun(deps.db, dagId, runId);
      if (!run) throw notFound("run", runId, "run_not_found");
      const ti = await getTaskInstance(deps.db, run.pk, taskId);
      if (!ti) throw notFound("task", taskId, "task_not_found");
      const tr = await findTry(deps.db, ti.id, tryNumber);
      if (!tr) {
        if (tryNumber !== null) throw new ApiError("try_not_found", `Task ${taskId} has no try ${tryNumber} (it has ${ti.tryNumber}).`);
        throw new ApiError("no_try_yet", `Task ${taskId} has not started yet (state ${ti.state}); it has no try and no events.`);
      }
      // A try's events are few (a Kubernetes Event seen again is counted, not repeated): a page is a slice
      // of them in their order (by time, then as recorded), the cursor where the next page starts. Once
      // the try has ended the order only grows at its end (the Pod's Events are copied as it ends).
      const events = await listTryEvents(deps.db, ti.id, tr.tryNumber);
      const page = events.slice(offset, offset + limit);
      return {
        tryNumber: tr.tryNumber,
        state: tr.state,
        endedAt: tr.endedAt ? tr.endedAt.toISOString() : null,
        events: page.map(tryEventBody),
        nextCursor: events.length > offset + limit ? encodeCursor([offset + limit]) : null,
      };
    },
  );
}
