// API tokens with roles, through the real API: making, listing, using and revoking tokens, expiry,
// lastUsedAt, and every registered route called by every role (README.md, "Tokens and roles"). The
// route list is read from the API itself, so a route added without a role, or with a role this test
// does not expect, fails here.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Fastify, { type FastifyInstance } from "fastify";
import { compileDagFile } from "../../dagfile/index.ts";
import { requireDeclaredRole } from "../../api/auth.ts";
import { buildApi, registeredRoutes } from "../../api/server.ts";
import { sha256 } from "../../lib/tokens.ts";
import { silentLogger } from "../../lib/logger.ts";
import { startTestFerry, TEST_TOKEN, type TestFerry } from "../support/ferry.ts";
import { apiError } from "../support/api.ts";

type Role = "viewer" | "author" | "admin";

/** Every route of the API and the least role it needs; null: no token needed. HEAD routes follow their GET. */
const EXPECTED: Record<string, Role | null> = {
  "GET /healthz": null,
  "GET /readyz": null,
  "GET /metrics": null,
  "GET /openapi.json": null,
  "GET /docs": null,
  "GET /docs/json": null,
  "GET /docs/yaml": null,
  "GET /docs/static/index.html": null,
  "GET /docs/static/swagger-initializer.js": null,
  "GET /docs/static/*": null,
  "POST /api/v1/dags": "author",
  "GET /api/v1/dags": "viewer",
  "GET /api/v1/dags/:dagId": "viewer",
  "PATCH /api/v1/dags/:dagId": "author",
  "DELETE /api/v1/dags/:dagId": "admin",
  "GET /api/v1/dags/:dagId/versions/:version/bundle": "viewer",
  "POST /api/v1/dags/:dagId/runs": "author",
  "GET /api/v1/dags/:dagId/runs": "viewer",
  "GET /api/v1/dags/:dagId/runs/:runId": "viewer",
  "GET /api/v1/dags/:dagId/runs/:runId/tasks/:taskId": "viewer",
  "POST /api/v1/dags/:dagId/runs/:runId/cancel": "author",
  "POST /api/v1/dags/:dagId/runs/:runId/clear": "author",
  "POST /api/v1/dags/:dagId/runs/:runId/tasks/:taskId/clear": "author",
  "GET /api/v1/dags/:dagId/runs/:runId/tasks/:taskId/logs": "viewer",
  "GET /api/v1/dags/:dagId/runs/:runId/tasks/:taskId/events": "viewer",
  "POST /api/v1/dags/:dagId/backfills": "author",
  "GET /api/v1/dags/:dagId/backfills/:id": "viewer",
  "POST /api/v1/dags/:dagId/backfills/:id/cancel": "author",
  "GET /api/v1/pools": "viewer",
  "GET /api/v1/pools/:name": "viewer",
  "PUT /api/v1/pools/:name": "admin",
  "DELETE /api/v1/pools/:name": "admin",
  "POST /api/v1/tokens": "admin",
  "GET /api/v1/tokens": "admin",
  "DELETE /api/v1/tokens/:id": "admin",
};

const RANK: Record<Role, number> = { viewer: 0, author: 1, admin: 2 };

/** The EXPECTED key of a registered route: a HEAD route follows its GET (fastify adds `HEAD /docs/` beside `/docs`). */
function expectedKey(route: { method: string; url: string }): string {
  if (route.method !== "HEAD") return `${route.method} ${route.url}`;
  return `GET ${route.url}` in EXPECTED ? `GET ${route.url}` : `GET ${route.url.replace(/\/$/, "")}`;
}

/** Values for the path parameters that name nothing that exists: a request that passes auth ends in a 4xx of its handler. */
const PARAMS: Record<string, string> = { dagId: "roles_no_dag", runId: "r", taskId: "t", id: "999999", name: "roles_no_pool", version: "1" };

describe("API tokens and roles", { timeout: 120_000 }, () => {
  let f: TestFerry;
  let app: FastifyInstance;
  const tokens: Record<Role, string> = { viewer: "", author: "", admin: "" };

  before(async () => {
    f = await startTestFerry({ s3: false });
    // A second API on the same database, to read its routes as registered and call them with inject().
    app = buildApi({
      db: f.ferry.db,
      auth: { adminTokenHash: sha256(TEST_TOKEN), workerSecret: "unused-in-this-test" },
      compile: (source) => compileDagFile(source),
      logStore: f.ferry.logStore,
      kube: f.ferry.kube,
      log: silentLogger,
    });
    await app.ready();
    for (const role of ["viewer", "author", "admin"] as const) {
      const res = await f.api("POST", "/api/v1/tokens", { name: `roles ${role}`, role });
      assert.equal(res.status, 201, res.text);
      tokens[role] = res.body.token;
    }
  });
  after(async () => {
    await app?.close();
    await f?.close();
  });

  const as = (token: string | null): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

  it("makes a token with a role, shows its secret once and keeps only its SHA-256", async () => {
    const made = await f.api("POST", "/api/v1/tokens", { name: "ci deploys", role: "author", expiresAt: "2099-01-01T00:00:00Z" });
    assert.equal(made.status, 201, made.text);
    assert.deepEqual(Object.keys(made.body).sort(), ["createdAt", "expiresAt", "id", "name", "role", "token"]);
    assert.equal(made.body.name, "ci deploys");
    assert.equal(made.body.role, "author");
    assert.equal(made.body.expiresAt, "2099-01-01T00:00:00.000Z");
    assert.equal(typeof made.body.id, "number");
    assert.match(made.body.token, /^fy_[A-Za-z0-9_-]{32}$/);

    const [row] = await f.ferry.db.query(`SELECT * FROM api_tokens WHERE id = $1`, [made.body.id]);
    assert.equal(row!.token_sha256, sha256(made.body.token));
    assert.ok(!Object.values(row!).some((v) => String(v).includes(made.body.token)), "the secret itself is stored nowhere");

    const listed = await f.api("GET", "/api/v1/tokens");
    assert.equal(listed.status, 200);
    const entry = listed.body.tokens.find((t: any) => t.id === made.body.id);
    assert.deepEqual(entry, { id: made.body.id, name: "ci deploys", role: "author", expiresAt: "2099-01-01T00:00:00.000Z", createdAt: made.body.createdAt, lastUsedAt: null });
    assert.ok(!listed.text.includes("fy_"), "a list never shows a secret");

    // The new token works, as an author.
    const push = await f.api("GET", "/api/v1/dags", undefined, as(made.body.token));
    assert.equal(push.status, 200, push.text);
    apiError(await f.api("GET", "/api/v1/tokens", undefined, as(made.body.token)), 403, "forbidden");
  });

  it("refuses a token that is malformed, has an unknown role, or expires in the past", async () => {
    apiError(await f.api("POST", "/api/v1/tokens", { name: "x", role: "owner" }), 400, "bad_request");
    apiError(await f.api("POST", "/api/v1/tokens", { name: "", role: "viewer" }), 400, "bad_request");
    apiError(await f.api("POST", "/api/v1/tokens", { role: "viewer" }), 400, "bad_request");
    apiError(await f.api("POST", "/api/v1/tokens", { name: "x", role: "viewer", expiresAt: "yesterday" }), 400, "bad_request");
    apiError(await f.api("POST", "/api/v1/tokens", { name: "x", role: "viewer", expiresAt: "2001-01-01T00:00:00Z" }), 400, "bad_request");
    apiError(await f.api("POST", "/api/v1/tokens", { name: "x", role: "viewer", secret: "mine" }), 400, "bad_request");
    apiError(await f.api("POST", "/api/v1/tokens", { name: "x", role: "viewer" }, as(tokens.author)), 403, "forbidden");
  });

  it("lists tokens a page at a time", async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await f.api("GET", `/api/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.tokens.length <= 2);
      seen.push(...page.body.tokens.map((t: any) => t.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const [{ n }] = (await f.ferry.db.query(`SELECT count(*)::int AS n FROM api_tokens`)) as [{ n: number }];
    assert.equal(seen.length, n);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "oldest first, each once");
    apiError(await f.api("GET", "/api/v1/tokens?cursor=nope"), 400, "bad_request");
    apiError(await f.api("GET", "/api/v1/tokens?limit=0"), 400, "bad_request");
  });

  it("revokes a token: 204, then it opens nothing (401), and revoking it again is 404", async () => {
    const made = await f.api("POST", "/api/v1/tokens", { name: "short-lived", role: "admin" });
    assert.equal((await f.api("GET", "/api/v1/pools", undefined, as(made.body.token))).status, 200);
    const revoked = await f.api("DELETE", `/api/v1/tokens/${made.body.id}`);
    assert.equal(revoked.status, 204, revoked.text);
    apiError(await f.api("GET", "/api/v1/pools", undefined, as(made.body.token)), 401, "unauthorized");
    apiError(await f.api("DELETE", `/api/v1/tokens/${made.body.id}`), 404, "token_not_found");
    apiError(await f.api("DELETE", `/api/v1/tokens/abc`), 404, "token_not_found");
    assert.ok(!(await f.api("GET", "/api/v1/tokens")).body.tokens.some((t: any) => t.id === made.body.id));
  });

  it("refuses an expired token with 401", async () => {
    const made = await f.api("POST", "/api/v1/tokens", { name: "expiring", role: "viewer", expiresAt: new Date(Date.now() + 1000).toISOString() });
    assert.equal(made.status, 201, made.text);
    assert.equal((await f.api("GET", "/api/v1/dags", undefined, as(made.body.token))).status, 200);
    await new Promise((r) => setTimeout(r, 1100));
    apiError(await f.api("GET", "/api/v1/dags", undefined, as(made.body.token)), 401, "unauthorized");
  });

  it("records when a token was last used, at most once a minute", async () => {
    const made = await f.api("POST", "/api/v1/tokens", { name: "watched", role: "viewer" });
    const lastUsed = async () => (await f.api("GET", "/api/v1/tokens?limit=1000")).body.tokens.find((t: any) => t.id === made.body.id).lastUsedAt;
    assert.equal(await lastUsed(), null);
    const before = Date.now();
    await f.api("GET", "/api/v1/dags", undefined, as(made.body.token));
    const first = await lastUsed();
    assert.ok(first && Date.parse(first) >= before - 1000, `lastUsedAt ${first}`);
    await f.api("GET", "/api/v1/dags", undefined, as(made.body.token));
    assert.equal(await lastUsed(), first, "a second use within the minute writes nothing");
    // A minute later (moved back in the table instead of waiting), the next use writes again.
    await f.ferry.db.query(`UPDATE api_tokens SET last_used_at = now() - interval '61 seconds' WHERE id = $1`, [made.body.id]);
    await f.api("GET", "/api/v1/dags", undefined, as(made.body.token));
    assert.ok(Date.parse(await lastUsed()) >= before - 1000);
  });

  it("the admin token of FERRY_API_TOKEN stays admin", async () => {
    const res = await f.api("GET", "/api/v1/tokens");
    assert.equal(res.status, 200);
    const pool = await f.api("PUT", "/api/v1/pools/roles_env_admin", { slots: 1 });
    assert.equal(pool.status, 201, pool.text);
  });

  it("declares a role on every route under /api/v1, the one this test expects", () => {
    const routes = registeredRoutes(app);
    const main = routes.filter((r) => r.method !== "HEAD");
    const got = Object.fromEntries(main.map((r) => [`${r.method} ${r.url}`, r.url.startsWith("/api/") ? r.role : null]));
    assert.deepEqual(got, EXPECTED, "a new route needs its role in its options and in EXPECTED here");
    for (const head of routes.filter((r) => r.method === "HEAD")) {
      assert.ok(expectedKey(head) in EXPECTED, `HEAD ${head.url} follows a GET`);
      assert.equal(head.role, EXPECTED[expectedKey(head)] ?? null);
    }
    assert.deepEqual(
      routes.filter((r) => r.allowWorker).map((r) => `${r.method} ${r.url}`),
      ["GET /api/v1/dags/:dagId/versions/:version/bundle", "HEAD /api/v1/dags/:dagId/versions/:version/bundle"],
      "worker tokens open only the bundle route",
    );
  });

  it("will not start with a route under /api/v1 that declares no role", async () => {
    const bare = Fastify();
    void bare.register(async (api) => {
      api.addHook("onRoute", requireDeclaredRole);
      api.get("/api/v1/forgotten", async () => ({}));
    });
    await assert.rejects(async () => { await bare.ready(); }, /GET \/api\/v1\/forgotten declares no role/);
    await bare.close();
  });

  it("answers every route for every role: 401 without a valid token, 403 below its role, through at or above it", async () => {
    const routes = registeredRoutes(app);
    assert.ok(routes.length >= Object.keys(EXPECTED).length);
    const callers: { who: string; token: string | null; role: Role | null }[] = [
      { who: "no token", token: null, role: null },
      { who: "an unknown token", token: "fy_not-a-token", role: null },
      { who: "a worker token", token: "fw_1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", role: null },
      { who: "viewer", token: tokens.viewer, role: "viewer" },
      { who: "author", token: tokens.author, role: "author" },
      { who: "admin", token: tokens.admin, role: "admin" },
      { who: "the FERRY_API_TOKEN admin", token: TEST_TOKEN, role: "admin" },
    ];
    const failures: string[] = [];
    for (const route of routes) {
      const need = EXPECTED[expectedKey(route)];
      assert.ok(need !== undefined, `${route.method} ${route.url} is in EXPECTED`);
      const url = route.url.replace(/:(\w+)/g, (_, name: string) => PARAMS[name] ?? "x");
      for (const c of callers) {
        const hasBody = ["POST", "PUT", "PATCH"].includes(route.method);
        const res = await app.inject({
          method: route.method as "GET",
          url,
          headers: { ...as(c.token), ...(hasBody ? { "content-type": "application/json" } : {}) },
          ...(hasBody ? { payload: "{}" } : {}),
        });
        const expected = need === null ? "through" : c.role === null ? 401 : RANK[c.role] < RANK[need] ? 403 : "through";
        const code = res.statusCode === 401 || res.statusCode === 403 ? (route.method === "HEAD" ? null : JSON.parse(res.body).error.code) : null;
        const ok =
          expected === "through"
            ? res.statusCode !== 401 && res.statusCode !== 403
            : res.statusCode === expected && (code === null || code === (expected === 401 ? "unauthorized" : "forbidden"));
        if (!ok) failures.push(`${route.method} ${route.url} as ${c.who}: expected ${expected}, got ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
