// HTTP routing for the core/v1 subset localkube serves. Every error leaves as a Status body whose
// HTTP code equals its `code`, because clients parse that body to decide what happened.

import type { IncomingMessage, ServerResponse } from "node:http";
import { authorizationGroup, authorizationResourceList, selfSubjectAccessReview } from "./authorization.ts";
import { apiGroupList, apiResourceList, apiVersions, toTable, versionInfo, wantsTable } from "./discovery.ts";
import { listOrWatch } from "./lists.ts";
import { checkPatchType } from "./patch.ts";
import { createConfig, deleteConfig, getConfig, type ConfigResource } from "./configs.ts";
import { createNamespace, deleteNamespace, getNamespace } from "./namespaces.ts";
import { createPod, deletePod, getPod, patchPod, podLog, updatePod, type DeleteOptions } from "./pods.ts";
import type { Runtime } from "./runtime.ts";
import { decodeOptions } from "./decode.ts";
import type { Faults } from "./faults.ts";
import { coreV1Document, openApiIndex } from "./openapi.ts";
import { badRequest, internalError, KubeError, methodNotAllowed, pathNotFound, status413 } from "./status.ts";
import type { KObject, Resource, Store } from "./store.ts";

const MAX_BODY = 3 * 1024 * 1024;

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  q: URLSearchParams;
  params: string[];
  body: () => Promise<any>;
  serverAddress: string;
}

type Handler = (ctx: Ctx) => Promise<unknown> | unknown;
type Route = { pattern: RegExp; methods: Record<string, Handler> };

export function createHandler(store: Store, runtime: Runtime, faults: Faults, log: (m: string) => void) {
  const table = (ctx: Ctx) => wantsTable(ctx.req.headers.accept);
  const includeObject = (ctx: Ctx) => ctx.q.get("includeObject");

  const list = (resource: Resource, nsIndex: number | undefined) => (ctx: Ctx) => {
    const ns = nsIndex === undefined ? undefined : ctx.params[nsIndex];
    const asTable = table(ctx);
    const render = asTable ? (o: KObject) => toTable(resource, [o], {}, includeObject(ctx)) : undefined;
    const r = listOrWatch(store, resource, ns, ctx.q, ctx.req, ctx.res, render, faults.watch());
    if (!r) return undefined;
    return asTable ? toTable(resource, r.body.items, r.body.metadata, includeObject(ctx)) : r.body;
  };
  const one = (resource: Resource, get: (ctx: Ctx) => KObject) => (ctx: Ctx) => {
    const o = get(ctx);
    return table(ctx) ? toTable(resource, [o], { resourceVersion: o.metadata.resourceVersion }, includeObject(ctx)) : o;
  };
  const dryRun = (ctx: Ctx) => ctx.q.getAll("dryRun").includes("All");

  const routes: Route[] = [
    { pattern: /^\/version\/?$/, methods: { GET: () => versionInfo() } },
    { pattern: /^\/(healthz|livez|readyz)(\/.*)?$/, methods: { GET: ({ res }) => void res.writeHead(200, { "Content-Type": "text/plain" }).end("ok") } },
    { pattern: /^\/api\/?$/, methods: { GET: (ctx) => apiVersions(ctx.serverAddress) } },
    { pattern: /^\/apis\/?$/, methods: { GET: () => apiGroupList() } },
    { pattern: /^\/apis\/authorization\.k8s\.io\/?$/, methods: { GET: () => authorizationGroup() } },
    { pattern: /^\/apis\/authorization\.k8s\.io\/v1\/?$/, methods: { GET: () => authorizationResourceList() } },
    {
      pattern: /^\/apis\/authorization\.k8s\.io\/v1\/selfsubjectaccessreviews$/,
      methods: { POST: async (ctx) => created(ctx, selfSubjectAccessReview(await ctx.body())) },
    },
    { pattern: /^\/openapi\/v3\/?$/, methods: { GET: () => openApiIndex() } },
    {
      pattern: /^\/openapi\/v3\/api\/v1\/?$/,
      methods: {
        GET: ({ res }) => {
          const { text } = coreV1Document();
          res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "public, immutable" }).end(text);
        },
      },
    },
    { pattern: /^\/api\/v1\/?$/, methods: { GET: () => apiResourceList() } },
    {
      pattern: /^\/api\/v1\/namespaces$/,
      methods: {
        GET: list("namespaces", undefined),
        POST: async (ctx) => created(ctx, createNamespace(store, await ctx.body(), dryRun(ctx))),
      },
    },
    {
      pattern: /^\/api\/v1\/namespaces\/([^/]+)$/,
      methods: {
        GET: one("namespaces", (ctx) => getNamespace(store, ctx.params[0])),
        DELETE: async (ctx) => deleteNamespace(store, ctx.params[0], await deleteOptions(ctx)),
      },
    },
    {
      pattern: /^\/api\/v1\/namespaces\/([^/]+)\/pods$/,
      methods: {
        GET: list("pods", 0),
        POST: async (ctx) => created(ctx, createPod(store, ctx.params[0], await ctx.body(), dryRun(ctx), decodeOptions(ctx.q, ctx.res, "CreateOptions"))),
        DELETE: async (ctx) => {
          // deletecollection: the matching pods, each deleted as a single DELETE would.
          const opts = await deleteOptions(ctx);
          const q = new URLSearchParams(ctx.q);
          q.delete("watch");
          const r = listOrWatch(store, "pods", ctx.params[0], q, ctx.req, ctx.res)!;
          const items = r.body.items.map((p) => deletePod(store, ctx.params[0], p.metadata.name, opts));
          return { ...r.body, metadata: { resourceVersion: String(store.resourceVersion) }, items };
        },
      },
    },
    {
      pattern: /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/,
      methods: {
        GET: one("pods", (ctx) => getPod(store, ctx.params[0], ctx.params[1])),
        DELETE: async (ctx) => deletePod(store, ctx.params[0], ctx.params[1], await deleteOptions(ctx)),
        PATCH: async (ctx) => {
          const type = ctx.req.headers["content-type"] ?? "";
          checkPatchType(type);
          return patchPod(store, ctx.params[0], ctx.params[1], type, await ctx.body(), decodeOptions(ctx.q, ctx.res, "PatchOptions"));
        },
        PUT: async (ctx) => {
          const body = await ctx.body();
          return updatePod(store, ctx.params[0], ctx.params[1], () => body, true, decodeOptions(ctx.q, ctx.res, "UpdateOptions"));
        },
      },
    },
    {
      pattern: /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/status$/,
      methods: { GET: (ctx) => getPod(store, ctx.params[0], ctx.params[1]) },
    },
    {
      pattern: /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/,
      methods: { GET: (ctx) => podLog(store, runtime, ctx.params[0], ctx.params[1], ctx.q, ctx.res, faults.logFollowHangs) },
    },
    { pattern: /^\/api\/v1\/pods$/, methods: { GET: list("pods", undefined) } },
    ...(["secrets", "configmaps"] as ConfigResource[]).flatMap((resource): Route[] => [
      {
        pattern: new RegExp(`^/api/v1/namespaces/([^/]+)/${resource}$`),
        methods: {
          GET: list(resource, 0),
          POST: async (ctx) => created(ctx, createConfig(store, resource, ctx.params[0], await ctx.body(), dryRun(ctx))),
        },
      },
      {
        pattern: new RegExp(`^/api/v1/namespaces/([^/]+)/${resource}/([^/]+)$`),
        methods: {
          GET: one(resource, (ctx) => getConfig(store, resource, ctx.params[0], ctx.params[1])),
          DELETE: async (ctx) => deleteConfig(store, resource, ctx.params[0], ctx.params[1], await deleteOptions(ctx)),
        },
      },
      { pattern: new RegExp(`^/api/v1/${resource}$`), methods: { GET: list(resource, undefined) } },
    ]),
    { pattern: /^\/api\/v1\/namespaces\/([^/]+)\/events$/, methods: { GET: list("events", 0) } },
    { pattern: /^\/api\/v1\/events$/, methods: { GET: list("events", undefined) } },
  ];

  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localkube");
    let path = url.pathname;
    const q = url.searchParams;
    // Legacy watch paths (/api/v1/watch/...): same as ?watch=true, a trailing name becomes a field selector.
    const legacy = path.match(/^\/api\/v1\/watch\/(.*)$/);
    if (legacy) {
      q.set("watch", "true");
      path = `/api/v1/${legacy[1]}`;
      const single = path.match(/^(\/api\/v1\/namespaces\/[^/]+\/pods|\/api\/v1\/namespaces)\/([^/]+)$/);
      if (single) {
        path = single[1];
        q.set("fieldSelector", `metadata.name=${decodeURIComponent(single[2])}`);
      }
    }
    const addr = req.socket.localAddress && req.socket.localPort ? `${req.socket.localAddress}:${req.socket.localPort}` : "";
    // Injected 500s / 429s hit client requests only; localkube's own status writes never go over HTTP.
    if (faults.maybeFailRequest(path, res)) return;
    let bodyPromise: Promise<any> | undefined;
    const ctx: Ctx = { req, res, q, params: [], serverAddress: addr, body: () => (bodyPromise ??= readJson(req)) };
    try {
      const route = routes.find((r) => r.pattern.test(path));
      if (!route) throw pathNotFound();
      const handler = route.methods[req.method ?? "GET"] ?? (req.method === "HEAD" ? route.methods.GET : undefined);
      if (!handler) throw methodNotAllowed();
      ctx.params = path.match(route.pattern)!.slice(1).filter((p) => p !== undefined).map(decodeURIComponent);
      const out = await handler(ctx);
      const holdMs = faults.writeResponseDelayMs(req.method);
      if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
      if (out !== undefined && !res.headersSent) sendJson(res, req.method === "POST" && created.has(out) ? 201 : 200, out);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof KubeError) sendJson(res, err.code, err.body);
      else {
        log(`localkube: ${req.method} ${req.url} failed: ${(err as Error)?.stack ?? err}`);
        sendJson(res, 500, internalError(String((err as Error)?.message ?? err)).body);
      }
    }
  };
}

/** Marks a handler result as newly created, for the 201. */
const createdSet = new WeakSet<object>();
function created(_ctx: Ctx, o: KObject): KObject {
  createdSet.add(o);
  return o;
}
created.has = (o: unknown) => typeof o === "object" && o !== null && createdSet.has(o);

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-cache, private" });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(status413());
        req.destroy();
      } else chunks.push(c);
    });
    req.on("error", reject);
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (!text.trim()) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`));
      }
    });
  });
}

/** DeleteOptions from the query, overridden by a JSON body when there is one (as the API server does). */
async function deleteOptions(ctx: Ctx): Promise<DeleteOptions> {
  const o: DeleteOptions = {};
  const g = ctx.q.get("gracePeriodSeconds");
  if (g !== null && g !== "") {
    if (!/^-?\d+$/.test(g)) throw badRequest(`couldn't parse 'gracePeriodSeconds': invalid integer ${JSON.stringify(g)}`);
    o.gracePeriodSeconds = Number(g);
  }
  if (ctx.q.get("propagationPolicy")) o.propagationPolicy = ctx.q.get("propagationPolicy")!;
  if (ctx.q.getAll("dryRun").length) o.dryRun = ctx.q.getAll("dryRun");
  const body = await ctx.body();
  if (body !== undefined) {
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the body of the request was not a valid DeleteOptions object");
    if (body.gracePeriodSeconds !== undefined && body.gracePeriodSeconds !== null) o.gracePeriodSeconds = body.gracePeriodSeconds;
    if (body.propagationPolicy !== undefined && body.propagationPolicy !== null) o.propagationPolicy = body.propagationPolicy;
    if (body.preconditions) o.preconditions = body.preconditions;
    if (Array.isArray(body.dryRun)) o.dryRun = body.dryRun;
  }
  return o;
}
