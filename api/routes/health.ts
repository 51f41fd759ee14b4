// Liveness, readiness and Prometheus metrics; these need no token (they reveal no DAG data).
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { errorBody } from "../errors.ts";
import { ping } from "../../db/db.ts";
import { countDagsByPaused } from "../../scheduler/dags.repository.ts";
import { countByState } from "../../scheduler/runs.repository.ts";
import { RUN_STATES, TASK_STATES } from "../../scheduler/states.ts";

export interface RequestCounter {
  count(method: string, status: number): void;
  render(): string;
}

export function requestCounter(): RequestCounter {
  const counts = new Map<string, number>();
  return {
    count(method, status) {
      const key = `${method}|${status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
    render() {
      const lines = ["# HELP ferry_http_requests_total HTTP requests served by the API.", "# TYPE ferry_http_requests_total counter"];
      for (const [key, n] of counts) {
        const [method, status] = key.split("|");
        lines.push(`ferry_http_requests_total{method="${method}",status="${status}"} ${n}`);
      }
      return lines.join("\n");
    },
  };
}

export function healthRoutes(app: FastifyInstance, deps: ApiDeps, requests: RequestCounter): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    try {
      await ping(deps.db);
      return { status: "ready" };
    } catch (err) {
      return reply.status(503).send(errorBody("database_unreachable", `Postgres is not reachable: ${(err as Error).message}`));
    }
  });

  app.get("/metrics", async (_req, reply) => {
    const [{ runs, tasks }, dags] = await Promise.all([countByState(deps.db), countDagsByPaused(deps.db)]);
    const lines = [
      "# HELP ferry_dag_runs Runs by state.",
      "# TYPE ferry_dag_runs gauge",
      ...RUN_STATES.map((s) => `ferry_dag_runs{state="${s}"} ${runs.get(s) ?? 0}`),
      "# HELP ferry_active_task_instances Tasks of active runs (and any still running) by state.",
      "# TYPE ferry_active_task_instances gauge",
      ...TASK_STATES.map((s) => `ferry_active_task_instances{state="${s}"} ${tasks.get(s) ?? 0}`),
      "# HELP ferry_dags DAGs by paused state.",
      "# TYPE ferry_dags gauge",
      `ferry_dags{paused="false"} ${dags.active}`,
      `ferry_dags{paused="true"} ${dags.paused}`,
      requests.render(),
    ];
    return reply.type("text/plain; version=0.0.4").send(lines.join("\n") + "\n");
  });
}
