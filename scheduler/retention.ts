// Retention: deletes finished runs older than FERRY_RETENTION_DAYS, logs first, then rows. It runs in
// the scheduler component, so several sweepers may share one database: each run is deleted under its
// own row lock (SKIP LOCKED), so two sweepers never work on one run and nothing can clear or reopen it
// while its logs go. A run whose logs cannot be deleted keeps its rows and is tried again next pass:
// rows are never removed while logs they point to may remain. S3 lifecycle rules alone would do the
// opposite (rows pointing at vanished logs), which is why this sweeper is the mechanism.
import { setTimeout as sleep } from "node:timers/promises";
import type { Db } from "../db/db.ts";
import type { Logger } from "../lib/logger.ts";
import type { LogStore } from "../logstore/logstore.ts";
import { deleteRun, listExpiredRuns, lockExpiredRun, type ExpiredRun } from "./runs.repository.ts";

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionOptions {
  /** Finished runs that ended longer ago than this are deleted. */
  maxAgeMs: number;
  /** Runs listed per batch; each run is then deleted in a short transaction of its own. @default 100 */
  batchSize?: number;
  /** Between passes. @default 300000 (5 min) */
  intervalMs?: number;
  /** Before the first pass, so start-up is not slowed by a large backlog. @default 15000 */
  firstPassDelayMs?: number;
  /**
   * A pass stops after this many runs in a row failed to delete their logs: the store is probably
   * down, and trying every other run would only repeat the same error. @default 3
   */
  maxConsecutiveFailures?: number;
  /** The clock deciding what is old enough. @default () => new Date() */
  now?: () => Date;
}

export interface SweepResult {
  /** Runs deleted, logs and rows. */
  deleted: number;
  /** Runs whose logs could not be deleted; their rows stay for a later pass. */
  failed: number;
}

export class RetentionSweeper {
  private readonly maxAgeMs: number;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly firstPassDelayMs: number;
  private readonly maxConsecutiveFailures: number;
  private readonly now: () => Date;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly logStore: LogStore,
    private readonly log: Logger,
    opts: RetentionOptions,
  ) {
    if (!(opts.maxAgeMs > 0)) throw new Error(`retention: maxAgeMs must be positive, got ${opts.maxAgeMs}`);
    this.maxAgeMs = opts.maxAgeMs;
    this.batchSize = opts.batchSize ?? 100;
    this.intervalMs = opts.intervalMs ?? 5 * 60_000;
    this.firstPassDelayMs = opts.firstPassDelayMs ?? 15_000;
    this.maxConsecutiveFailures = opts.maxConsecutiveFailures ?? 3;
    this.now = opts.now ?? (() => new Date());
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops between two runs: a run being deleted is finished (or rolled back) first. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    let delay = this.firstPassDelayMs;
    for (;;) {
      try {
        await sleep(delay, undefined, { signal: this.stopping.signal });
      } catch {
        return; // stopped while waiting
      }
      try {
        await this.sweep();
      } catch (err) {
        this.log.error("retention pass failed; retrying at the next pass", { err });
      }
      delay = this.intervalMs;
    }
  }

  /** One pass: every run expired as of now, batch by batch. */
  async sweep(): Promise<SweepResult> {
    const cutoff = new Date(this.now().getTime() - this.maxAgeMs);
    const result: SweepResult = { deleted: 0, failed: 0 };
    let consecutiveFailures = 0;
    // Deleted runs leave the list by themselves; the cursor steps past the ones that stay (failed, or
    // taken by another sweeper), so a pass visits each run once and always ends.
    let after: ExpiredRun | undefined;
    pass: while (!this.stopping.signal.aborted) {
      const batch = await listExpiredRuns(this.db, { cutoff, limit: this.batchSize, after });
      for (const run of batch) {
        if (this.stopping.signal.aborted) break pass;
        after = run;
        const outcome = await this.deleteOne(run, cutoff);
        if (outcome === "deleted") {
          result.deleted++;
          consecutiveFailures = 0;
        } else if (outcome === "failed") {
          result.failed++;
          if (++consecutiveFailures >= this.maxConsecutiveFailures) {
            this.log.error("retention pass stopped: several runs in a row could not be deleted (log store down?); trying again next pass", {
              failedInARow: consecutiveFailures,
            });
            break pass;
          }
        }
      }
      if (batch.length < this.batchSize) break;
    }
    if (result.deleted > 0) {
      this.log.info(`retention deleted ${result.deleted} runs with their logs`, { ...result, endedBefore: cutoff.toISOString() });
    }
    return result;
  }

  private async deleteOne(run: ExpiredRun, cutoff: Date): Promise<"deleted" | "failed" | "skipped"> {
    try {
      return await this.db.transaction(async (tx) => {
        const locked = await lockExpiredRun(tx, run.pk, cutoff);
        if (!locked) return "skipped"; // another sweeper has it, or it was cleared and runs again
        // Holding the lock across the store call is deliberate: it keeps the run from being cleared
        // (and writing new logs) between its logs going and its rows going. One run's logs take a few
        // requests, so the transaction stays short.
        await this.logStore.deleteRunLogs(locked.dagId, locked.runId);
        // Should this fail after the logs went, the rows stay and the next pass deletes them (deleting
        // logs that are gone is a no-op): rows without logs for a while, never logs without rows.
        await deleteRun(tx, locked.pk);
        return "deleted";
      });
    } catch (err) {
      this.log.warn(`retention could not delete run ${run.dagId}/${run.runId}; its rows stay until a later pass`, { err });
      return "failed";
    }
  }
}
