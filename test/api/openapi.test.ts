// The API's schemas and its reference (README.md, "REST API"): /openapi.json is a valid OpenAPI 3.1
// document (checked by an OpenAPI validator) that holds every registered route; the answers of a real
// Ferry match the response schemas it states; every list pages with limit + cursor; a request its
// schema refuses is a 400 bad_request naming the field; /docs is a page served wholly by Ferry. Neither
// needs a token.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Ajv, type ValidateFunction } from "ajv";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { FastifyInstance } from "fastify";
import { compileDagFile } from "../../dagfile/index.ts";
import { buildApi, registeredRoutes } from "../../api/server.ts";
import { sha256 } from "../../lib/tokens.ts";
import { silentLogger } from "../../lib/logger.ts";
import { startTestFerry, TEST_TOKEN, waitFor, type TestFerry } from "../support/ferry.ts";
import { apiError, dagFile } from "../support/api.ts";

/** Swagger UI's own assets and copies of the document: served under /docs, not operations of the API. */
const UI_ASSETS = ["/docs/json", "/docs/yaml", "/docs/static/index.html", "/docs/static/swagger-initializer.js", "/docs/static/*"];

/** The list operations: each takes `limit` and `cursor` and answers `nextCursor`. */
const LISTS: Record<string, string> = {
  "/api/v1/dags": "dags",
  "/api/v1/dags/{dagId}/runs": "runs",
  "/api/v1/pools": "pools",
  "/api/v1/tokens": "tokens",
  "/api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/events": "events",
};

type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components?: any };

describe("OpenAPI document and schemas", { timeout: 240_000 }, () => {
  let f: TestFerry;
  let app: FastifyInstance;
  let doc: Doc;
  const ajv = new Ajv({ strict: false, allErrors: true, formats: { "date-time": (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) } });
  const validators = new Map<string, ValidateFunction>();
  const checkedAnswers: string[] = [];

  before(async () => {
    f = await startTestFerry({ s3: false });
    // A second API on the same database, to read its routes as registered (as test/api/tokens.test.ts does).
    app = buildApi({
      db: f.ferry.db,
      auth: { adminTokenHash: sha256(TEST_TOKEN), workerSecret: "unused-in-this-test" },
      compile: (source) => compileDagFile(source),
      logStore: f.ferry.logStore,
      kube: f.ferry.kube,
      log: silentLogger,
    });
    await app.ready();
    const res = await fetch(`${f.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Doc;
  });
  after(async () => {
    await app?.close();
    await f?.close();
  });

  /** The documented operation a concrete request is answered by. */
  function operation(method: string, url: string): { path: string; op: any } {
    const pathname = url.split("?")[0]!;
    for (const [path, ops] of Object.entries(doc.paths)) {
      const re = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\\{\w+\\\}|\{\w+\}/g, "[^/]+")}$`);
      if (re.test(pathname) && ops[method.toLowerCase()]) return { path, op: ops[method.toLowerCase()] };
    }
    throw new Error(`no documented operation for ${method} ${pathname}`);
  }

  /** Calls the API and checks the answer against the response schema the document states for its status. */
  async function call(method: string, url: string, body?: unknown, headers?: Record<string, string>) {
    const res = await f.api(method, url, body, headers);
    const { path, op } = operation(method, url);
    const response = op.responses?.[String(res.status)];
    assert.ok(response, `${method} ${path} answered ${res.status}, which the document does not list: ${res.text.slice(0, 300)}`);
    const schema = response.content?.["application/json"]?.schema;
    if (schema && res.status !== 204) {
      const key = `${method} ${path} ${res.status}`;
      let validate = validators.get(key);
      if (!validate) validators.set(key, (validate = ajv.compile(schema)));
      assert.ok(validate(res.body), `${key}: the answer does not match its schema: ${ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`);
      checkedAnswers.push(key);
    }
    return res;
  }

  it("serves a valid OpenAPI 3.1 document, without a token", async () => {
    assert.equal(doc.openapi, "3.1.0");
    const result = await new Validator().validate(doc as any);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    const bare = await fetch(`${f.url}/openapi.json`, { headers: {} });
    assert.equal(bare.status, 200, "no token needed");
    assert.match(bare.headers.get("content-type") ?? "", /^application\/json/);
  });

  it("documents every registered route, each with its parameters, its answers and who may call it", () => {
    const routes = registeredRoutes(app).filter((r) => r.method !== "HEAD" && !UI_ASSETS.includes(r.url));
    assert.ok(routes.length >= 28, `routes: ${routes.length}`);
    const missing: string[] = [];
    for (const r of routes) {
      const path = r.url.replace(/:(\w+)/g, "{$1}");
      const op = doc.paths[path]?.[r.method.toLowerCase()];
      if (!op) {
        missing.push(`${r.method} ${r.url}`);
        continue;
      }
      const where = `${r.method} ${path}`;
      assert.ok(op.summary, `${where} has a summary`);
      assert.ok(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), `${where} documents its success`);
      for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
        assert.ok(op.parameters?.some((p: any) => p.in === "path" && p.name === name && p.required), `${where} declares its path parameter ${name}`);
      }
      if (r.url.startsWith("/api/")) {
        assert.deepEqual(op.security, [{ bearer: [] }], `${where} needs a token`);
        assert.ok(r.role && op.description.includes(`Needs the role \`${r.role}\``), `${where} names its role`);
        for (const status of ["400", "401", "403", "500"]) assert.ok(op.responses[status], `${where} documents ${status}`);
      } else {
        assert.deepEqual(op.security, [], `${where} needs no token`);
      }
    }
    assert.deepEqual(missing, [], "every route is in the document");
    // And nothing else: each documented operation is a registered route.
    const registered = new Set(routes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, "{$1}")}`));
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) assert.ok(registered.has(`${method.toUpperCase()} ${path}`), `${method} ${path} is a route`);
    }
  });

  it("pages every list with limit and cursor, answering nextCursor", () => {
    for (const [path, key] of Object.entries(LISTS)) {
      const op = doc.paths[path]?.get;
      assert.ok(op, `GET ${path}`);
      const query = new Set(op.parameters.filter((p: any) => p.in === "query").map((p: any) => p.name));
      assert.ok(query.has("limit") && query.has("cursor"), `GET ${path} takes limit and cursor`);
      const body = op.responses["200"].content["application/json"].schema;
      assert.equal(body.properties[key].type, "array", `GET ${path} answers ${key}`);
      assert.ok(body.required.includes("nextCursor"), `GET ${path} answers nextCursor`);
    }
  });

  it("answers as its schemas say, through a DAG's life: post, list, trigger, run, read, page, fail", async () => {
    const source = dagFile(
      "openapi_life",
      `  const a = podTask("a", { image: "alpine:3.20", command: ["sh", "-c", "echo one; echo two"] });
  podTask("b", { image: "alpine:3.20", command: ["sh", "-c", "exit 3"], dependsOn: [a] });`,
      `schedule: "0 6 * * *", start: "2099-01-01T00:00:00Z", params: { region: "kr" }, tags: ["doc"]`,
    );
    assert.equal((await call("POST", "/api/v1/dags", source)).status, 201);
    assert.equal((await call("POST", "/api/v1/dags", { source })).status, 201);
    assert.equal((await call("GET", "/api/v1/dags?limit=1")).status, 200);
    assert.equal((await call("GET", "/api/v1/dags/openapi_life")).status, 200);
    assert.equal((await call("PATCH", "/api/v1/dags/openapi_life", { paused: false })).status, 200);
    const run = await call("POST", "/api/v1/dags/openapi_life/runs", { runId: "doc-1", params: { region: "us" } });
    assert.equal(run.status, 201, run.text);
    const bare = await call("POST", "/api/v1/dags/openapi_life/runs");
    assert.equal(bare.status, 201, "no body at all is a trigger");
    assert.equal((await call("POST", `/api/v1/dags/openapi_life/runs/${encodeURIComponent(bare.body.runId)}/cancel`)).status, 200);
    await f.waitForRun("openapi_life", "doc-1");
    assert.equal((await call("GET", "/api/v1/dags/openapi_life/runs?limit=1")).status, 200);
    assert.equal((await call("GET", "/api/v1/dags/openapi_life/runs?state=failed")).status, 200);
    assert.equal((await call("GET", "/api/v1/dags/openapi_life/runs/doc-1")).status, 200);
    assert.equal((await call("GET", "/api/v1/dags/openapi_life/runs/doc-1/tasks/b")).status, 200);
    const events = await call("GET", "/api/v1/dags/openapi_life/runs/doc-1/tasks/a/events");
    assert.equal(events.status, 200);
    assert.ok(events.body.events.length >= 2, events.text);
    assert.equal(events.body.nextCursor, null);
    // The events a page at a time: the same events, in the same order.
    const paged: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call("GET", `/api/v1/dags/openapi_life/runs/doc-1/tasks/a/events?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.events.length <= 1);
      paged.push(...page.body.events);
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(paged, events.body.events);
    apiError(await call("GET", "/api/v1/dags/openapi_life/runs/doc-1/tasks/a/events?cursor=WzBd"), 400, "bad_request");

    const log = await f.api("GET", "/api/v1/dags/openapi_life/runs/doc-1/tasks/a/logs");
    assert.equal(log.status, 200);
    assert.equal(log.text, "one\ntwo\n");
    assert.equal((await call("POST", "/api/v1/dags/openapi_life/runs/doc-1/tasks/b/clear")).status, 200);
    await waitFor("the cleared task to end", async () => ["failed", "success"].includes((await f.api("GET", "/api/v1/dags/openapi_life/runs/doc-1")).body.state));
    const backfill = await call("POST", "/api/v1/dags/openapi_life/backfills", { from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", maxActiveRuns: 1 });
    assert.equal(backfill.status, 201, backfill.text);
    assert.equal((await call("GET", `/api/v1/dags/openapi_life/backfills/${backfill.body.backfillId}`)).status, 200);
    const cancelled = await call("POST", `/api/v1/dags/openapi_life/backfills/${backfill.body.backfillId}/cancel`);
    assert.ok([200, 409].includes(cancelled.status), cancelled.text);
    assert.equal((await call("PUT", "/api/v1/pools/openapi_pool", { slots: 2, description: "docs" })).status, 201);
    assert.equal((await call("GET", "/api/v1/pools?limit=1")).status, 200);
    assert.equal((await call("GET", "/api/v1/pools/openapi_pool")).status, 200);
    assert.equal((await call("DELETE", "/api/v1/pools/openapi_pool")).status, 204);
    const token = await call("POST", "/api/v1/tokens", { name: "docs", role: "viewer", expiresAt: null });
    assert.equal(token.status, 201);
    assert.equal((await call("GET", "/api/v1/tokens?limit=1")).status, 200);
    assert.equal((await call("DELETE", `/api/v1/tokens/${token.body.id}`)).status, 204);

    // Refusals match their documented error bodies too.
    apiError(await call("GET", "/api/v1/dags/openapi_nope"), 404, "dag_not_found");
    apiError(await call("POST", "/api/v1/dags/openapi_life/runs", { runId: "doc-1" }), 409, "run_exists");
    apiError(await call("POST", "/api/v1/dags", "export default 1;"), 422, "evaluation_error");
    apiError(await call("DELETE", "/api/v1/pools/default"), 409, "pool_protected");
    apiError(await call("GET", "/api/v1/dags?limit=0"), 400, "bad_request");
    apiError(await call("GET", "/api/v1/dags", undefined, { authorization: "Bearer nope" }), 401, "unauthorized");
    assert.equal((await call("POST", "/api/v1/dags/openapi_life/runs/doc-1/cancel")).status, 409);
    assert.equal((await call("DELETE", "/api/v1/dags/openapi_life")).status, 204);
    assert.equal((await call("GET", "/healthz")).status, 200);
    assert.equal((await call("GET", "/readyz")).status, 200);
    assert.ok(checkedAnswers.length >= 30, `answers checked: ${checkedAnswers.length}`);
  });

  it("refuses a request its schema does not take with 400 bad_request, naming the field", async () => {
    await call("POST", "/api/v1/dags", dagFile("openapi_refusals", `  podTask("t", { image: "alpine:3.20", command: ["true"] });`));
    const cases: [string, string, unknown, string, RegExp][] = [
      ["GET", "/api/v1/dags?limit=5000", undefined, "query.limit", /query\.limit must be <= 1000/],
      ["GET", "/api/v1/dags?limit=two", undefined, "query.limit", /query\.limit must be an integer, got "two"/],
      ["GET", "/api/v1/dags/openapi_refusals/runs?state=done", undefined, "query.state", /query\.state must be one of queued, running/],
      ["GET", "/api/v1/dags/.hidden", undefined, "params.dagId", /params\.dagId is not valid, got "\.hidden": A DAG id/],
      ["GET", "/api/v1/dags/openapi_refusals/versions/one/bundle", undefined, "params.version", /params\.version must be an integer/],
      ["POST", "/api/v1/dags/openapi_refusals/runs", { runID: "typo" }, "body.runID", /body\.runID is not a field Ferry knows: body takes params, logicalDate, runId/],
      ["POST", "/api/v1/dags/openapi_refusals/runs", { runId: "a/b" }, "body.runId", /body\.runId is not valid, got "a\/b": A run id/],
      ["POST", "/api/v1/dags/openapi_refusals/runs", { params: "x=1" }, "body.params", /body\.params must be an object, got "x=1"/],
      ["PATCH", "/api/v1/dags/openapi_refusals", { paused: "yes" }, "body.paused", /body\.paused must be a boolean, got "yes"/],
      ["PUT", "/api/v1/pools/openapi_p", { slots: "5" }, "body.slots", /body\.slots must be an integer, got "5"/],
      ["PUT", "/api/v1/pools/openapi_p", { slots: 1, colour: "red" }, "body.colour", /body\.colour is not a field Ferry knows: body takes slots, description/],
      ["POST", "/api/v1/tokens", { role: "viewer" }, "body.name", /body\.name is missing/],
      ["POST", "/api/v1/tokens", { name: "x", role: "owner" }, "body.role", /body\.role must be one of viewer, author, admin, got "owner"/],
      ["POST", "/api/v1/dags/openapi_refusals/backfills", { from: "2026-01-01", maxActiveRuns: 0 }, "body.maxActiveRuns", /body\.maxActiveRuns must be >= 1/],
      ["GET", "/api/v1/dags/openapi_refusals/runs/r/tasks/t/logs?tail=-1", undefined, "query.tail", /query\.tail must be >= 0/],
      ["GET", "/api/v1/dags/openapi_refusals/runs/r/tasks/t/events?try=0", undefined, "query.try", /query\.try must be >= 1/],
    ];
    for (const [method, url, body, field, message] of cases) {
      const err = apiError(await call(method, url, body), 400, "bad_request");
      assert.match(err.message, message, `${method} ${url}`);
      assert.deepEqual(err.details, { field }, `${method} ${url}`);
    }
  });

  it("serves /docs, a page whose scripts and styles all come from Ferry, without a token", async () => {
    const page = await fetch(`${f.url}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /https?:/, "the page may load nothing from elsewhere");
    const html = await page.text();
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, "no asset from another origin");
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith("swagger-ui-bundle.js")), html);
    for (const asset of assets) {
      const res = await fetch(new URL(asset, `${f.url}/docs`));
      assert.equal(res.status, 200, asset);
      const text = await res.text();
      assert.ok(text.length > 0, asset);
    }
    // The page reads the same document as /openapi.json.
    const initializer = await (await fetch(`${f.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(initializer, /resolveUrl\('\.\/json'\)/);
    assert.match(initializer, /validatorUrl: null/, "no validator badge from elsewhere");
    const viaUi = await (await fetch(`${f.url}/docs/json`)).json();
    assert.deepEqual(viaUi, doc);
    // The UI's files are served from the package, and nothing outside it.
    assert.equal((await fetch(`${f.url}/docs/static/..%2f..%2f..%2fpackage.json`)).status >= 400, true);
  });
});
