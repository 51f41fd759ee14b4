// The only module that touches `api_tokens`: the API tokens made through POST /api/v1/tokens, each with
// a role. A token is kept only as the SHA-256 of its secret. Not bcrypt or argon2: those slow down the
// guessing of passwords, which people choose from a small space; a token is 192 bits from the CSPRNG, so
// no guess is feasible however fast the hash, and a slow hash would only slow every request down.
// Looking the hash up by an index is safe for the same reason: timing can at most tell an attacker about
// the hash of a token they hold, never about another one's secret.
import type { Queryable } from "../db/db.ts";

export const ROLES = ["viewer", "author", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface ApiTokenRow {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

/** How often, at most, a token's lastUsedAt is written. */
export const LAST_USED_GRANULARITY_MS = 60_000;

const COLUMNS = "id, name, role, created_at, expires_at, last_used_at";

function toRow(r: Record<string, unknown>): ApiTokenRow {
  return {
    id: String(r.id),
    name: r.name as string,
    role: r.role as Role,
    createdAt: r.created_at as Date,
    expiresAt: (r.expires_at as Date | null) ?? null,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
  };
}

export async function createApiToken(
  db: Queryable,
  t: { name: string; role: Role; expiresAt: Date | null; tokenSha256: string },
): Promise<ApiTokenRow> {
  const [row] = await db.query(
    `INSERT INTO api_tokens (name, role, token_sha256, expires_at) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [t.name, t.role, t.tokenSha256, t.expiresAt],
  );
  return toRow(row!);
}

/** Tokens by id, after `after` (the last id of the previous page). */
export async function listApiTokens(db: Queryable, opts: { limit: number; after: string | null }): Promise<ApiTokenRow[]> {
  const rows = await db.query(
    `SELECT ${COLUMNS} FROM api_tokens WHERE $1::bigint IS NULL OR id > $1::bigint ORDER BY id LIMIT $2`,
    [opts.after, opts.limit],
  );
  return rows.map(toRow);
}

/** Revokes a token: its row goes, so it opens nothing from the next request on. False if there was none. */
export async function deleteApiToken(db: Queryable, id: string): Promise<boolean> {
  return (await db.query(`DELETE FROM api_tokens WHERE id = $1 RETURNING 1`, [id])).length > 0;
}

/**
 * The token whose secret hashes to `tokenSha256`, if it exists and has not expired at `now`; its
 * lastUsedAt is moved to now when it is older than LAST_USED_GRANULARITY_MS (so at most about one write
 * a minute per token, whatever the request rate; the condition makes concurrent writers harmless).
 */
export async function useApiToken(db: Queryable, tokenSha256: string, now: Date = new Date()): Promise<ApiTokenRow | null> {
  const [r] = await db.query(`SELECT ${COLUMNS} FROM api_tokens WHERE token_sha256 = $1 AND (expires_at IS NULL OR expires_at > $2)`, [
    tokenSha256,
    now,
  ]);
  if (!r) return null;
  const row = toRow(r);
  const stale = new Date(now.getTime() - LAST_USED_GRANULARITY_MS);
  if (row.lastUsedAt === null || row.lastUsedAt <= stale) {
    await db.query(`UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`, [row.id, now, stale]);
    row.lastUsedAt = now;
  }
  return row;
}
