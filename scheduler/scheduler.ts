// The scheduler loop: creates runs from cron schedules (as each DAG's overlap policy says), starts queued
// runs within maxActiveRuns (a backfill's within its own), and moves tasks through their states as their
// upstream tasks finish. Several schedulers may run against one
// database: every step locks what it changes (SKIP LOCKED) or changes it by compare-and-set.
import { Heartbeat, stuckAfterMsFor } from "../lib/heartbeat.ts";
import { unservedMetrics, type Metrics } from "../lib/metrics.ts";
import type { Db, Queryable } from "../db/db.ts";
import { notifyWakeup, type Wakeup } from "../db/wakeup.ts";
import type { Logger } from "../lib/logger.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import { dataIntervalOf, dueTicks } from "./cron.ts";
import { DagDefinitionCache, latestVersionOf, lockDueDags, recordSkippedTick, setNextRunAt, type DueDag } from "./dags.repository.ts";
import { overlapAction } from "./overlap.ts";
import { planRun, type TaskSnapshot } from "./run-planner.ts";
import {
  applyTaskMoves,
  backfillsWithQueuedRuns,
  cancelReplacedRun,
  createRun,
  dagsWithQueuedRuns,
  finishRun,
  listTaskInstances,
  lockActiveScheduleRuns,
  lockRunsToPlan,
  markPlanned,
  requestPlan,
  requestRetryPlans,
  requestStalePlans,
  startQueuedBackfillRuns,
  startQueuedRuns,
} from "./runs.repository.ts";

export interface SchedulerOptions {
  /** Backstop poll interval when no notification arrives. @default 1000 */
  pollIntervalMs?: number;
  /** Runs planned per pass. @default 200 */
  planBatchSize?: number;
  /** A running run not planned for this long is planned anyway (a backstop). @default 60000 */
  staleAfterMs?: number;
  /** The process's cache of DAG definitions, shared with the executor. @default a cache of its own */
  definitions?: DagDefinitionCache;
  /** What time it is for schedules (ticks coming due, retries coming due); tests pass their own. @default the system clock */
  clock?: () => Date;
  /** The process's metrics. @default a registry nobody serves */
  metrics?: Metrics;
  /** /healthz calls the loop stuck after this long without a completed pass. @default stuckAfterMsFor(pollIntervalMs): a minute */
  stuckAfterMs?: number;
}

export class Scheduler {
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly definitions: DagDefinitionCache;
  private readonly pollIntervalMs: number;
  private readonly planBatchSize: number;
  private readonly staleAfterMs: number;
  private readonly clock: () => Date;
  private readonly metrics: Metrics;
  private lastStaleSweep = 0;
  /** When the loop last completed a pass (app/ferry.ts hands it to /healthz). */
  readonly heartbeat: Heartbeat;

  constructor(
    private readonly db: Db,
    private readonly wakeup: Wakeup,
    private readonly log: Logger,
    opts: SchedulerOptions = {},
  ) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.planBatchSize = opts.planBatchSize ?? 200;
    this.staleAfterMs = opts.staleAfterMs ?? 60_000;
    this.definitions = opts.definitions ?? new DagDefinitionCache();
    this.clock = opts.clock ?? (() => new Date());
    this.metrics = opts.metrics ?? unservedMetrics();
    this.heartbeat = new Heartbeat(opts.stuckAfterMs ?? stuckAfterMsFor(this.pollIntervalMs));
  }

  start(): void {
    this.heartbeat.started();
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.heartbeat.stopped();
    this.wakeup.poke();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let busy = false;
      try {
        busy = (await this.tick()) > 0;
      } catch (err) {
        this.log.error("scheduler pass failed; retrying", { err });
      }
      // A failed pass beats too: the loop is not stuck, it moves on (a Postgres outage is /readyz's).
      this.heartbeat.beat();
      if (!this.stopped && !busy) await this.wakeup.sleep(this.pollIntervalMs);
    }
  }

  /** One pass over all the scheduler's duties. Returns how many changes it made. */
  async tick(now = this.clock()): Promise<number> {
    const created = await this.createDueRuns(now);
    if (created > 0) this.metrics.runsCreated.inc({ type: "scheduled" }, created);
    const started = await this.startQueuedRuns();
    const planned = await this.planRunningRuns(now);
    const changes = created + started + planned;
    if (changes > 0) await notifyWakeup(this.db, "tasks");
    return changes;
  }

  /** `via` is the caller's transaction when it holds locks: a second pool connection could deadlock the pool. */
  private async definitionOf(dagId: string, version: number, via: Queryable = this.db): Promise<DagDefinition> {
    const def = await this.definitions.get(via, dagId, version);
    if (!def) throw new Error(`DAG version ${dagId}@${version} is missing`);
    return def;
  }

  private async createDueRuns(now: Date): Promise<number> {
    return this.db.transaction(async (tx) => {
      const due = await lockDueDags(tx, now, 50);
      let created = 0;
      for (const dag of due) {
        const def = dag.definition;
        if (!def.schedule) {
          await setNextRunAt(tx, dag.dagId, null);
          continue;
        }
        const end = def.end ? new Date(def.end) : null;
        const { ticks, nextRunAt } = dueTicks(def.schedule, def.timezone, dag.nextRunAt, now, def.catchup, 100, end);
        for (const tick of ticks) created += await this.createScheduledRun(tx, dag, def.schedule, tick);
        await setNextRunAt(tx, dag.dagId, nextRunAt);
      }
      if (created > 0) this.log.info("created scheduled runs", { count: created });
      return created;
    });
  }

  /** Creates the run of one due tick, as the DAG's overlap policy says. Returns how many changes it made. */
  private async createScheduledRun(tx: Queryable, dag: DueDag, schedule: string, tick: Date): Promise<number> {
    const def = dag.definition;
    const policy = def.overlap ?? "allow";
    const action = overlapAction(policy, policy === "allow" ? [] : await lockActiveScheduleRuns(tx, dag.dagId));
    if (action.kind === "skip") {
      await recordSkippedTick(tx, dag.dagId, tick, action.reason);
      this.log.info(`skipped tick ${tick.toISOString()} of ${dag.dagId}: ${action.reason}`);
      return 1;
    }
    const run = await createRun(tx, {
      dagId: dag.dagId,
      runId: `scheduled__${tick.toISOString()}`,
      runType: "scheduled",
      logicalDate: tick,
      dataInterval: dataIntervalOf(schedule, def.timezone, tick),
      params: def.params,
      dagVersion: dag.latestVersion,
      definition: def,
    });
    if (!run) return 0;
    for (const old of action.replace) {
      // The executor stops its Pods as for any cancelled run: each log is stored before its Pod goes.
      await cancelReplacedRun(tx, old.pk, run.runId);
      this.log.info(`run ${dag.dagId}/${old.runId} cancelled: replaced by ${run.runId}`);
    }
    return 1 + action.replace.length;
  }

  private async startQueuedRuns(): Promise<number> {
    let started = 0;
    for (const dagId of await dagsWithQueuedRuns(this.db)) {
      const latest = await latestVersionOf(this.db, dagId);
      if (latest === null) continue;
      const def = await this.definitionOf(dagId, latest);
      started += await startQueuedRuns(this.db, dagId, def.maxActiveRuns);
    }
    for (const b of await backfillsWithQueuedRuns(this.db)) {
      started += await startQueuedBackfillRuns(this.db, b.dagId, b.backfillId, b.maxActiveRuns);
    }
    return started;
  }

  private async planRunningRuns(now: Date): Promise<number> {
    await requestRetryPlans(this.db);
    if (Date.now() - this.lastStaleSweep >= Math.min(this.staleAfterMs, 10_000)) {
      this.lastStaleSweep = Date.now();
      await requestStalePlans(this.db, this.staleAfterMs);
    }
    return this.db.transaction(async (tx) => {
      const runs = await lockRunsToPlan(tx, this.planBatchSize);
      if (runs.length === 0) return { changes: 0, finished: [] };
      const instances = await listTaskInstances(tx, runs.map((r) => r.pk));
      const byRun = new Map<string, Map<string, TaskSnapshot>>();
      for (const ti of instances) {
        let m = byRun.get(ti.runPk);
        if (!m) byRun.set(ti.runPk, (m = new Map()));
        m.set(ti.taskId, { state: ti.state, retryAt: ti.retryAt });
      }
      let changes = 0;
      const stale: string[] = [];
      const finished: string[] = [];
      for (const run of runs) {
        const def = await this.definitionOf(run.dagId, run.dagVersion, tx);
        const plan = planRun(def, byRun.get(run.pk) ?? new Map(), now);
        const applied = await applyTaskMoves(tx, run.pk, plan.moves);
        changes += applied;
        // If a task changed under us (an executor finished it, a user cleared it), the plan was made
        // from stale states: plan the run again on the next pass.
        if (applied !== plan.moves.length) stale.push(run.pk);
        if (plan.runOutcome && applied === plan.moves.length) {
          if (await finishRun(tx, run.pk, plan.runOutcome)) {
            changes++;
            finished.push(plan.runOutcome);
            this.log.info(`run ${run.dagId}/${run.runId} ${plan.runOutcome}`);
          }
        }
      }
      await markPlanned(tx, runs.map((r) => r.pk));
      for (const run of stale) await requestPlan(tx, run);
      return { changes, finished };
    }).then(({ changes, finished }) => {
      for (const state of finished) this.metrics.runsFinished.inc({ state }); // counted once committed
      return changes;
    });
  }
}
