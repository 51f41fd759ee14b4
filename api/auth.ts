// Bearer-token authentication for everything under /api/v1. The admin token opens every route; a
// worker token opens only the bundle of the DAG version it was made for.
import type { FastifyReply, FastifyRequest } from "fastify";
import { sameSecret, sha256, workerTokenFor } from "../lib/tokens.ts";
import { errorBody } from "./errors.ts";

export interface AuthSettings {
  adminTokenHash: string;
  workerSecret: string;
}

export type Principal = { kind: "admin" } | { kind: "worker"; token: string };

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The route also accepts worker tokens (it checks which DAG version the token is for). */
    allowWorker?: boolean;
  }
}

function bearer(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export function authHook(settings: AuthSettings) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(req);
    if (!token) {
      return reply
        .status(401)
        .header("www-authenticate", 'Bearer realm="ferry"')
        .send(errorBody("unauthorized", "Send the API token as `Authorization: Bearer <token>` (see FERRY_API_TOKEN)."));
    }
    if (sameSecret(sha256(token), settings.adminTokenHash)) {
      req.principal = { kind: "admin" };
      return;
    }
    if (token.startsWith("fw_") && req.routeOptions.config.allowWorker) {
      req.principal = { kind: "worker", token };
      return;
    }
    return reply.status(401).header("www-authenticate", 'Bearer realm="ferry"').send(errorBody("unauthorized", "The API token is not valid."));
  };
}

/** Who made a request, in words for the records Ferry keeps of it ("cancelled ... by the admin token"). */
export function describePrincipal(p: Principal | undefined): string {
  if (p?.kind === "admin") return "the admin token";
  if (p?.kind === "worker") return "a worker token";
  return "an unknown caller";
}

export function workerMayRead(req: FastifyRequest, secret: string, dagId: string, version: number): boolean {
  if (req.principal?.kind === "admin") return true;
  return req.principal?.kind === "worker" && sameSecret(req.principal.token, workerTokenFor(secret, dagId, version));
}
