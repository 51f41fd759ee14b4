// The API's reference, made from the routes' own schemas: `GET /openapi.json` (OpenAPI 3.1, by
// @fastify/swagger) and `GET /docs` (Swagger UI, by @fastify/swagger-ui, whose assets ship inside the
// package: the page loads nothing from anywhere but Ferry, and its Content-Security-Policy says so). Both
// need no token: they describe the API and reveal no data.
//
// registerOpenApi must run before any route is registered: @fastify/swagger collects the routes as they
// are added. Routes under /api/v1 are documented with the bearer scheme; the ones outside need none.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";

export const OPENAPI_ROUTE = "/openapi.json";
export const DOCS_ROUTE = "/docs";

/** Only Ferry's own origin: no CDN, no font service, no validator badge. */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

const DESCRIPTION = `Ferry's REST API: post DAG files, trigger and follow runs, read task logs and events, manage pools and tokens.

Everything under \`/api/v1\` needs \`Authorization: Bearer <token>\`; each operation names the least role it needs
(viewer < author < admin). Errors are \`{"error": {"code", "message", "details"?}}\`; a request that does not
match an operation's schema is answered 400 \`bad_request\` with a message naming the field.
Lists are paged: \`?limit=\` and \`?cursor=\` (the \`nextCursor\` of the previous page, null on the last one).`;

export function registerOpenApi(app: FastifyInstance, version: string): void {
  void app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Ferry", version, description: DESCRIPTION },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "An API token (FERRY_API_TOKEN, or one made with POST /api/v1/tokens)." },
        },
      },
      tags: [
        { name: "dags", description: "DAG files and DAGs" },
        { name: "runs", description: "Runs and their tasks" },
        { name: "logs", description: "Task logs and events" },
        { name: "backfills", description: "Backfills" },
        { name: "pools", description: "Pools" },
        { name: "tokens", description: "API tokens (admin)" },
        { name: "service", description: "Health, metrics and this reference (no token)" },
      ],
    },
    transform({ schema, url, route }) {
      const role = route.config?.role;
      const open = !url.startsWith("/api/");
      const documented: Record<string, unknown> = {
        ...schema,
        ...(open ? { security: [] } : { security: [{ bearer: [] }] }),
        ...(role ? { description: [schema?.description, `Needs the role \`${role}\` or above.`].filter(Boolean).join("\n\n") } : {}),
      };
      // The UI's own page is part of the reference; its assets (hidden by the plugin) are not.
      if (url === DOCS_ROUTE || url === `${DOCS_ROUTE}/`) {
        Object.assign(documented, {
          hide: false,
          tags: ["service"],
          summary: "This reference, as a page (Swagger UI)",
          response: { 200: { description: "An HTML page; its scripts and styles come from Ferry itself.", content: { "text/html": { schema: { type: "string" } } } } },
        });
        return { schema: documented, url: DOCS_ROUTE };
      }
      return { schema: documented, url };
    },
    // fastify needs no body where a body's schema takes null (a trigger with none is a trigger with defaults).
    transformObject(document) {
      if (!("openapiObject" in document)) return document.swaggerObject;
      const { openapiObject } = document;
      for (const path of Object.values(openapiObject.paths ?? {})) {
        for (const op of Object.values(path ?? {}) as { requestBody?: { required?: boolean; content?: Record<string, { schema?: { anyOf?: { type?: string }[] } }> } }[]) {
          const body = op?.requestBody;
          if (body?.content && Object.values(body.content).every((c) => c.schema?.anyOf?.some((s) => s.type === "null"))) body.required = false;
        }
      }
      return openapiObject;
    },
  });

  void app.register(swaggerUi, {
    routePrefix: DOCS_ROUTE,
    staticCSP: DOCS_CSP,
    validatorUrl: false,
    theme: { title: "Ferry API" },
    uiConfig: { deepLinking: true, docExpansion: "list", defaultModelsExpandDepth: 0, tryItOutEnabled: false },
  });

  void app.register(async (scope) => {
    scope.get(
      OPENAPI_ROUTE,
      {
        schema: {
          tags: ["service"],
          summary: "This API's OpenAPI 3.1 document",
          response: { 200: { description: "The OpenAPI document.", type: "object", additionalProperties: true } },
        },
      },
      async () => scope.swagger(),
    );
  });
}
