// The loops' heartbeats. The scheduler and the executor catch every error and run until stopped, so a
// loop that hangs on an await that never settles (a query that never answers, a lost promise) would go
// unnoticed: the process still answers HTTP. Each loop beats once per pass; /healthz (api/routes/health.ts)
// calls a loop stuck once it has gone too long without a beat, so Kubernetes restarts the process, and
// /metrics shows each beat's age (lib/metrics.ts).

export type LoopName = "scheduler" | "executor";

/**
 * Below this no loop is ever called stuck. A pass is bounded (batches of runs and tasks), but over a big
 * backlog, or against a Postgres that is slow for a while (lock waits, a checkpoint, a connection
 * waiting up to 30 s for the pool), a working pass takes seconds, at worst tens of seconds; a pass
 * that fails (Postgres refusing connections) ends quickly and counts as a beat. A minute is far above
 * both and still restarts a hung process within minutes.
 */
export const MIN_STUCK_AFTER_MS = 60_000;

/**
 * How long a loop may go without completing a pass before it is called stuck: a minute, or ten sleeps
 * of a loop that polls slowly. Not a setting: it scales with the poll interval by itself, and whoever
 * wants a restart to wait longer (or less) tunes the liveness probe (failureThreshold × periodSeconds),
 * which adds its own time on top.
 */
export function stuckAfterMsFor(pollIntervalMs: number): number {
  return Math.max(MIN_STUCK_AFTER_MS, 10 * pollIntervalMs);
}

export interface LoopHealth {
  /** When the loop last completed a pass; null before its first. */
  lastPassAt: Date | null;
  /** Milliseconds since its last pass (since its start, before the first; 0 before its start). */
  ageMs: number;
  stuckAfterMs: number;
  stuck: boolean;
}

/**
 * The decision, on its own: a running loop is stuck when its last pass (its start, before the first
 * pass) is more than `stuckAfterMs` ago. A loop that is not running (not started yet, or stopping)
 * is not stuck: it is not expected to beat.
 */
export function judgeLoop(s: { startedAtMs: number | null; lastPassAtMs: number | null; stuckAfterMs: number }, nowMs: number): LoopHealth {
  const since = s.lastPassAtMs ?? s.startedAtMs;
  const ageMs = since === null ? 0 : Math.max(0, nowMs - since);
  return {
    lastPassAt: s.lastPassAtMs === null ? null : new Date(s.lastPassAtMs),
    ageMs,
    stuckAfterMs: s.stuckAfterMs,
    stuck: s.startedAtMs !== null && ageMs > s.stuckAfterMs,
  };
}

/**
 * One loop's heartbeat. On the wall clock (Date.now), never a loop's schedule clock: a scheduler on a
 * test's clock still passes in real time.
 */
export class Heartbeat {
  private startedAtMs: number | null = null;
  private lastPassAtMs: number | null = null;

  constructor(readonly stuckAfterMs: number) {}

  /** The loop starts: from now it is expected to beat. */
  started(): void {
    this.startedAtMs ??= Date.now();
  }

  /** The loop completed a pass (a failed one too: the loop moved on). */
  beat(): void {
    this.lastPassAtMs = Date.now();
  }

  /** The loop is stopping: waiting for its last pass is shutdown, not a hang. */
  stopped(): void {
    this.startedAtMs = null;
  }

  health(nowMs = Date.now()): LoopHealth {
    return judgeLoop({ startedAtMs: this.startedAtMs, lastPassAtMs: this.lastPassAtMs, stuckAfterMs: this.stuckAfterMs }, nowMs);
  }
}

/** The heartbeats of the loops one process runs, by loop. */
export class Heartbeats {
  private readonly loops = new Map<LoopName, Heartbeat>();

  watch(name: LoopName, heartbeat: Heartbeat): void {
    this.loops.set(name, heartbeat);
  }

  /** Each watched loop's health, in the order they were watched. */
  health(nowMs = Date.now()): Array<[LoopName, LoopHealth]> {
    return [...this.loops].map(([name, hb]) => [name, hb.health(nowMs)]);
  }
}
