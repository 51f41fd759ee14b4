// Collection GETs shared by every resource: selectors, paging with consistent snapshots, and the
// hand-off to watch when `?watch` is set.

import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, expired, fieldErr, invalid } from "./status.ts";
import { parseFieldSelector, parseLabelSelector, type Matcher } from "./selectors.ts";
import type { KObject, Resource, Store } from "./store.ts";
import { isWatch, serveWatch } from "./watch.ts";
import type { WatchFaults } from "./faults.ts";

export const LIST_KIND: Record<Resource, string> = { pods: "PodList", namespaces: "NamespaceList", events: "EventList", secrets: "SecretList", configmaps: "ConfigMapList" };

const CONTINUE_EXPIRED =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

interface ContinueToken {
  v: "meta.k8s.io/v1";
  rv: number;
  start: string;
}

const keyOf = (o: KObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

function decodeContinue(raw: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(raw, "base64").toString("utf8"));
    if (t?.v === "meta.k8s.io/v1" && Number.isInteger(t.rv) && typeof t.start === "string") return t;
  } catch {
    // fall through
  }
  throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
}

/** Items without apiVersion/kind, as a real List serialises them. */
function listItem(o: KObject): KObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as KObject;
}

export interface ListResult {
  body: { kind: string; apiVersion: "v1"; metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number }; items: KObject[] };
}

export function selectorsFrom(resource: Resource, q: URLSearchParams): Matcher {
  const labels = parseLabelSelector(q.get("labelSelector"));
  const fields = parseFieldSelector(resource, q.get("fieldSelector"));
  return (o) => labels(o) && fields(o);
}

/** Handles list or watch; returns the list body, or undefined when a watch took over the response. */
export function listOrWatch(
  store: Store,
  resource: Resource,
  namespace: string | undefined,
  q: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  render: (o: KObject) => unknown = (o) => o,
  faults?: WatchFaults,
): ListResult | undefined {
  const match = selectorsFrom(resource, q);
  if (isWatch(q)) {
    serveWatch(store, req, res, { resource, namespace, match, query: q, render, faults });
    return undefined;
  }
  const rvParam = q.get("resourceVersion") ?? "";
  const rvMatch = q.get("resourceVersionMatch") ?? "";
  if (rvMatch && !rvParam)
    throw invalid("ListOptions", "", [fieldErr.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided")]);
  if (rvMatch && rvMatch !== "NotOlderThan" && rvMatch !== "Exact")
    throw invalid("ListOptions", "", [fieldErr.notSupported("resourceVersionMatch", rvMatch, ["Exact", "NotOlderThan"])]);
  if (rvParam && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version: ${rvParam}`);
  const limitRaw = q.get("limit");
  if (limitRaw !== null && !/^-?\d+$/.test(limitRaw)) throw badRequest(`invalid value for limit: ${limitRaw}`);
  const limit = limitRaw ? Math.max(0, Number(limitRaw)) : 0;

  let listRv = store.resourceVersion;
  let items: KObject[];
  let after = "";
  const cont = q.get("continue");
  if (cont) {
    const tok = decodeContinue(cont);
    const snap = store.snapshot(resource, tok.rv, namespace);
    if (snap === "expired") throw expired(CONTINUE_EXPIRED);
    items = snap;
    listRv = tok.rv;
    after = tok.start;
  } else if (rvParam && rvParam !== "0" && (rvMatch === "Exact" || (limit > 0 && rvMatch !== "NotOlderThan"))) {
    // An exact rv must be served as of that version, which the event history lets us rebuild.
    const snap = store.snapshot(resource, Number(rvParam), namespace);
    if (snap === "expired") throw expired(`too old resource version: ${rvParam} (${store.oldestResumable})`);
    items = snap;
    listRv = Number(rvParam);
  } else {
    items = store.list(resource, namespace);
  }
  if (after) items = items.filter((o) => keyOf(o) > after);
  const filtered = items.filter(match);
  const page = limit > 0 ? filtered.slice(0, limit) : filtered;
  const metadata: ListResult["body"]["metadata"] = { resourceVersion: String(listRv) };
  if (limit > 0 && filtered.length > limit) {
    const last = page[page.length - 1];
    const tok: ContinueToken = { v: "meta.k8s.io/v1", rv: listRv, start: keyOf(last) };
    metadata.continue = Buffer.from(JSON.stringify(tok)).toString("base64");
    if (!q.get("labelSelector") && !q.get("fieldSelector")) metadata.remainingItemCount = filtered.length - limit;
  }
  return { body: { kind: LIST_KIND[resource], apiVersion: "v1", metadata, items: page.map(listItem) } };
}
