// Liveness, readiness and Prometheus metrics (prom-client; lib/metrics.ts lists what the parts count).
// These need no API token: they reveal no DAG data. /metrics can ask for one of its own
// (FERRY_METRICS_TOKEN), for clusters where the API is reachable from outside.
import { timingSafeEqual } from "node:crypto";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import client from "prom-client";
import type { Metrics } from "../../lib/metrics.ts";
import type { ApiDeps } from "../deps.ts";
import { errorBody } from "../errors.ts";
import { ErrorBody } from "../schemas/common.ts";
import { ping } from "../../db/db.ts";
import { countDagsByPaused } from "../../scheduler/dags.repository.ts";
import { countByState } from "../../scheduler/runs.repository.ts";
import { RUN_STATES, TASK_STATES } from "../../scheduler/states.ts";

/** Gauges read from Postgres when scraped: what is in the database, whichever process made it. */
function registerStateGauges(deps: ApiDeps, metrics: Metrics): void {
  const registers = [metrics.registry];
  let reading: Promise<{ runs: Map<string, number>; tasks: Map<string, number>; dags: { active: number; paused: number } }> | null = null;
  // One read serves the three gauges of one scrape.
  const read = () => {
    reading ??= Promise.all([countByState(deps.db), countDagsByPaused(deps.db)])
      .then(([{ runs, tasks }, dags]) => ({ runs, tasks, dags }))
      .finally(() => setTimeout(() => (reading = null), 0));
    return reading;
  };
  new client.Gauge({
    name: "ferry_dag_runs",
    help: "Runs by state.",
    labelNames: ["state"] as const,
    registers,
    async collect() {
      const { runs } = await read();
      for (const s of RUN_STATES) this.set({ state: s }, runs.get(s) ?? 0);
    },
  });
  new client.Gauge({
    name: "ferry_active_task_instances",
    help: "Tasks of active runs (and any still running) by state.",
    labelNames: ["state"] as const,
    registers,
    async collect() {
      const { tasks } = await read();
      for (const s of TASK_STATES) this.set({ state: s }, tasks.get(s) ?? 0);
    },
  });
  new client.Gauge({
    name: "ferry_dags",
    help: "DAGs by paused state.",
    labelNames: ["paused"] as const,
    registers,
    async collect() {
      const { dags } = await read();
      this.set({ paused: "false" }, dags.active);
      this.set({ paused: "true" }, dags.paused);
    },
  });
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export function healthRoutes(app: FastifyInstance, deps: ApiDeps, metrics: Metrics): void {
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["service"],
        summary: "Liveness: the process answers",
        response: { 200: Type.Object({ status: Type.Literal("ok") }, { additionalProperties: false }) },
      },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        tags: ["service"],
        summary: "Readiness: Postgres answers",
        response: {
          200: Type.Object({ status: Type.Literal("ready") }, { additionalProperties: false }),
          503: ErrorBody(["database_unreachable"], "Postgres is not reachable."),
        },
      },
    },
    async (_req, reply) => {
      try {
        await ping(deps.db);
        return { status: "ready" };
      } catch (err) {
        return reply.status(503).send(errorBody("database_unreachable", `Postgres is not reachable: ${(err as Error).message}`));
      }
    },
  );

  registerStateGauges(deps, metrics);
  app.get(
    "/metrics",
    {
      schema: {
        tags: ["service"],
        summary: "Prometheus metrics",
        description: "Open, unless FERRY_METRICS_TOKEN is set: then it needs `Authorization: Bearer <FERRY_METRICS_TOKEN>`.",
        response: {
          200: { description: "Metrics in the Prometheus text format.", content: { "text/plain": { schema: Type.String() } } },
          401: ErrorBody(["unauthorized"], "FERRY_METRICS_TOKEN is set and was not sent."),
        },
      },
    },
    async (req, reply) => {
      if (deps.metricsToken && !bearerMatches(req.headers.authorization, deps.metricsToken)) {
        return reply.status(401).send(errorBody("unauthorized", "/metrics needs Authorization: Bearer <FERRY_METRICS_TOKEN>."));
      }
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    },
  );
}
