// Ferry's token arithmetic, shared by the API (which checks tokens) and the executor (which hands each
// worker Pod a token). The admin token is kept only as its SHA-256; a worker token opens one DAG
// version's bundle and nothing else: an HMAC of (dagId, version) under a secret kept in Postgres.
// Where those secrets are stored is app/credentials.ts's business; this module never touches the database.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

export function newToken(): string {
  return `fy_${randomBytes(24).toString("base64url")}`;
}

/** A fresh secret for signing worker tokens. */
export function newWorkerSecret(): string {
  return randomBytes(32).toString("hex");
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function workerTokenFor(secret: string, dagId: string, version: number): string {
  return `fw_${createHmac("sha256", secret).update(`${dagId}\n${version}`).digest("base64url")}`;
}
