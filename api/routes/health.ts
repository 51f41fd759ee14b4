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
import { Liveness } from "../schemas/resources.ts";
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
  // Both loops catch every error and run until stopped, so a loop that hangs on an await that never
  // settles shows only here: its heartbeat (lib/heartbeat.ts) stops. A 503 restarts the Pod through the
  // liveness probe. It has the 200's shape, not an error's: no request was wrong, and a prober or a
  // person reads one answer, whichever loop is stuck. A Postgres outage does not fail it (each failed
  // pass still ends and beats); that is /readyz's.
  app.get(
    "/healthz",
    {
      schema: {
        tags: ["service"],
        summary: "Liveness: the process answers and its loops complete passes",
        description:
          "503 once a scheduler or executor loop of this process has completed no pass for longer than its threshold " +
          "(a minute, or ten poll intervals if longer), counted from the loop's start before its first pass.",
        response: {
          200: Liveness("ok", "Every loop of this process completed a pass recently."),
          503: Liveness("stuck", "A loop of this process completed no pass for too long: restart the process."),
        },
      },
    },
    async (_req, reply) => {
      const components: Record<string, { lastPassAt: string | null; lastPassAgeSeconds: number; stuckAfterSeconds: number; stuck: boolean }> = {};
      const stuck: string[] = [];
      for (const [name, h] of metrics.loops.health()) {
        components[name] = {
          lastPassAt: h.lastPassAt?.toISOString() ?? null,
          lastPassAgeSeconds: Math.floor(h.ageMs / 1000),
          stuckAfterSeconds: h.stuckAfterMs / 1000,
          stuck: h.stuck,
        };
        if (h.stuck) stuck.push(name);
      }
      if (stuck.length === 0) return { status: "ok", components };
      deps.log.warn(`loop stuck: ${stuck.join(", ")} completed no pass for too long; /healthz fails so the process is restarted`, { components });
      return reply.status(503).send({ status: "stuck", components });
    },
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
