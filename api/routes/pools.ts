// Pool routes (README.md, "Concurrency"): named sets of slots that bound how many tries of their tasks
// are queued or running at once. PUT makes or resizes one; a task names its pool with the `pool` option.
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { POOL_NAME } from "../../dagfile/task-options.ts";
import { notifyWakeup } from "../../db/wakeup.ts";
import { DEFAULT_POOL, deletePool, getPool, listPools, putPool, type PoolRow } from "../../scheduler/pools.repository.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badCursor, badRequest, notFound } from "../errors.ts";
import { errorResponses, NoContent, Nullable, PageQuery } from "../schemas/common.ts";
import { Pool, PoolList } from "../schemas/resources.ts";
import { decodeCursor, encodeCursor } from "../serialize.ts";

const MAX_SLOTS = 1_000_000;

function poolBody(p: PoolRow) {
  return {
    name: p.name,
    slots: p.slots,
    description: p.description,
    occupied: p.occupied,
    open: Math.max(0, p.slots - p.occupied),
    waiting: p.waiting,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

function checkName(name: string): void {
  if (!POOL_NAME.test(name)) throw badRequest(`${JSON.stringify(name)} is not a pool name: use 1 to 64 letters, digits, "_", "-" or ".".`);
}

function parseBody(body: unknown): { slots: number; description: string | null | undefined } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest('Send a JSON object: {"slots": n, "description"?: "..."}.');
  const b = body as Record<string, unknown>;
  const unknownKeys = Object.keys(b).filter((k) => k !== "slots" && k !== "description");
  if (unknownKeys.length > 0) throw badRequest(`Unknown field(s) ${unknownKeys.join(", ")}: a pool takes slots and description.`);
  if (!Number.isInteger(b.slots) || (b.slots as number) < 0 || (b.slots as number) > MAX_SLOTS) {
    throw badRequest(`slots must be a whole number from 0 to ${MAX_SLOTS} (0 holds every task of the pool back).`);
  }
  if (b.description !== undefined && b.description !== null && (typeof b.description !== "string" || b.description.length > 1000)) {
    throw badRequest("description must be a string of at most 1000 characters, or null.");
  }
  return { slots: b.slots as number, description: b.description as string | null | undefined };
}

const PoolParams = Type.Object({
  name: Type.String({ pattern: POOL_NAME.source, description: 'A pool name: 1 to 64 letters, digits, "_", "-" or ".".' }),
});
const PoolBody = Type.Object(
  {
    slots: Type.Integer({ minimum: 0, maximum: MAX_SLOTS, description: "How many tries of its tasks may be queued or running at once (0 holds them all back)." }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  },
  { additionalProperties: false },
);

export function poolRoutes(server: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    "/api/v1/pools",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["pools"],
        summary: "List pools",
        description: "By name, with their slots, `occupied`, `open` and `waiting`.",
        querystring: PageQuery(100, 1000),
        response: { 200: PoolList, ...errorResponses() },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      let after: string | null = null;
      if (req.query.cursor) {
        const c = decodeCursor(req.query.cursor);
        if (!c || typeof c[0] !== "string" || !POOL_NAME.test(c[0])) throw badCursor();
        after = c[0];
      }
      const pools = await listPools(db, { limit: limit + 1, after });
      const page = pools.slice(0, limit);
      return { pools: page.map(poolBody), nextCursor: pools.length > limit ? encodeCursor([page[page.length - 1]!.name]) : null };
    },
  );

  app.get(
    "/api/v1/pools/:name",
    {
      config: { role: "viewer" },
      schema: { tags: ["pools"], summary: "Read a pool", params: PoolParams, response: { 200: Pool, ...errorResponses(["pool_not_found"]) } },
    },
    async (req) => {
      checkName(req.params.name);
      const pool = await getPool(db, req.params.name);
      if (!pool) throw notFound("pool", req.params.name, "pool_not_found");
      return poolBody(pool);
    },
  );

  app.put(
    "/api/v1/pools/:name",
    {
      config: { role: "admin" },
      schema: {
        tags: ["pools"],
        summary: "Make or resize a pool",
        description: "201 when it is made, 200 when it is resized.",
        params: PoolParams,
        body: PoolBody,
        response: { 200: Pool, 201: Pool, ...errorResponses([], { body: true }) },
      },
    },
    async (req, reply) => {
      checkName(req.params.name);
      const { slots, description } = parseBody(req.body);
      const { pool, created } = await putPool(db, req.params.name, slots, description);
      // More slots may let waiting tasks start now.
      await notifyWakeup(db, "tasks");
      return reply.status(created ? 201 : 200).send(poolBody(pool));
    },
  );

  app.delete(
    "/api/v1/pools/:name",
    {
      config: { role: "admin" },
      schema: {
        tags: ["pools"],
        summary: "Delete a pool",
        description: 'The pool "default" can be resized but not deleted (409 `pool_protected`).',
        params: PoolParams,
        response: { 204: NoContent, ...errorResponses(["pool_not_found", "pool_protected"]) },
      },
    },
    async (req, reply) => {
      checkName(req.params.name);
      if (req.params.name === DEFAULT_POOL) {
        throw new ApiError("pool_protected", `The pool "${DEFAULT_POOL}" holds every task that names no pool: it can be resized (PUT) but not deleted.`);
      }
      if (!(await deletePool(db, req.params.name))) throw notFound("pool", req.params.name, "pool_not_found");
      return reply.status(204).send();
    },
  );
}
