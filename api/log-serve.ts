// The three ways a log body is produced. Each keeps one offset: the next byte of the try's log the
// client has not been sent. The log store always holds a prefix of the output and the Pod (while it is
// there) the whole of it, so reading the store up to its end and then the Pod from that offset, or the
// store again from that offset once the Pod is gone, joins the two with no byte lost or repeated.
import type { Kube } from "../executor/kube.ts";
import { findTry, type TryLogInfo } from "../executor/tries.repository.ts";
import type { LogStore, TryLogKey } from "../logstore/logstore.ts";
import { listStoredLog, readStoredRange, type StoredLog } from "../logstore/reader.ts";
import type { Queryable } from "../db/db.ts";
import { openLiveRemainder } from "./log-live.ts";
import type { LogOutput } from "./log-output.ts";

export interface LogSources {
  db: Queryable;
  logStore: LogStore;
  kube: Kube | null;
}

/** How long a follower waits before looking again when nothing new came. */
const FOLLOW_POLL_MS = 500;

/** No more bytes will come: the try ended and its log is complete, or its Pod is gone for good. */
export function logFinished(tr: TryLogInfo): boolean {
  return tr.endedAt !== null && (tr.logComplete || tr.podReclaimed);
}

/** Bytes [from, to) of the store, one chunk at a time. Returns the offset after the last byte sent. */
export async function sendStored(src: LogSources, out: LogOutput, key: TryLogKey, log: StoredLog, from: number, to = log.size): Promise<number> {
  let sent = from;
  for await (const bytes of readStoredRange(src.logStore, key, log, from, to)) {
    await out.write(bytes);
    sent += bytes.length;
  }
  return sent;
}

/**
 * The log as it is now, from `from`: the stored bytes (`log`, listed by the caller), then the rest from
 * the Pod. When the Pod cannot serve (gone, not started, its stream broke), whatever the store holds
 * beyond what was sent ends the body instead.
 */
export async function sendLive(src: LogSources, out: LogOutput, key: TryLogKey, tr: TryLogInfo, log: StoredLog, from: number): Promise<void> {
  let sent = await sendStored(src, out, key, log, from);
  if (src.kube) {
    const live = await openLiveRemainder(src.kube, tr, sent, async (bytes) => {
      await out.write(bytes);
      sent += bytes.length;
    }, { follow: false });
    if (live.kind === "streaming") {
      const cancel = out.onGone(live.abort);
      const how = await live.done;
      cancel();
      if (how === "ended") return;
    }
  }
  await sendStored(src, out, key, await listStoredLog(src.logStore, key), sent);
}

/**
 * Follows the log from `from` until no more bytes will come: the store's bytes, then the Pod's stream
 * while the container runs; when that stream ends or breaks or the Pod is gone, the store again from
 * the next unsent byte, polling until the try has ended, its log is finished and every stored byte
 * has been sent.
 */
export async function sendFollow(src: LogSources, out: LogOutput, key: TryLogKey, taskInstanceId: string, from: number): Promise<void> {
  let sent = from;
  let podOver = false; // the Pod's stream ended or the Pod is gone: the store has (or will have) the rest
  for (;;) {
    // The try's state is read before the chunks are listed, so "finished" covers every chunk listed.
    const tr = await findTry(src.db, taskInstanceId, key.tryNumber);
    const finished = !tr || logFinished(tr);
    sent = await sendStored(src, out, key, await listStoredLog(src.logStore, key), sent);
    if (finished) return;
    let progressed = false;
    if (src.kube && !podOver && !tr.podReclaimed) {
      const live = await openLiveRemainder(src.kube, tr, sent, async (bytes) => {
        await out.write(bytes);
        sent += bytes.length;
        progressed = true;
      }, { follow: true });
      if (live.kind === "streaming") {
        const cancel = out.onGone(live.abort);
        // Once the try has ended, the executor's copy brings the rest to the store: follow it there
        // rather than wait on a Pod stream that might never end (a proxy that lost its end).
        const tryEnded = watchForEnd(src, taskInstanceId, key.tryNumber, live.done);
        const how = await Promise.race([live.done, tryEnded]);
        cancel();
        if (how === "try_ended") live.abort();
        // A Pod's follow stream ends when its container stops; re-reading it would only repeat what
        // the store is about to hold. A broken stream is tried again.
        if (how === "ended" || how === "try_ended") podOver = true;
      } else if (live.why === "gone") podOver = true;
    }
    if (out.gone) return;
    if (!progressed) await out.sleep(FOLLOW_POLL_MS);
  }
}

/** Resolves "try_ended" once the try's outcome is recorded, polling until `until` settles. */
async function watchForEnd(src: LogSources, taskInstanceId: string, tryNumber: number, until: Promise<unknown>): Promise<"try_ended"> {
  let settled = false;
  void until.finally(() => (settled = true));
  for (;;) {
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
    if (settled) return new Promise<never>(() => {}); // the stream settled first: the race is decided
    const tr = await findTry(src.db, taskInstanceId, tryNumber).catch(() => null);
    if (tr?.endedAt) return "try_ended";
  }
}
