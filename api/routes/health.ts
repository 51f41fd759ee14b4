// Liveness, readiness and Prometheus metrics; these need no token (they reveal no DAG data).
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { errorBody } from "../errors.ts";
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
      await deps.db.query("SELECT 1");
      return { status: "ready" };
    } catch (err) {
      return reply.status(503).send(errorBody("database_unreachable", `Postgres is not reachable: ${(err as Error).message}`));
    }
  });

  app.get("/metrics", async (_req, reply) => {
    const [runs, tasks, dags] = await Promise.all([
      deps.db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM dag_runs GROUP BY state`),
      deps.db.query<{ state: string; n: number }>(
        `SELECT ti.state, count(*)::int AS n FROM task_instances ti JOIN dag_runs r ON r.id = ti.run_pk
          WHERE r.state IN ('queued', 'running') OR ti.state IN ('queued', 'running') GROUP BY ti.state`,
      ),
      deps.db.query<{ paused: boolean; n: number }>(`SELECT paused, count(*)::int AS n FROM dags WHERE deleted_at IS NULL GROUP BY paused`),
    ]);
    const byState = (rows: { state: string; n: number }[], state: string) => rows.find((r) => r.state === state)?.n ?? 0;
    const lines = [
      "# HELP ferry_dag_runs Runs by state.",
      "# TYPE ferry_dag_runs gauge",
      ...RUN_STATES.map((s) => `ferry_dag_runs{state="${s}"} ${byState(runs, s)}`),
      "# HELP ferry_active_task_instances Tasks of active runs (and any still running) by state.",
      "# TYPE ferry_active_task_instances gauge",
      ...TASK_STATES.map((s) => `ferry_active_task_instances{state="${s}"} ${byState(tasks, s)}`),
      "# HELP ferry_dags DAGs by paused state.",
      "# TYPE ferry_dags gauge",
      `ferry_dags{paused="false"} ${dags.find((d) => !d.paused)?.n ?? 0}`,
      `ferry_dags{paused="true"} ${dags.find((d) => d.paused)?.n ?? 0}`,
      requests.render(),
    ];
    return reply.type("text/plain; version=0.0.4").send(lines.join("\n") + "\n");
  });
}
