// GET .../tasks/{taskId}/logs: exactly the container's output, from the live Pod while it is there and
// from the log store otherwise (the same bytes either way); `follow=true` streams until the try ends.
import { PassThrough, Writable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { CONTAINER_NAME } from "../../executor/pod-spec.ts";
import { kubeFailure, openPodLog } from "../../executor/kube.ts";
import { findTry, type TryLogInfo } from "../../executor/tries.repository.ts";
import { readTryLog } from "../../logstore/index.ts";
import type { TryLogKey } from "../../logstore/logstore.ts";
import { getRun, getTaskInstance } from "../../scheduler/runs.repository.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError, badRequest, notFound } from "../errors.ts";

interface LogQuery {
  try?: string;
  follow?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function logRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Params: { dagId: string; runId: string; taskId: string }; Querystring: LogQuery }>(
    "/api/v1/dags/:dagId/runs/:runId/tasks/:taskId/logs",
    async (req, reply) => {
      const { dagId, runId, taskId } = req.params;
      const tryNumber = req.query.try === undefined ? null : Number(req.query.try);
      if (tryNumber !== null && (!Number.isInteger(tryNumber) || tryNumber < 1)) throw badRequest("try must be a whole number from 1.");
      const follow = req.query.follow === "true" || req.query.follow === "1";
      const run = await getRun(deps.db, dagId, runId);
      if (!run) throw notFound("run", runId, "run_not_found");
      const ti = await getTaskInstance(deps.db, run.pk, taskId);
      if (!ti) throw notFound("task", taskId, "task_not_found");
      const tr = await findTry(deps.db, ti.id, tryNumber);
      if (!tr) {
        if (tryNumber !== null) throw new ApiError(404, "try_not_found", `Task ${taskId} has no try ${tryNumber} (it has ${ti.tryNumber}).`);
        throw new ApiError(404, "no_log_yet", `Task ${taskId} has not started yet (state ${ti.state}); there is no log.`);
      }
      const key: TryLogKey = { dagId, runId, taskId, tryNumber: tr.tryNumber };
      reply.type("text/plain; charset=utf-8").header("x-ferry-try", String(tr.tryNumber));
      if (follow) return reply.send(followLog(req, deps, ti.id, key, tr));
      const live = tr.podReclaimed || tr.logComplete ? null : await readLive(deps, tr);
      return reply.send(live ?? (await readTryLog(deps.logStore, key)));
    },
  );
}

/** The whole current log from the Pod, or null when the Pod cannot serve it (gone, not started, broken). */
async function readLive(deps: ApiDeps, tr: TryLogInfo): Promise<Buffer | null> {
  if (!deps.kube) return null;
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  try {
    const stream = await openPodLog(deps.kube, tr.namespace, tr.podName, CONTAINER_NAME, sink, { follow: false });
    return (await stream.done) === "ended" ? Buffer.concat(chunks) : null;
  } catch {
    return null;
  }
}

function followLog(req: FastifyRequest, deps: ApiDeps, taskInstanceId: string, key: TryLogKey, first: TryLogInfo): PassThrough {
  const out = new PassThrough();
  let closed = false;
  let stopLive: (() => void) | null = null;
  req.raw.on("close", () => {
    closed = true;
    stopLive?.();
  });
  const ended = async () => {
    const t = await findTry(deps.db, taskInstanceId, key.tryNumber);
    return !t || t.endedAt !== null;
  };

  void (async () => {
    let tr: TryLogInfo | null = first;
    // While the try runs, stream from its Pod; once the Pod is gone the log store has every byte.
    while (!closed && tr && !tr.endedAt && deps.kube) {
      const sink = new PassThrough();
      sink.on("data", (c: Buffer) => out.write(c));
      try {
        const stream = await openPodLog(deps.kube, tr.namespace, tr.podName, CONTAINER_NAME, sink, { follow: true });
        stopLive = stream.abort;
        const how = await stream.done;
        if (closed) return;
        // A stream that breaks while the client still listens is cut off as an error, never silently short.
        if (how === "broken") return out.destroy(new Error("the Pod's log stream broke"));
        return out.end();
      } catch (err) {
        const f = kubeFailure(err);
        if (f.code === 404) break; // the Pod is gone: its log is in the store
        await sleep(500); // not started yet, or a passing error
        tr = await findTry(deps.db, taskInstanceId, key.tryNumber);
      }
    }
    if (closed) return;
    await followStore(deps, key, ended, () => closed, out);
  })().catch((err) => {
    deps.log.warn("log follow failed", { err });
    out.end();
  });
  return out;
}

/** Streams the stored chunks, then new ones as they arrive, until the try has ended and all are read. */
async function followStore(deps: ApiDeps, key: TryLogKey, ended: () => Promise<boolean>, closed: () => boolean, out: PassThrough): Promise<void> {
  let next = 0;
  for (;;) {
    const wasEnded = await ended();
    const chunks = await deps.logStore.listChunks(key);
    for (const c of chunks) {
      if (c.seq < next) continue;
      out.write(await deps.logStore.getChunk(key, c.seq));
      next = c.seq + 1;
    }
    if (wasEnded || closed()) break;
    await sleep(500);
  }
  out.end();
}
