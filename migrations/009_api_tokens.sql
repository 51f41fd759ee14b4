-- API tokens with roles (README.md, "REST API", "Tokens and roles"). The secret itself is never kept:
-- only its SHA-256 (the token is 192 random bits, not a password, so a fast hash is enough; see
-- api/tokens.repository.ts). Revoking a token deletes its row. The admin token of FERRY_API_TOKEN is not
-- here: it stays in ferry_settings.
CREATE TABLE api_tokens (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL,
  role         text NOT NULL CHECK (role IN ('viewer', 'author', 'admin')),
  token_sha256 text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- NULL: the token does not expire.
  expires_at   timestamptz,
  -- Coarse: written at most about once a minute per token.
  last_used_at timestamptz
);
