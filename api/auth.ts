// Bearer-token authentication and roles for everything under /api/v1 (README.md, "Tokens and roles").
//
// - The admin token (FERRY_API_TOKEN, or the one generated on first start) is the role admin.
// - Tokens made with POST /api/v1/tokens carry their role: viewer (read), author (also push DAGs,
//   trigger, clear, cancel, backfill, pause), admin (everything: also tokens, pools, deleting DAGs).
// - A worker token opens only the bundle of its own try's DAG version, while the try has not ended.
//
// Each route declares the least role it needs, once, in its options: `{ config: { role: "author" } }`.
// api/server.ts refuses to register a route under /api/v1 without one, and the hook here is the only
// place the role is checked. 401 without a valid token (unknown, revoked, expired); 403 with a valid
// token whose role may not call the route.
import type { FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import type { Queryable } from "../db/db.ts";
import { findTry } from "../executor/tries.repository.ts";
import { sameSecret, sha256, WORKER_TOKEN_PREFIX, workerTokenTry } from "../lib/tokens.ts";
import { errorBody } from "./errors.ts";
import { ROLES, useApiToken, type Role } from "./tokens.repository.ts";

export { ROLES, type Role };

export interface AuthSettings {
  adminTokenHash: string;
  workerSecret: string;
}

export type Principal =
  | { kind: "admin" }
  | { kind: "token"; id: string; name: string; role: Role }
  | { kind: "worker"; token: string };

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The least role that may call the route. Every route under /api/v1 declares one (api/server.ts checks). */
    role?: Role;
    /** The route also accepts worker tokens (it checks which try and DAG version the token is for). */
    allowWorker?: boolean;
  }
}

/** Whether a principal of role `have` may call a route that needs `need`: each role can do all the one before it can. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

function bearer(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

function unauthorized(reply: FastifyReply, message: string) {
  return reply.status(401).header("www-authenticate", 'Bearer realm="ferry"').send(errorBody("unauthorized", message));
}

/** An onRoute hook: a route that declares no role is a mistake found at start, not a route open to all. */
export function requireDeclaredRole(route: RouteOptions): void {
  const role = route.config?.role;
  if (role === undefined || !ROLES.includes(role)) {
    const method = Array.isArray(route.method) ? route.method.join(",") : route.method;
    throw new Error(`route ${method} ${route.url} declares no role: give it { config: { role: ${ROLES.map((r) => `"${r}"`).join(" | ")} } } (api/auth.ts)`);
  }
}

export function authHook(settings: AuthSettings, db: Queryable) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(req);
    if (!token) return unauthorized(reply, "Send an API token as `Authorization: Bearer <token>` (see FERRY_API_TOKEN).");
    const config = req.routeOptions.config;
    if (token.startsWith(WORKER_TOKEN_PREFIX)) {
      // A worker token is no token at all outside the bundle route.
      if (!config.allowWorker) return unauthorized(reply, "The API token is not valid.");
      req.principal = { kind: "worker", token };
      return;
    }
    let role: Role;
    if (sameSecret(sha256(token), settings.adminTokenHash)) {
      req.principal = { kind: "admin" };
      role = "admin";
    } else {
      const row = await useApiToken(db, sha256(token));
      if (!row) return unauthorized(reply, "The API token is not valid (unknown, revoked or expired).");
      req.principal = { kind: "token", id: row.id, name: row.name, role: row.role };
      role = row.role;
    }
    // Undeclared cannot happen (requireDeclaredRole); if it did, only admin may pass.
    const need: Role = config.role ?? "admin";
    if (!roleAllows(role, need)) {
      return reply
        .status(403)
        .send(errorBody("forbidden", `${req.method} ${config.url} needs the role ${need} or above; ${describePrincipal(req.principal)} has the role ${role}.`));
    }
  };
}

/** Who made a request, in words for the records Ferry keeps of it ("cancelled ... by the admin token"). */
export function describePrincipal(p: Principal | undefined): string {
  if (p?.kind === "admin") return "the admin token";
  if (p?.kind === "token") return `the token ${JSON.stringify(p.name)} (id ${p.id})`;
  if (p?.kind === "worker") return "a worker token";
  return "an unknown caller";
}

/**
 * Whether the caller may read this DAG version's bundle. A user token already passed its role check; a
 * worker token must have been made for a try of this DAG version, and that try must not have ended.
 */
export async function workerMayRead(req: FastifyRequest, db: Queryable, secret: string, dagId: string, version: number): Promise<boolean> {
  const p = req.principal;
  if (p?.kind !== "worker") return p !== undefined;
  const t = workerTokenTry(secret, p.token, dagId, version);
  if (!t) return false;
  const tr = await findTry(db, t.taskInstanceId, t.tryNumber);
  return tr !== null && tr.tryNumber === t.tryNumber && tr.endedAt === null;
}
