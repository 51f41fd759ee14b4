// Ferry's token arithmetic, shared by the API (which checks tokens) and the executor (which hands each
// worker Pod a token). This module never touches the database: where the secrets and the API tokens'
// hashes are kept is app/credentials.ts's and api/tokens.repository.ts's business.
//
// - API tokens (the admin token of FERRY_API_TOKEN, and the tokens made with POST /api/v1/tokens) are
//   192 random bits, kept only as their SHA-256.
// - A worker token opens one try's bundle and nothing else: `fw_<taskInstanceId>.<tryNumber>.<mac>`,
//   the mac an HMAC of (taskInstanceId, tryNumber, dagId, dagVersion) under a secret kept in Postgres.
//   The API checks the mac against the DAG version asked for, and that the try has not ended yet (its
//   outcome is not recorded): so a token stops working when its try ends, and one try's token never
//   opens another DAG's or another version's bundle.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** A fresh API token: 192 random bits. */
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

/** The one try a worker token is made for, and the DAG version whose bundle that try runs. */
export interface WorkerTry {
  taskInstanceId: string;
  tryNumber: number;
  dagId: string;
  dagVersion: number;
}

export const WORKER_TOKEN_PREFIX = "fw_";
const WORKER_TOKEN = /^fw_(\d{1,19})\.(\d{1,9})\.([A-Za-z0-9_-]{43})$/;

function workerMac(secret: string, t: WorkerTry): string {
  // "try" first: a mac for one kind of statement can never pass for another (the old per-version tokens
  // were an HMAC of "dagId\nversion" under the same secret).
  return createHmac("sha256", secret).update(`try\n${t.taskInstanceId}\n${t.tryNumber}\n${t.dagId}\n${t.dagVersion}`).digest("base64url");
}

export function workerTokenFor(secret: string, t: WorkerTry): string {
  return `${WORKER_TOKEN_PREFIX}${t.taskInstanceId}.${t.tryNumber}.${workerMac(secret, t)}`;
}

/**
 * The try a worker token was made for, if it was made by `secret` for a try of this DAG version; null
 * otherwise (malformed, forged, or made for another DAG or version). Whether that try is still
 * unfinished is for the caller to check.
 */
export function workerTokenTry(secret: string, token: string, dagId: string, dagVersion: number): { taskInstanceId: string; tryNumber: number } | null {
  const m = WORKER_TOKEN.exec(token);
  if (!m) return null;
  const t: WorkerTry = { taskInstanceId: m[1]!, tryNumber: Number(m[2]), dagId, dagVersion };
  return sameSecret(m[3]!, workerMac(secret, t)) ? { taskInstanceId: t.taskInstanceId, tryNumber: t.tryNumber } : null;
}
