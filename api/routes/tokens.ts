// Token routes (README.md, "Tokens and roles"): make an API token with a role (its secret is answered
// once and kept only hashed), list them (never a secret), revoke one. Admin only.
import type { FastifyInstance } from "fastify";
import { newToken, sha256 } from "../../lib/tokens.ts";
import { ROLES, type Role } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { badRequest, notFound } from "../errors.ts";
import { decodeCursor, encodeCursor } from "../serialize.ts";
import { createApiToken, deleteApiToken, listApiTokens, type ApiTokenRow } from "../tokens.repository.ts";
import { pageLimit } from "./paging.ts";

const FIELDS = ["name", "role", "expiresAt"];
const TOKEN_ID = /^[1-9]\d{0,17}$/;

function tokenBody(t: ApiTokenRow) {
  return {
    id: Number(t.id),
    name: t.name,
    role: t.role,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  };
}

function parseBody(body: unknown, now: Date): { name: string; role: Role; expiresAt: Date | null } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest('Send a JSON object: {"name", "role", "expiresAt"?}.');
  const b = body as Record<string, unknown>;
  const unknownKeys = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (unknownKeys.length > 0) throw badRequest(`Unknown field(s) ${unknownKeys.join(", ")}: a token takes ${FIELDS.join(", ")}.`);
  if (typeof b.name !== "string" || b.name.trim() === "" || b.name.length > 200) {
    throw badRequest("name must be a string of 1 to 200 characters that says what the token is for.");
  }
  if (!(ROLES as readonly unknown[]).includes(b.role)) throw badRequest(`role must be one of ${ROLES.join(", ")}.`);
  let expiresAt: Date | null = null;
  if (b.expiresAt !== undefined && b.expiresAt !== null) {
    expiresAt = typeof b.expiresAt === "string" ? new Date(b.expiresAt) : new Date(NaN);
    if (Number.isNaN(expiresAt.getTime())) throw badRequest('expiresAt must be an ISO-8601 date-time, e.g. "2027-01-01T00:00:00Z".');
    if (expiresAt <= now) throw badRequest(`expiresAt must be in the future (it is ${expiresAt.toISOString()}).`);
  }
  return { name: b.name, role: b.role as Role, expiresAt };
}

export function tokenRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;

  app.post("/api/v1/tokens", { config: { role: "admin" } }, async (req, reply) => {
    const t = parseBody(req.body, new Date());
    const token = newToken();
    const row = await createApiToken(db, { ...t, tokenSha256: sha256(token) });
    deps.log.info("api token created", { id: row.id, name: row.name, role: row.role });
    const { lastUsedAt: _, ...made } = tokenBody(row);
    return reply.status(201).send({ ...made, token });
  });

  app.get<{ Querystring: { limit?: string; cursor?: string } }>("/api/v1/tokens", { config: { role: "admin" } }, async (req) => {
    const limit = pageLimit(req.query.limit, 100, 1000);
    let after: string | null = null;
    if (req.query.cursor) {
      const c = decodeCursor(req.query.cursor);
      if (!c || typeof c[0] !== "string" || !TOKEN_ID.test(c[0])) throw badRequest("cursor is not valid: pass back the nextCursor of the previous page.");
      after = c[0];
    }
    const tokens = await listApiTokens(db, { limit: limit + 1, after });
    const page = tokens.slice(0, limit);
    return { tokens: page.map(tokenBody), nextCursor: tokens.length > limit ? encodeCursor([page[page.length - 1]!.id]) : null };
  });

  app.delete<{ Params: { id: string } }>("/api/v1/tokens/:id", { config: { role: "admin" } }, async (req, reply) => {
    const { id } = req.params;
    if (!TOKEN_ID.test(id) || !(await deleteApiToken(db, id))) throw notFound("token", id, "token_not_found");
    deps.log.info("api token revoked", { id });
    return reply.status(204).send();
  });
}
