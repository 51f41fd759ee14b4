// GET .../tasks/{taskId}/logs: exactly the container's output, streamed with backpressure from the log
// store and, while the try's log is not complete, from its live Pod (the same bytes either way).
// `tail=N`, one HTTP byte range, and `follow=true` are decided here; api/log-serve.ts produces the bytes.
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply } from "fastify";
import { findTry } from "../../executor/tries.repository.ts";
import type { TryLogKey } from "../../logstore/logstore.ts";
import { listStoredLog, tailStart } from "../../logstore/reader.ts";
import { getRun, getTaskInstance } from "../../scheduler/runs.repository.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, errorBody, notFound } from "../errors.ts";
import { parseLogRequest, resolveRange, type LogRequest } from "../log-request.ts";
import { errorResponses, StringEnum, TaskParams } from "../schemas/common.ts";
import { LogOutput } from "../log-output.ts";
import { logFinished, sendFollow, sendLive, sendStored } from "../log-serve.ts";

const TEXT = "text/plain; charset=utf-8";

const LogQuerySchema = Type.Object(
  {
    try: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: "The try (default: the latest); the one served is in X-Ferry-Try." })),
    tail: Type.Optional(Type.Integer({ minimum: 0, description: "Only the last N lines." })),
    follow: Type.Optional(
      StringEnum(["true", "false", "1", "0"] as const, { description: "Stream while the Pod runs, then from the log store, until the try's log is complete." }),
    ),
  },
  { additionalProperties: true },
);

const TEXT_LOG = { "text/plain": { schema: Type.String({ description: "Exactly the container's output." }) } };

export function logRoutes(app: FastifyInstance, deps: ApiDeps): void {
  // Typed by hand, not through the type provider: the answer is a stream of text.
  app.get<{ Params: Static<typeof TaskParams>; Querystring: Static<typeof LogQuerySchema> }>(
    "/api/v1/dags/:dagId/runs/:runId/tasks/:taskId/logs",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["logs"],
        summary: "A try's log",
        description:
          "Exactly the container's output, streamed: from the log store, and while the Pod runs the rest from the Pod. One HTTP byte range " +
          "(`Range: bytes=a-b`, `a-`, `-n`; not with tail or follow) answers 206 over the stored bytes, 416 `range_not_satisfiable` outside them. " +
          "404 `no_log_yet` when the task has not started a try.",
        params: TaskParams,
        querystring: LogQuerySchema,
        headers: Type.Object({ range: Type.Optional(Type.String({ description: "One byte range, e.g. bytes=0-99." })) }),
        response: {
          200: { description: "The log.", content: TEXT_LOG },
          206: { description: "The byte range asked for.", content: TEXT_LOG },
          ...errorResponses(["run_not_found", "task_not_found", "try_not_found", "no_log_yet", "range_not_satisfiable"]),
        },
      },
    },
    async (req, reply) => {
      const { dagId, runId, taskId } = req.params;
      const q = parseLogRequest(req.query, req.headers.range);
      const run = await getRun(deps.db, dagId, runId);
      if (!run) throw notFound("run", runId, "run_not_found");
      const ti = await getTaskInstance(deps.db, run.pk, taskId);
      if (!ti) throw notFound("task", taskId, "task_not_found");
      const tr = await findTry(deps.db, ti.id, q.tryNumber);
      if (!tr) {
        if (q.tryNumber !== null) throw new ApiError("try_not_found", `Task ${taskId} has no try ${q.tryNumber} (it has ${ti.tryNumber}).`);
        throw new ApiError("no_log_yet", `Task ${taskId} has not started yet (state ${ti.state}); there is no log.`);
      }
      const key: TryLogKey = { dagId, runId, taskId, tryNumber: tr.tryNumber };
      const finished = logFinished(tr);
      const log = await listStoredLog(deps.logStore, key);
      const start = q.tail === null ? 0 : await tailStart(deps.logStore, key, log, q.tail);
      reply.header("x-ferry-try", String(tr.tryNumber));
      const body = (produce: (out: LogOutput) => Promise<void>) =>
        new LogOutput().run(produce, (err) => deps.log.warn("log read failed mid-stream", { dagId, runId, taskId, tryNumber: tr.tryNumber, err })).stream;

      if (q.follow) {
        // A follower may wait long for its first byte: send the headers at once so it knows it is in.
        reply.raw.once("pipe", () => reply.raw.flushHeaders());
        return reply.type(TEXT).send(body((out) => sendFollow(deps, out, key, ti.id, start)));
      }
      reply.header("accept-ranges", "bytes");
      if (q.range !== null) {
        // A range is of the stored bytes; while the log can still grow its total is not known yet.
        const total = finished ? String(log.size) : "*";
        const r = typeof q.range === "string" ? null : resolveRange(q.range, log.size);
        if (!r) return unsatisfiable(reply, total, q.range);
        reply.code(206).header("content-range", `bytes ${r.start}-${r.end - 1}/${total}`).header("content-length", r.end - r.start);
        return reply.type(TEXT).send(body((out) => sendStored(deps, out, key, log, r.start, r.end).then(() => {})));
      }
      if (finished) {
        reply.header("content-length", log.size - start);
        return reply.type(TEXT).send(body((out) => sendStored(deps, out, key, log, start).then(() => {})));
      }
      return reply.type(TEXT).send(body((out) => sendLive(deps, out, key, tr, log, start)));
    },
  );
}

function unsatisfiable(reply: FastifyReply, total: string, range: LogRequest["range"]): FastifyReply {
  const message =
    range === "multiple"
      ? "Ferry serves one byte range per request."
      : range === "invalid"
        ? "The Range header is not a byte range such as bytes=0-99, bytes=100- or bytes=-100."
        : `The range is outside the log (${total === "*" ? "its stored bytes, while it still grows" : `${total} bytes`}).`;
  return reply.code(416).header("content-range", `bytes */${total}`).send(errorBody("range_not_satisfiable", message));
}
