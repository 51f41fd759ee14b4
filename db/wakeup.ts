// Loops in the scheduler and executor sleep until there is something to do: a NOTIFY on Ferry's channel
// (sent after every state change that may unblock work) or, as a backstop when a notification is lost
// or the LISTEN connection is down, a short poll interval. A lost LISTEN connection wakes the loops and
// is opened again (one at a time, backing off while Postgres is unreachable); once it listens again the
// loops are woken once more, for whatever was notified meanwhile.
import type { Db } from "./db.ts";

export const WAKEUP_CHANNEL = "ferry_wakeup";

export type WakeTopic = "runs" | "tasks" | "tries";

export interface Wakeup {
  /** Resolves on the next notification, on `poke()`, or after `ms`, whichever is first. */
  sleep(ms: number): Promise<void>;
  /** Wakes this process's sleepers at once (no round trip through Postgres). */
  poke(): void;
  close(): Promise<void>;
}

export async function notifyWakeup(db: Pick<Db, "notify">, topic: WakeTopic): Promise<void> {
  await db.notify(WAKEUP_CHANNEL, topic);
}

/** The first reconnect waits this long after a loss; each failed attempt doubles it, up to RECONNECT_MAX_MS. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

export async function createWakeup(db: Db): Promise<Wakeup> {
  let waiters: Array<() => void> = [];
  let pending = false;
  let closed = false;
  // The one LISTEN connection, from the start of its connect until it is lost: at most one at a time,
  // however its loss is reported (a dropped connection both ends it and fails a LISTEN in flight).
  let current: { release: (() => Promise<void>) | null; lost: boolean } | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let failures = 0;

  const wakeAll = () => {
    if (waiters.length === 0) {
      pending = true; // remember a wake that came between two sleeps
      return;
    }
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  };

  const reconnectLater = () => {
    if (closed || retryTimer) return;
    const delay = Math.min(RECONNECT_MIN_MS * 2 ** failures, RECONNECT_MAX_MS);
    failures++;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, delay);
    retryTimer.unref();
  };

  const connect = async (): Promise<void> => {
    if (closed || current) return;
    const attempt: { release: (() => Promise<void>) | null; lost: boolean } = { release: null, lost: false };
    current = attempt;
    const lost = () => {
      if (attempt.lost) return;
      attempt.lost = true;
      if (current === attempt) current = null;
      // Notifications may be missed until the next LISTEN: wake now, and listen again shortly
      // (polling drives the loops meanwhile).
      wakeAll();
      reconnectLater();
    };
    let release: () => Promise<void>;
    try {
      release = await db.listen(WAKEUP_CHANNEL, wakeAll, lost);
    } catch {
      lost(); // Postgres unreachable, or the connection dropped before LISTEN was done
      return;
    }
    attempt.release = release;
    if (closed || attempt.lost) {
      await release();
      return;
    }
    if (failures > 0) {
      // Listening again after a loss: whatever was notified in between was missed, so wake once more.
      failures = 0;
      wakeAll();
    }
  };
  await connect();

  return {
    sleep(ms) {
      if (pending || closed) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }
        waiters.push(done);
      });
    },
    poke: wakeAll,
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      wakeAll();
      const open = current;
      current = null;
      // A connect still in flight releases its connection itself when it sees `closed`.
      await open?.release?.();
    },
  };
}
