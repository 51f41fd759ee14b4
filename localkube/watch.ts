// Watch streams (apiserver handlers/watch.go + the watch cache): one JSON event per line, flushed as it
// happens, filtered by namespace and selectors, resumable from any resourceVersion still in history.

import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, expired, invalid, fieldErr } from "./status.ts";
import type { KObject, Resource, Store, StoreEvent } from "./store.ts";
import type { Matcher } from "./selectors.ts";
import type { WatchFaults } from "./faults.ts";

const KIND: Record<Resource, string> = { pods: "Pod", namespaces: "Namespace", events: "Event", secrets: "Secret", configmaps: "ConfigMap" };
const BOOKMARK_INTERVAL_MS = 10_000;

export interface WatchRequest {
  resource: Resource;
  namespace?: string;
  match: Matcher; // labels and fields combined
  query: URLSearchParams;
  /** Turns a stored object into what goes on the wire (adds kind/apiVersion). */
  render: (o: KObject) => unknown;
  /** Injected faults, fixed when the watch starts. */
  faults?: WatchFaults;
}

export function isWatch(query: URLSearchParams): boolean {
  if (!query.has("watch")) return false;
  const v = query.get("watch");
  return v !== "0" && v !== "false";
}

function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  if (!q.has(name)) return undefined;
  const v = q.get(name);
  return v !== "0" && v !== "false";
}

export function serveWatch(store: Store, req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
  const q = w.query;
  const rvParam = q.get("resourceVersion") ?? "";
  const bookmarks = boolParam(q, "allowWatchBookmarks") === true;
  const sendInitial = boolParam(q, "sendInitialEvents");
  const timeoutRaw = q.get("timeoutSeconds");
  if (timeoutRaw !== null && !/^\d+$/.test(timeoutRaw)) throw badRequest(`invalid value for timeoutSeconds: ${timeoutRaw}`);
  if (rvParam !== "" && rvParam !== "0" && !/^\d+$/.test(rvParam))
    throw badRequest(`invalid resource version: ${rvParam}`);
  if (sendInitial !== undefined && q.get("resourceVersionMatch") !== "NotOlderThan")
    throw invalid("ListOptions", "", [fieldErr.forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")]);
  // An unset/"0" rv means "current state first" (legacy semantics), unless sendInitialEvents says otherwise.
  const initial = sendInitial ?? (rvParam === "" || rvParam === "0");

  const selected = (o: KObject | undefined) =>
    o !== undefined && (w.namespace === undefined || (o.metadata.namespace ?? "") === w.namespace) && w.match(o);

  let history: StoreEvent[] = [];
  let startRv = store.resourceVersion;
  const faults = w.faults ?? {};
  if (!initial && rvParam !== "" && rvParam !== "0") {
    // The expireOnResume fault answers every resume as if the rv had fallen out of the window.
    const since = faults.expireOnResume ? "expired" : store.eventsSince(Number(rvParam));
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
    if (since === "expired") {
      // Real servers answer 200 and put the 410 in the stream; clients key on the event, not the HTTP code.
      const oldest = faults.expireOnResume ? Math.max(store.resourceVersion, Number(rvParam) + 1) : store.oldestResumable;
      const status = expired(`too old resource version: ${rvParam} (${oldest})`).body;
      res.end(JSON.stringify({ type: "ERROR", object: status }) + "\n");
      return;
    }
    history = since;
    startRv = Number(rvParam);
  } else {
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
  }
  res.socket?.setNoDelay(true);
  res.flushHeaders();

  // watchSilent: from the moment it holds, nothing more goes out and the stream never ends on its own.
  let silent = false;

  // watchCutAfterEvents: the stream just ends after N events (bookmarks don't count), no final event.
  let sent = 0;
  const send = (type: string, object: unknown) => {
    if (res.writableEnded || silent) return;
    res.write(JSON.stringify({ type, object }) + "\n");
    if (type !== "BOOKMARK" && faults.cutAfterEvents !== undefined && ++sent >= faults.cutAfterEvents) finish();
  };
  const bookmark = (annotations?: Record<string, string>) =>
    send("BOOKMARK", {
      kind: KIND[w.resource],
      apiVersion: "v1",
      metadata: { resourceVersion: String(store.resourceVersion), ...(annotations ? { annotations } : {}) },
    });

  const deliver = (ev: StoreEvent) => {
    if (ev.resource !== w.resource || ev.rv <= startRv) return;
    const now = selected(ev.object);
    const before = ev.type === "MODIFIED" ? selected(ev.prev) : now;
    if (ev.type === "ADDED" && now) send("ADDED", w.render(ev.object));
    else if (ev.type === "DELETED" && now) send("DELETED", w.render(ev.object));
    else if (ev.type === "MODIFIED") {
      if (now && before) send("MODIFIED", w.render(ev.object));
      else if (now) send("ADDED", w.render(ev.object));
      // Stopped matching: like the watch cache, send the previous state stamped with this event's rv.
      else if (before) send("DELETED", w.render({ ...ev.prev!, metadata: { ...ev.prev!.metadata, resourceVersion: String(ev.rv) } }));
    }
  };

  let unsubscribe = () => {};
  let deadline: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let lastBookmark: NodeJS.Timeout | undefined;
  let finished = false;
  const stopSilence = faults.whenSilent
    ? faults.whenSilent(() => {
        silent = true;
        clearTimeout(deadline);
        clearTimeout(lastBookmark);
        clearInterval(ticker);
      })
    : () => {};
  function finish(): void {
    if (finished) return;
    finished = true;
    stopSilence();
    clearTimeout(deadline);
    clearTimeout(lastBookmark);
    clearInterval(ticker);
    unsubscribe();
    if (!res.writableEnded) res.end();
  }

  // Snapshot + subscribe happen in one synchronous step, so no write can slip between them.
  if (initial) {
    for (const o of store.list(w.resource, w.namespace)) if (w.match(o)) send("ADDED", w.render(o));
    if (sendInitial) bookmark({ "k8s.io/initial-events-end": "true" });
  } else {
    for (const ev of history) deliver(ev);
  }
  if (finished) return;
  unsubscribe = store.subscribe(deliver);

  // Like the API server: no (or zero) timeoutSeconds means a random 30-60 minutes.
  let timeoutMs = timeoutRaw !== null && Number(timeoutRaw) > 0 ? Number(timeoutRaw) * 1000 : (1800 + Math.random() * 1800) * 1000;
  if (faults.cutAfterMs !== undefined) timeoutMs = Math.min(timeoutMs, faults.cutAfterMs);
  if (!silent) {
    deadline = setTimeout(() => finish(), timeoutMs);
    ticker = setInterval(() => bookmarks && bookmark(), BOOKMARK_INTERVAL_MS);
    // Like the watch cache: a bookmark shortly (2 s) before the deadline, so a client resumes from a
    // recent resourceVersion rather than the one it started from.
    if (bookmarks) lastBookmark = setTimeout(() => bookmark(), timeoutMs > 2000 ? timeoutMs - 2000 : timeoutMs / 2);
  }
  req.on("close", finish);
  res.on("close", finish);
  res.on("error", finish);
}
