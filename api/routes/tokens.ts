// Token routes (README.md, "Tokens and roles"): make an API token with a role (its secret is answered
// once and kept only hashed), list them (never a secret), revoke one. Admin only.
import { Type } from "@sinclair/typebox";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { newToken, sha256 } from "../../lib/tokens.ts";
import { ROLES, type Role } from "../auth.ts";
import type { ApiDeps } from "../deps.ts";
import { badCursor, badRequest, notFound } from "../errors.ts";
import { errorResponses, NoContent, Nullable, PageQuery, StringEnum } from "../schemas/common.ts";
import { TokenCreated, TokenList } from "../schemas/resources.ts";
import { decodeCursor, encodeCursor } from "../serialize.ts";
import { createApiToken, deleteApiToken, listApiTokens, type ApiTokenRow } from "../tokens.repository.ts";

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

const TokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: "What the token is for." }),
    role: StringEnum(ROLES, { description: "viewer reads; author also pushes, triggers, cancels, clears and backfills; admin does everything." }),
    expiresAt: Type.Optional(Nullable(Type.String({ description: 'ISO-8601, in the future, e.g. "2027-01-01T00:00:00Z"; null or absent: never.' }))),
  },
  { additionalProperties: false },
);

export function tokenRoutes(server: FastifyInstance, deps: ApiDeps): void {
  const { db } = deps;
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    "/api/v1/tokens",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "Make an API token",
        description: "The answer holds the token's secret, this once; Ferry keeps only its SHA-256.",
        body: TokenBody,
        response: { 201: TokenCreated, ...errorResponses([], { body: true }) },
      },
    },
    async (req, reply) => {
      const t = parseBody(req.body, new Date());
      const token = newToken();
      const row = await createApiToken(db, { ...t, tokenSha256: sha256(token) });
      deps.log.info("api token created", { id: row.id, name: row.name, role: row.role });
      const { lastUsedAt: _, ...made } = tokenBody(row);
      return reply.status(201).send({ ...made, token });
    },
  );

  app.get(
    "/api/v1/tokens",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "List API tokens",
        description: "Oldest first; never a secret.",
        querystring: PageQuery(100, 1000),
        response: { 200: TokenList, ...errorResponses() },
      },
    },
    async (req) => {
      const limit = req.query.limit ?? 100;
      let after: string | null = null;
      if (req.query.cursor) {
        const c = decodeCursor(req.query.cursor);
        if (!c || typeof c[0] !== "string" || !TOKEN_ID.test(c[0])) throw badCursor();
        after = c[0];
      }
      const tokens = await listApiTokens(db, { limit: limit + 1, after });
      const page = tokens.slice(0, limit);
      return { tokens: page.map(tokenBody), nextCursor: tokens.length > limit ? encodeCursor([page[page.length - 1]!.id]) : null };
    },
  );

  app.delete(
    "/api/v1/tokens/:id",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "Revoke an API token",
        description: "It opens nothing from the next request on.",
        params: Type.Object({ id: Type.String({ description: "The token's id." }) }),
        response: { 204: NoContent, ...errorResponses(["token_not_found"]) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (!TOKEN_ID.test(id) || !(await deleteApiToken(db, id))) throw notFound("token", id, "token_not_found");
      deps.log.info("api token revoked", { id });
      return reply.status(204).send();
    },
  );
}
