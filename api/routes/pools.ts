// Pool routes (README.md, "Concurrency"): named sets of slots that bound how many tries of their tasks
// are queued or running at once. PUT makes or resizes one; a task names its pool with the `pool` option.
import type { FastifyInstance } from "fastify";
import { POOL_NAME } from "../../dagfile/validate-task.ts";
import { notifyWakeup } from "../../db/wakeup.ts";
import { DEFAULT_POOL, deletePool, getPool, listPools, putPool, type PoolRow } from "../../scheduler/pools.repository.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";
import { decodeCursor, encodeCursor } from "../serialize.ts";
import { pageLimit } from "./paging.ts";

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

export function poolRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;

  app.get<{ Querystring: { limit?: string; cursor?: string } }>("/api/v1/pools", { config: { role: "viewer" } }, async (req) => {
    const limit = pageLimit(req.query.limit, 100, 1000);
    let after: string | null = null;
    if (req.query.cursor) {
      const c = decodeCursor(req.query.cursor);
      if (!c || typeof c[0] !== "string") throw badRequest("cursor is not valid: pass back the nextCursor of the previous page.");
      after = c[0];
    }
    const pools = await listPools(db, { limit: limit + 1, after });
    const page = pools.slice(0, limit);
    return { pools: page.map(poolBody), nextCursor: pools.length > limit ? encodeCursor([page[page.length - 1]!.name]) : null };
  });

  app.get<{ Params: { name: string } }>("/api/v1/pools/:name", { config: { role: "viewer" } }, async (req) => {
    checkName(req.params.name);
    const pool = await getPool(db, req.params.name);
    if (!pool) throw notFound("pool", req.params.name, "pool_not_found");
    return poolBody(pool);
  });

  app.put<{ Params: { name: string } }>("/api/v1/pools/:name", { config: { role: "admin" } }, async (req, reply) => {
    checkName(req.params.name);
    const { slots, description } = parseBody(req.body);
    const { pool, created } = await putPool(db, req.params.name, slots, description);
    // More slots may let waiting tasks start now.
    await notifyWakeup(db, "tasks");
    return reply.status(created ? 201 : 200).send(poolBody(pool));
  });

  app.delete<{ Params: { name: string } }>("/api/v1/pools/:name", { config: { role: "admin" } }, async (req, reply) => {
    checkName(req.params.name);
    if (req.params.name === DEFAULT_POOL) {
      throw new ApiError("pool_protected", `The pool "${DEFAULT_POOL}" holds every task that names no pool: it can be resized (PUT) but not deleted.`);
    }
    if (!(await deletePool(db, req.params.name))) throw notFound("pool", req.params.name, "pool_not_found");
    return reply.status(204).send();
  });
}
