// Backfill routes (README.md, "Scheduling rules"): make a backfill over a range of schedule ticks,
// follow its progress, cancel it.
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { parseStart } from "../../dagfile/schedule.ts";
import { notifyWakeup } from "../../db/wakeup.ts";
import { recordOnLatestTries, recordOnOpenTries } from "../../executor/try-events.repository.ts";
import { cancelBackfill, createBackfill, type BackfillRequest } from "../../scheduler/backfills.ts";
import { getBackfill, REPROCESS_MODES, type BackfillRow, type Reprocess } from "../../scheduler/backfills.repository.ts";
import { getDag } from "../../scheduler/dags.repository.ts";
import { listBackfillRuns, type RunRow } from "../../scheduler/runs.repository.ts";
import { RUN_STATES, type RunState } from "../../scheduler/states.ts";
import { describePrincipal } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { DagId, DagParams, errorResponses, StringEnum } from "../schemas/common.ts";
import { Backfill, BackfillCreated } from "../schemas/resources.ts";

const FIELDS = ["from", "to", "maxActiveRuns", "reprocess"];
const MAX_ACTIVE_RUNS_LIMIT = 10_000;

/** The request's fields; dates without an offset are read in the DAG's time zone, as `start` is. */
function parseRequest(body: unknown, timezone: string): BackfillRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest('Send a JSON object: {"from", "to", "maxActiveRuns"?, "reprocess"?}.');
  }
  const b = body as Record<string, unknown>;
  const unknownKeys = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (unknownKeys.length > 0) throw badRequest(`Unknown field(s) ${unknownKeys.join(", ")}: a backfill takes ${FIELDS.join(", ")}.`);
  const date = (name: "from" | "to"): Date => {
    const value = b[name];
    const parsed = typeof value === "string" ? parseStart(value, timezone) : null;
    if (!parsed?.ok) {
      const given = value === undefined ? "is missing" : `is ${JSON.stringify(value)}`;
      throw new ApiError("backfill_bad_date", `${name} ${given}: give an ISO-8601 date-time, e.g. "2026-01-01T00:00:00Z" (without an offset it is read in the DAG's timezone, ${timezone}).`, { field: name });
    }
    return new Date(parsed.iso);
  };
  const from = date("from");
  const to = date("to");
  const { maxActiveRuns, reprocess } = b;
  if (maxActiveRuns !== undefined && !(Number.isInteger(maxActiveRuns) && (maxActiveRuns as number) >= 1 && (maxActiveRuns as number) <= MAX_ACTIVE_RUNS_LIMIT)) {
    throw badRequest(`maxActiveRuns must be a whole number from 1 to ${MAX_ACTIVE_RUNS_LIMIT}.`);
  }
  if (reprocess !== undefined && !(REPROCESS_MODES as readonly unknown[]).includes(reprocess)) {
    throw badRequest(`reprocess must be one of ${REPROCESS_MODES.join(", ")}.`);
  }
  return { from, to, maxActiveRuns: maxActiveRuns as number | undefined, reprocess: (reprocess as Reprocess | undefined) ?? "none" };
}

/** A backfill's progress: its runs and their states. A live backfill is `running` until none of its runs is queued or running. */
function backfillBody(b: BackfillRow, runs: RunRow[]) {
  const counts = { total: runs.length, ...Object.fromEntries(RUN_STATES.map((s) => [s, 0])) } as { total: number } & Record<RunState, number>;
  for (const run of runs) counts[run.state]!++;
  const active = counts.queued! + counts.running! > 0;
  const state = b.cancelledAt ? ("cancelled" as const) : active ? ("running" as const) : ("completed" as const);
  const lastEnd = runs.reduce<Date | null>((latest, r) => (r.endedAt && (!latest || r.endedAt > latest) ? r.endedAt : latest), null);
  return {
    backfillId: Number(b.id),
    dagId: b.dagId,
    from: b.from.toISOString(),
    to: b.to.toISOString(),
    maxActiveRuns: b.maxActiveRuns,
    reprocess: b.reprocess,
    dagVersion: b.dagVersion,
    state,
    createdAt: b.createdAt.toISOString(),
    cancelledAt: b.cancelledAt?.toISOString() ?? null,
    endedAt: state === "cancelled" ? b.cancelledAt!.toISOString() : state === "completed" ? (lastEnd ?? b.createdAt).toISOString() : null,
    counts,
    runs: runs.map((r) => ({
      runId: r.runId,
      logicalDate: r.logicalDate.toISOString(),
      state: r.state,
      startedAt: r.startedAt?.toISOString() ?? null,
      endedAt: r.endedAt?.toISOString() ?? null,
    })),
  };
}

const DATE_RULE = "ISO-8601; without an offset it is read in the DAG's timezone. Missing or not a date: 422 `backfill_bad_date`.";
// `from` and `to` are not required here: without them the answer is the backfill's own 422 backfill_bad_date.
const BackfillBody = Type.Object(
  {
    from: Type.Optional(Type.String({ description: `The first tick's earliest time: ${DATE_RULE}` })),
    to: Type.Optional(Type.String({ description: `The last tick's latest time: ${DATE_RULE}` })),
    maxActiveRuns: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ACTIVE_RUNS_LIMIT, description: "How many of its runs may run at once." })),
    reprocess: Type.Optional(StringEnum(REPROCESS_MODES, { description: "Which ticks that already have a run run again; default none." })),
  },
  { additionalProperties: false },
);
const BackfillParams = Type.Object({ dagId: DagId, id: Type.String({ description: "The backfill's id." }) });
const BACKFILL_REFUSALS = [
  "backfill_bad_date",
  "backfill_manual_dag",
  "backfill_reversed_range",
  "backfill_empty_range",
  "backfill_in_future",
  "backfill_too_many_ticks",
] as const;

export function backfillRoutes(server: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    "/api/v1/dags/:dagId/backfills",
    {
      config: { role: "author" },
      schema: {
        tags: ["backfills"],
        summary: "Backfill a range of schedule ticks",
        description: "A run for every tick of the DAG's schedule from `from` to `to`; see the README, Backfills.",
        params: DagParams,
        body: BackfillBody,
        response: { 201: BackfillCreated, ...errorResponses(["dag_not_found", ...BACKFILL_REFUSALS], { body: true }) },
      },
    },
    async (req, reply) => {
      const dag = await getDag(db, req.params.dagId);
      if (!dag) throw notFound("DAG", req.params.dagId, "dag_not_found");
      const request = parseRequest(req.body, dag.definition.timezone);
      const who = describePrincipal(req.principal);
      const outcome = await db.transaction(async (tx) => {
        const made = await createBackfill(tx, dag.dagId, request, new Date());
        if (made.kind !== "created") return made;
        for (const run of made.cleared) {
          // Normal, not Warning: as a clear through the API, the try's own end stays its last Warning.
          const message = `cleared by backfill ${made.backfill.id} (reprocess: ${request.reprocess}) through the API by ${who}; the task runs again as a new try`;
          await recordOnLatestTries(tx, run.runPk, run.taskIds.map((taskId) => ({ taskId, type: "Normal" as const, reason: "Cleared", message })));
        }
        return made;
      });
      if (outcome.kind === "dag_not_found") throw notFound("DAG", req.params.dagId, "dag_not_found");
      if (outcome.kind === "refused") throw new ApiError(outcome.refusal.code, outcome.refusal.message);
      await notifyWakeup(db, "runs");
      const made = outcome.runs.filter((r) => r.action === "created").length;
      if (made > 0) deps.metrics?.runsCreated.inc({ type: "backfill" }, made);
      const b = outcome.backfill;
      return reply.status(201).send({
        backfillId: Number(b.id),
        dagId: b.dagId,
        from: b.from.toISOString(),
        to: b.to.toISOString(),
        maxActiveRuns: b.maxActiveRuns,
        reprocess: b.reprocess,
        runs: outcome.runs.map((r) => ({ runId: r.runId, logicalDate: r.logicalDate.toISOString(), action: r.action })),
        leftAlone: outcome.leftAlone.map((r) => ({ runId: r.runId, logicalDate: r.logicalDate.toISOString(), reason: r.reason })),
      });
    },
  );

  app.get(
    "/api/v1/dags/:dagId/backfills/:id",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["backfills"],
        summary: "Read a backfill",
        description: "Its progress: its runs and their states.",
        params: BackfillParams,
        response: { 200: Backfill, ...errorResponses(["backfill_not_found"]) },
      },
    },
    async (req) => {
      const b = await getBackfill(db, req.params.dagId, req.params.id);
      if (!b) throw notFound("backfill", req.params.id, "backfill_not_found");
      return backfillBody(b, await listBackfillRuns(db, b.id));
    },
  );

  app.post(
    "/api/v1/dags/:dagId/backfills/:id/cancel",
    {
      config: { role: "author" },
      schema: {
        tags: ["backfills"],
        summary: "Cancel a backfill",
        description: "Cancels its queued and running runs, as a run cancel does; 409 `backfill_finished` when it has ended.",
        params: BackfillParams,
        response: { 200: Backfill, ...errorResponses(["backfill_not_found", "backfill_finished"]) },
      },
    },
    async (req) => {
      const { dagId, id } = req.params;
      const who = describePrincipal(req.principal);
      const outcome = await db.transaction(async (tx) => {
        const cancelled = await cancelBackfill(tx, dagId, id);
        if (cancelled.kind !== "cancelled") return cancelled;
        // As a run cancel: who stopped them, on the tries themselves (their logs end mid-way and this says why).
        for (const run of cancelled.cancelledRuns) {
          await recordOnOpenTries(tx, run.pk, { type: "Warning", reason: "Cancelled", message: `cancelled with backfill ${id} through the API by ${who}` });
        }
        return cancelled;
      });
      if (outcome.kind === "not_found") throw notFound("backfill", id, "backfill_not_found");
      if (outcome.kind === "finished") throw new ApiError("backfill_finished", outcome.message);
      await notifyWakeup(db, "tries");
      const b = (await getBackfill(db, dagId, id))!;
      return backfillBody(b, await listBackfillRuns(db, b.id));
    },
  );
}
