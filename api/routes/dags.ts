// DAG routes: post a DAG file, list, read, pause and delete DAGs, and the bundle workers fetch.
import { Type } from "@sinclair/typebox";
import { LRUCache } from "lru-cache";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { ID_PATTERN } from "../../dagfile/validate.ts";
import { deleteDag, getBundle, getDag, listDags, saveDagVersion, setPaused } from "../../scheduler/dags.repository.ts";
import type { Queryable } from "../../db/db.ts";
import { BUNDLE_ROUTE } from "../../lib/pod-contract.ts";
import { workerMayRead } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badCursor, badRequest, DAG_FILE_ERROR_CODES, errorBody, notFound } from "../errors.ts";
import { DagId, DagParams, errorResponses, NoContent, PageQuery } from "../schemas/common.ts";
import { Dag, DagList, DagPosted } from "../schemas/resources.ts";
import { dagBody, decodeCursor, encodeCursor, taskSummaries } from "../serialize.ts";

export const MAX_DAG_SOURCE_BYTES = 1024 * 1024;
/** How much of the recently fetched bundles the API keeps in memory for workers. */
const BUNDLE_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Every try of a function task whose bundle is not inline fetches it, and a version's bundle never
 * changes (versions are append-only and never reused): the recent ones are served from memory, least
 * recently used dropped first, and a burst of Pods asking for one that is not there makes one query.
 */
function bundleCache(db: Queryable): LRUCache<string, string, { dagId: string; version: number }> {
  return new LRUCache({
    maxSize: BUNDLE_CACHE_BYTES,
    sizeCalculation: (bundle) => Math.max(1, bundle.length), // UTF-16 code units: near enough for a bound
    fetchMethod: async (_key, _stale, { context: { dagId, version } }) => (await getBundle(db, dagId, version)) ?? undefined,
  });
}

function sourceFrom(body: unknown): string {
  if (typeof body === "string") return body;
  if (body && typeof body === "object" && typeof (body as { source?: unknown }).source === "string") {
    return (body as { source: string }).source;
  }
  throw badRequest('Send the DAG file as the body (Content-Type: application/typescript or text/plain), or as JSON {"source": "..."}.');
}

const SOURCE = Type.String({ description: "The DAG file: TypeScript that imports from \"ferry\" and default-exports a dag(...)." });
const SOURCE_TYPES = ["application/typescript", "application/x-typescript", "text/typescript", "text/plain"];

export function dagRoutes(server: FastifyInstance, deps: ApiDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    "/api/v1/dags",
    {
      bodyLimit: MAX_DAG_SOURCE_BYTES,
      config: { role: "author" },
      schema: {
        tags: ["dags"],
        summary: "Post a DAG file",
        description:
          "Compiles the file (in a sandbox), checks the DAG and stores it as the DAG's next version; the same source again keeps its version (`created: false`). " +
          "422 when it does not compile or validate, with `details.line`/`details.column` and `details.problems`.",
        body: {
          content: {
            ...Object.fromEntries(SOURCE_TYPES.map((t) => [t, { schema: SOURCE }])),
            "application/json": { schema: Type.Object({ source: SOURCE }) },
          },
        },
        response: { 201: DagPosted, ...errorResponses([...DAG_FILE_ERROR_CODES], { body: true }) },
      },
    },
    async (req, reply) => {
      const source = sourceFrom(req.body);
      if (source.trim() === "") throw badRequest("The DAG file is empty.");
      const compiled = await deps.compile(source);
      if (!compiled.ok) {
        const { code, message, ...where } = compiled.error;
        throw new ApiError(code, message, Object.keys(where).length > 0 ? where : undefined);
      }
      const saved = await saveDagVersion(deps.db, { definition: compiled.definition, source, bundle: compiled.bundle });
      deps.log.info(saved.created ? "dag version saved" : "dag unchanged", { dagId: compiled.definition.dagId, version: saved.version });
      return reply.status(201).send({
        dagId: compiled.definition.dagId,
        version: saved.version,
        created: saved.created,
        tasks: taskSummaries(compiled.definition),
      });
    },
  );

  app.get(
    "/api/v1/dags",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["dags"],
        summary: "List DAGs",
        description: "By DAG id; deleted DAGs are not listed.",
        querystring: PageQuery(100, 1000),
        response: { 200: DagList, ...errorResponses() },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      let after: string | undefined;
      if (req.query.cursor) {
        const c = decodeCursor(req.query.cursor);
        if (!c || typeof c[0] !== "string" || !ID_PATTERN.test(c[0])) throw badCursor();
        after = c[0];
      }
      const dags = await listDags(deps.db, { limit: limit + 1, after });
      const page = dags.slice(0, limit);
      return {
        dags: page.map(dagBody),
        nextCursor: dags.length > limit ? encodeCursor([page[page.length - 1]!.dagId]) : null,
      };
    },
  );

  app.get(
    "/api/v1/dags/:dagId",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["dags"],
        summary: "Read a DAG",
        description: "With its latest version, schedule, timezone, `paused`, `nextRunAt` and tasks.",
        params: DagParams,
        response: { 200: Dag, ...errorResponses(["dag_not_found"]) },
      },
    },
    async (req) => {
      const dag = await getDag(deps.db, req.params.dagId);
      if (!dag) throw notFound("DAG", req.params.dagId, "dag_not_found");
      return dagBody(dag);
    },
  );

  app.patch(
    "/api/v1/dags/:dagId",
    {
      config: { role: "author" },
      schema: {
        tags: ["dags"],
        summary: "Pause or unpause a DAG",
        params: DagParams,
        body: Type.Object({ paused: Type.Boolean({ description: "A paused DAG makes no scheduled runs and starts no queued ones." }) }),
        response: { 200: Dag, ...errorResponses(["dag_not_found"], { body: true }) },
      },
    },
    async (req) => {
      const body = req.body as { paused?: unknown } | null;
      if (!body || typeof body !== "object" || typeof body.paused !== "boolean") {
        throw badRequest('Send JSON {"paused": true} or {"paused": false}.');
      }
      if (!(await setPaused(deps.db, req.params.dagId, body.paused))) throw notFound("DAG", req.params.dagId, "dag_not_found");
      await deps.db.notify("ferry_wakeup", "runs");
      return dagBody((await getDag(deps.db, req.params.dagId))!);
    },
  );

  app.delete(
    "/api/v1/dags/:dagId",
    {
      config: { role: "admin" },
      schema: {
        tags: ["dags"],
        summary: "Delete a DAG",
        description:
          "The DAG leaves the API and its schedule stops; its runs and logs stay readable by their URLs, and posting the same dagId again revives it as its next version. " +
          "409 `dag_has_active_runs` while runs are queued or running.",
        params: DagParams,
        response: { 204: NoContent, ...errorResponses(["dag_not_found", "dag_has_active_runs"]) },
      },
    },
    async (req, reply) => {
      const outcome = await deleteDag(deps.db, req.params.dagId);
      if (outcome === "not_found") throw notFound("DAG", req.params.dagId, "dag_not_found");
      if (outcome === "has_active_runs") {
        throw new ApiError("dag_has_active_runs", "The DAG has runs that are queued or running: cancel them first, then delete.");
      }
      return reply.status(204).send();
    },
  );

  const bundles = bundleCache(deps.db);
  // Not through the type provider: the answer is JavaScript, or a 401 the route makes itself.
  server.get<{ Params: { dagId: string; version: number } }>(
    BUNDLE_ROUTE,
    {
      config: { role: "viewer", allowWorker: true },
      schema: {
        tags: ["dags"],
        summary: "A DAG version's compiled bundle",
        description: "What a function task's worker runs. Also open to the worker token of a try of this DAG version, until the try ends.",
        params: Type.Object({ dagId: DagId, version: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: "The DAG version." }) }),
        response: {
          200: { description: "The bundle (JavaScript).", content: { "application/javascript": { schema: Type.String() } } },
          ...errorResponses(["dag_version_not_found"]),
        },
      },
    },
    async (req, reply) => {
      const version = req.params.version;
      if (!Number.isInteger(version) || version < 1) throw badRequest("version must be a positive whole number.");
      if (!(await workerMayRead(req, deps.db, deps.auth.workerSecret, req.params.dagId, version))) {
        // A worker token opens only its own try's DAG version, and only until the try ends: any other is,
        // for this request, not a valid token at all (README.md: 401 without a valid token).
        return reply
          .status(401)
          .header("www-authenticate", 'Bearer realm="ferry"')
          .send(errorBody("unauthorized", "The worker token is not valid for this DAG version, or its try has ended."));
      }
      const bundle = await bundles.fetch(`${version}/${req.params.dagId}`, { context: { dagId: req.params.dagId, version } });
      if (bundle === undefined) throw notFound("DAG version", `${req.params.dagId}@${version}`, "dag_version_not_found");
      return reply.type("application/javascript; charset=utf-8").send(bundle);
    },
  );
}
