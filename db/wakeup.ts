// Loops in the scheduler and executor sleep until there is something to do: a NOTIFY on Ferry's channel
// (sent after every state change that may unblock work) or, as a backstop when a notification is lost
// or the LISTEN connection is down, a short poll interval.
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

export async function createWakeup(db: Db): Promise<Wakeup> {
  let waiters: Array<() => void> = [];
  let pending = false;
  let closed = false;
  let unlisten: (() => Promise<void>) | null = null;
  let retryTimer: NodeJS.Timeout | null = null;

  const wakeAll = () => {
    if (waiters.length === 0) {
      pending = true; // remember a wake that came between two sleeps
      return;
    }
    const current = waiters;
    waiters = [];
    for (const w of current) w();
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    try {
      unlisten = await db.listen(WAKEUP_CHANNEL, wakeAll, () => {
        // Notifications may have been missed while the connection was down: wake, then listen again.
        unlisten = null;
        wakeAll();
        retryTimer = setTimeout(() => void connect(), 1000);
        retryTimer.unref();
      });
    } catch {
      // Postgres unreachable: polling still drives the loops; try LISTEN again shortly.
      retryTimer = setTimeout(() => void connect(), 2000);
      retryTimer.unref();
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
      wakeAll();
      await unlisten?.();
    },
  };
}
