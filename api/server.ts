// The HTTP API (fastify). Routes live in api/routes/, one file per resource. fastify logs through
// Ferry's own pino logger (its request logging stays off; a failed request is logged by handleError).
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from "fastify";
import { pinoOf } from "../lib/logger.ts";
import { authHook, requireDeclaredRole, type Role } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { guardBody } from "./body-guard.ts";
import { errorBody, handleError } from "./errors.ts";
import { registerOpenApi } from "./openapi.ts";
import { schemaErrorFormatter, validatorCompiler } from "./validation.ts";
import { backfillRoutes } from "./routes/backfills.ts";
import { poolRoutes } from "./routes/pools.ts";
import { eventRoutes } from "./routes/events.ts";
import { dagRoutes, MAX_DAG_SOURCE_BYTES } from "./routes/dags.ts";
import { createMetrics } from "../lib/metrics.ts";
import { healthRoutes } from "./routes/health.ts";
import { logRoutes } from "./routes/logs.ts";
import { runRoutes } from "./routes/runs.ts";
import { tokenRoutes } from "./routes/tokens.ts";

/** One route of the API as registered: its method, its URL pattern and the options that say who may call it. */
export interface RegisteredRoute {
  method: string;
  url: string;
  role: Role | null;
  allowWorker: boolean;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route `buildApi` registered (HEAD ones included), in order; complete once the API is ready. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const pino: FastifyBaseLogger | undefined = pinoOf(deps.log);
  const app = Fastify({
    ...(pino ? { loggerInstance: pino } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_DAG_SOURCE_BYTES,
    return503OnClosing: true,
    // A refused request is Ferry's 400 bad_request naming the field (api/validation.ts).
    schemaErrorFormatter,
    // A URL that does not decode (e.g. %ff) is refused in Ferry's error shape too.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).status(400).send(errorBody("bad_request", `The URL is not valid: ${err.message}.`));
    },
  });
  // Params and query coerced from text, bodies taken as sent; unknown body fields refused, not dropped.
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API (/openapi.json) and are checked by test/api/openapi.test.ts; they
  // do not serialize: a reply is exactly the JSON the route built (fastify's serializer would drop or
  // coerce what a schema does not say).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // No NUL characters and no absurd nesting in any body (api/body-guard.ts), before the route's schema.
  app.addHook("preValidation", guardBody);
  const metrics = deps.metrics ?? createMetrics();
  deps = { ...deps, metrics };
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) {
      routes.push({ method, url: r.url, role: r.config?.role ?? null, allowWorker: r.config?.allowWorker === true });
    }
  });

  // DAG files are posted as TypeScript source.
  app.addContentTypeParser(["application/typescript", "application/x-typescript", "text/typescript"], { parseAs: "string" }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody("route_not_found", `No route ${req.method} ${req.url.split("?")[0]}; see the README for the API.`));
  });
  app.addHook("onResponse", async (req, reply) => {
    metrics.httpRequests.inc({ method: req.method, status: String(reply.statusCode) });
  });

  // Before any route: the OpenAPI document is made from the routes as they are registered.
  registerOpenApi(app, "1");
  // Outside /api/v1, no token: health, metrics and the API's reference reveal no DAG data.
  void app.register(async (open) => healthRoutes(open, deps, metrics));
  void app.register(async (api) => {
    // Every route below declares the least role it needs (api/auth.ts); one that does not fails here.
    api.addHook("onRoute", requireDeclaredRole);
    api.addHook("onRequest", authHook(deps.auth, deps.db));
    dagRoutes(api, deps);
    runRoutes(api, deps);
    backfillRoutes(api, deps);
    poolRoutes(api, deps);
    logRoutes(api, deps);
    eventRoutes(api, deps);
    tokenRoutes(api, deps);
  });
  return app;
}
