// A process that runs the scheduler or the executor without the API still counts into its metrics and
// still needs probes. So it serves the API's own open routes (api/routes/health.ts: /healthz, /readyz and
// /metrics behind FERRY_METRICS_TOKEN), the same code with the same answers, on a port of its own
// (FERRY_METRICS_PORT), and nothing else: no token-guarded route, no OpenAPI, no request counting
// (ferry_http_requests_total counts the API's requests).
import Fastify, { LogController, type FastifyBaseLogger } from "fastify";
import type { ApiDeps } from "../api/deps.ts";
import { handleError } from "../api/errors.ts";
import { healthRoutes } from "../api/routes/health.ts";
import { pinoOf } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";

export interface MetricsListener {
  /** The port it listens on. */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsListener(deps: ApiDeps, metrics: Metrics, at: { port: number; host: string }): Promise<MetricsListener> {
  const pino: FastifyBaseLogger | undefined = pinoOf(deps.log);
  const app = Fastify({
    ...(pino ? { loggerInstance: pino } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
  });
  // As in the API: response schemas document, they do not reshape what a route sends.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // A scrape that fails (Postgres gone while the state gauges are read) is logged and answered as the API would.
  app.setErrorHandler(handleError);
  healthRoutes(app, deps, metrics);
  try {
    await app.listen({ port: at.port, host: at.host });
  } catch (err) {
    await app.close();
    throw new Error(`The metrics listener cannot listen on ${at.host}:${at.port} (FERRY_METRICS_PORT; 0 turns it off): ${(err as Error).message}`, {
      cause: err,
    });
  }
  const address = app.server.address();
  return { port: typeof address === "object" && address ? address.port : at.port, close: () => app.close() };
}
