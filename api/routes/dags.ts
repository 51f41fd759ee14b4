// DAG routes: post a DAG file, list, read, pause and delete DAGs, and the bundle workers fetch.
import type { FastifyInstance } from "fastify";
import { deleteDag, getBundle, getDag, listDags, saveDagVersion, setPaused } from "../../scheduler/dags.repository.ts";
import { BUNDLE_ROUTE } from "../../lib/pod-contract.ts";
import { workerMayRead } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badRequest, errorBody, notFound } from "../errors.ts";
import { dagBody, decodeCursor, encodeCursor, taskSummaries } from "../serialize.ts";
import { pageLimit } from "./paging.ts";

export const MAX_DAG_SOURCE_BYTES = 1024 * 1024;
/** How much of the recently fetched bundles the API keeps in memory for workers. */
const BUNDLE_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Every try of a function task fetches its DAG version's bundle, and a version's bundle never changes
 * (versions are append-only and never reused): the recent ones are served from memory, least recently
 * used dropped first, and a burst of Pods asking for one that is not there makes one query.
 */
class BundleCache {
  private readonly held = new Map<string, string>();
  private readonly loading = new Map<string, Promise<string | null>>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  async get(dagId: string, version: number, load: () => Promise<string | null>): Promise<string | null> {
    const key = `${version}/${dagId}`;
    const held = this.held.get(key);
    if (held !== undefined) {
      this.held.delete(key);
      this.held.set(key, held);
      return held;
    }
    let loading = this.loading.get(key);
    if (loading === undefined) {
      loading = load()
        .then((bundle) => {
          if (bundle === null) return null;
          this.held.set(key, bundle);
          this.bytes += bundle.length; // UTF-16 code units: near enough for a bound
          for (const [oldest, b] of this.held) {
            if (this.bytes <= this.maxBytes || oldest === key) break;
            this.held.delete(oldest);
            this.bytes -= b.length;
          }
          return bundle;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }
}

function sourceFrom(body: unknown): string {
  if (typeof body === "string") return body;
  if (body && typeof body === "object" && typeof (body as { source?: unknown }).source === "string") {
    return (body as { source: string }).source;
  }
  throw badRequest('Send the DAG file as the body (Content-Type: application/typescript or text/plain), or as JSON {"source": "..."}.');
}

export function dagRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post("/api/v1/dags", { bodyLimit: MAX_DAG_SOURCE_BYTES, config: { role: "author" } }, async (req, reply) => {
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
  });

  app.get<{ Querystring: { limit?: string; cursor?: string } }>("/api/v1/dags", { config: { role: "viewer" } }, async (req) => {
    const limit = pageLimit(req.query.limit, 100, 1000);
    let after: string | undefined;
    if (req.query.cursor) {
      const c = decodeCursor(req.query.cursor);
      if (!c || typeof c[0] !== "string") throw badRequest("cursor is not valid: pass back the nextCursor of the previous page.");
      after = c[0];
    }
    const dags = await listDags(deps.db, { limit: limit + 1, after });
    const page = dags.slice(0, limit);
    return {
      dags: page.map(dagBody),
      nextCursor: dags.length > limit ? encodeCursor([page[page.length - 1]!.dagId]) : null,
    };
  });

  app.get<{ Params: { dagId: string } }>("/api/v1/dags/:dagId", { config: { role: "viewer" } }, async (req) => {
    const dag = await getDag(deps.db, req.params.dagId);
    if (!dag) throw notFound("DAG", req.params.dagId, "dag_not_found");
    return dagBody(dag);
  });

  app.patch<{ Params: { dagId: string }; Body: unknown }>("/api/v1/dags/:dagId", { config: { role: "author" } }, async (req) => {
    const body = req.body as { paused?: unknown } | null;
    if (!body || typeof body !== "object" || typeof body.paused !== "boolean") {
      throw badRequest('Send JSON {"paused": true} or {"paused": false}.');
    }
    if (!(await setPaused(deps.db, req.params.dagId, body.paused))) throw notFound("DAG", req.params.dagId, "dag_not_found");
    await deps.db.notify("ferry_wakeup", "runs");
    return dagBody((await getDag(deps.db, req.params.dagId))!);
  });

  app.delete<{ Params: { dagId: string } }>("/api/v1/dags/:dagId", { config: { role: "admin" } }, async (req, reply) => {
    const outcome = await deleteDag(deps.db, req.params.dagId);
    if (outcome === "not_found") throw notFound("DAG", req.params.dagId, "dag_not_found");
    if (outcome === "has_active_runs") {
      throw new ApiError("dag_has_active_runs", "The DAG has runs that are queued or running: cancel them first, then delete.");
    }
    return reply.status(204).send();
  });

  const bundles = new BundleCache(BUNDLE_CACHE_BYTES);
  app.get<{ Params: { dagId: string; version: string } }>(
    BUNDLE_ROUTE,
    { config: { role: "viewer", allowWorker: true } },
    async (req, reply) => {
      const version = Number(req.params.version);
      if (!Number.isInteger(version) || version < 1) throw badRequest("version must be a positive whole number.");
      if (!(await workerMayRead(req, deps.db, deps.auth.workerSecret, req.params.dagId, version))) {
        // A worker token opens only its own try's DAG version, and only until the try ends: any other is,
        // for this request, not a valid token at all (README.md: 401 without a valid token).
        return reply
          .status(401)
          .header("www-authenticate", 'Bearer realm="ferry"')
          .send(errorBody("unauthorized", "The worker token is not valid for this DAG version, or its try has ended."));
      }
      const bundle = await bundles.get(req.params.dagId, version, () => getBundle(deps.db, req.params.dagId, version));
      if (bundle === null) throw notFound("DAG version", `${req.params.dagId}@${version}`, "dag_version_not_found");
      return reply.type("application/javascript; charset=utf-8").send(bundle);
    },
  );
}
