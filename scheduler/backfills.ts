// Backfills (README.md, "Scheduling rules"): every schedule tick in [from, to] of one DAG gets a run
// made exactly as the scheduler would have made it (run id, logical date, data interval), or, when the
// tick has a run already, that run is left alone or reprocessed. The backfill's runs are then started
// by the scheduler from the backfill's own queue, oldest first, within its own maxActiveRuns.
import type { Queryable } from "../db/db.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import { dataIntervalOf, firstTickAtOrAfter, ticksBetween } from "./cron.ts";
import { insertBackfill, lockBackfill, markBackfillCancelled, type BackfillRow, type Reprocess } from "./backfills.repository.ts";
import { getDagVersion, lockDag } from "./dags.repository.ts";
import { downstreamOf } from "./run-planner.ts";
import {
  assignToBackfill,
  cancelRun,
  createRuns,
  lockActiveBackfillRuns,
  lockTaskInstances,
  reopenRun,
  resetTasks,
  runsAtLogicalDates,
  type RunRow,
} from "./runs.repository.ts";
import { ACTIVE_RUN_STATES } from "./states.ts";

export const MAX_BACKFILL_TICKS = 10_000;

/** Why a backfill cannot be made; each is an API error code (api/errors.ts). */
export type BackfillRefusalCode =
  | "backfill_manual_dag"
  | "backfill_reversed_range"
  | "backfill_empty_range"
  | "backfill_too_many_ticks"
  | "backfill_in_future";

export interface BackfillRefusal {
  code: BackfillRefusalCode;
  message: string;
}

/** The run id a scheduled run of `tick` has, and so a backfilled one. */
export const scheduledRunId = (tick: Date) => `scheduled__${tick.toISOString()}`;

/** The ticks a backfill of `def` over [from, to] covers, at `now`, or why it cannot be made. */
export function backfillTicks(def: DagDefinition, from: Date, to: Date, now: Date): { ok: true; ticks: Date[] } | { ok: false; refusal: BackfillRefusal } {
  const refuse = (code: BackfillRefusalCode, message: string) => ({ ok: false as const, refusal: { code, message } });
  if (!def.schedule) {
    return refuse("backfill_manual_dag", `DAG ${def.dagId} has no schedule (schedule: null), so it has no ticks to backfill; trigger its runs with POST /api/v1/dags/${def.dagId}/runs instead.`);
  }
  if (from > to) return refuse("backfill_reversed_range", `from (${from.toISOString()}) is after to (${to.toISOString()}): give the earlier instant as from.`);
  const future = firstTickAtOrAfter(def.schedule, def.timezone, new Date(Math.max(from.getTime(), now.getTime() + 1)));
  if (future <= to) {
    return refuse("backfill_in_future", `The tick ${future.toISOString()} has not come yet (it is ${now.toISOString()}): a backfill covers past ticks only; end the range before then.`);
  }
  const ticks = ticksBetween(def.schedule, def.timezone, from, to, MAX_BACKFILL_TICKS);
  const schedule = `the schedule "${def.schedule}" (${def.timezone})`;
  if (ticks.length === 0) {
    return refuse("backfill_empty_range", `No tick of ${schedule} falls in [${from.toISOString()}, ${to.toISOString()}]; widen the range.`);
  }
  if (ticks.length > MAX_BACKFILL_TICKS) {
    return refuse("backfill_too_many_ticks", `[${from.toISOString()}, ${to.toISOString()}] holds more than ${MAX_BACKFILL_TICKS} ticks of ${schedule}; split it into several backfills.`);
  }
  return { ok: true, ticks };
}

export type TickPlan =
  | { kind: "create"; tick: Date }
  | { kind: "reprocess"; tick: Date; run: RunRow }
  | { kind: "leave"; tick: Date; run: RunRow; reason: string };

/**
 * What a backfill does with each tick, given the DAG's runs at those logical dates. A tick's run is its
 * scheduled run (the run id a schedule gives it) or else the newest run with that logical date.
 */
export function planTicks(ticks: readonly Date[], existing: readonly RunRow[], reprocess: Reprocess): TickPlan[] {
  const runsByTick = new Map<number, RunRow[]>();
  for (const run of existing) runsByTick.set(run.logicalDate.getTime(), [...(runsByTick.get(run.logicalDate.getTime()) ?? []), run]);
  const runOf = (tick: Date): RunRow | undefined => {
    const runs = runsByTick.get(tick.getTime()) ?? [];
    const newest = runs.reduce<RunRow | undefined>((a, b) => (a && BigInt(a.pk) > BigInt(b.pk) ? a : b), undefined);
    return runs.find((r) => r.runId === scheduledRunId(tick)) ?? newest;
  };
  return ticks.map((tick): TickPlan => {
    const run = runOf(tick);
    if (!run) return { kind: "create", tick };
    if (ACTIVE_RUN_STATES.includes(run.state)) return { kind: "leave", tick, run, reason: `the run is ${run.state}` };
    if (reprocess === "all") return { kind: "reprocess", tick, run };
    if (reprocess === "failed" && run.state === "failed") return { kind: "reprocess", tick, run };
    return { kind: "leave", tick, run, reason: reprocess === "none" ? "the tick has a run" : `the run is ${run.state}, not failed` };
  });
}

export interface BackfillRun {
  runId: string;
  logicalDate: Date;
  /** `created` for a tick that had no run; `reprocessed` for one whose run was cleared. */
  action: "created" | "reprocessed";
}

export interface ClearedRun {
  runPk: string;
  runId: string;
  taskIds: string[];
}

export type CreateBackfillOutcome =
  | { kind: "dag_not_found" }
  | { kind: "refused"; refusal: BackfillRefusal }
  | { kind: "created"; backfill: BackfillRow; runs: BackfillRun[]; leftAlone: { runId: string; logicalDate: Date; reason: string }[]; cleared: ClearedRun[] };

export interface BackfillRequest {
  from: Date;
  to: Date;
  /** Default: the DAG's maxActiveRuns. */
  maxActiveRuns?: number;
  reprocess: Reprocess;
}

/**
 * Makes a backfill in the caller's transaction. The DAG's row is locked meanwhile, so the scheduler
 * creates no run of it in between (a tick it would create later finds its run id taken).
 */
export async function createBackfill(tx: Queryable, dagId: string, request: BackfillRequest, now: Date): Promise<CreateBackfillOutcome> {
  const dag = await lockDag(tx, dagId);
  if (!dag) return { kind: "dag_not_found" };
  const def = dag.definition;
  const covered = backfillTicks(def, request.from, request.to, now);
  if (!covered.ok) return { kind: "refused", refusal: covered.refusal };
  const backfill = await insertBackfill(tx, {
    dagId,
    from: request.from,
    to: request.to,
    maxActiveRuns: request.maxActiveRuns ?? def.maxActiveRuns,
    reprocess: request.reprocess,
    dagVersion: dag.latestVersion,
  });
  const plans = planTicks(covered.ticks, await runsAtLogicalDates(tx, dagId, covered.ticks), request.reprocess);
  const toCreate = plans.filter((p) => p.kind === "create").map((p) => p.tick);
  const created = await createRuns(
    tx,
    toCreate.map((tick) => ({
      dagId,
      runId: scheduledRunId(tick),
      runType: "backfill" as const,
      logicalDate: tick,
      dataInterval: dataIntervalOf(def.schedule!, def.timezone, tick),
      params: def.params,
      dagVersion: dag.latestVersion,
      definition: def,
      backfillId: backfill.id,
    })),
  );
  const createdIds = new Set(created.map((r) => r.runId));
  const runs: BackfillRun[] = [];
  const leftAlone: { runId: string; logicalDate: Date; reason: string }[] = [];
  const cleared: ClearedRun[] = [];
  for (const plan of plans) {
    if (plan.kind === "create") {
      const runId = scheduledRunId(plan.tick);
      if (createdIds.has(runId)) runs.push({ runId, logicalDate: plan.tick, action: "created" });
      else leftAlone.push({ runId, logicalDate: plan.tick, reason: "a run with its run id exists at another logical date" });
    } else if (plan.kind === "leave") {
      leftAlone.push({ runId: plan.run.runId, logicalDate: plan.tick, reason: plan.reason });
    } else {
      const taskIds = await reprocessRun(tx, plan.run, request.reprocess, backfill.id);
      runs.push({ runId: plan.run.runId, logicalDate: plan.tick, action: "reprocessed" });
      cleared.push({ runPk: plan.run.pk, runId: plan.run.runId, taskIds });
    }
  }
  return { kind: "created", backfill, runs, leftAlone, cleared };
}

/**
 * Clears a finished run for a backfill, as clearing its tasks through the API would (new tries, on the
 * run's own DAG version): all its tasks, or its failed ones and everything downstream of them. The run
 * goes back to queued, in the backfill's queue. Returns the task ids cleared.
 */
async function reprocessRun(tx: Queryable, run: RunRow, reprocess: Reprocess, backfillId: string): Promise<string[]> {
  const def = (await getDagVersion(tx, run.dagId, run.dagVersion))!.definition;
  const instances = await lockTaskInstances(tx, run.pk, def.tasks.map((t) => t.taskId));
  let taskIds = instances.map((ti) => ti.taskId);
  if (reprocess === "failed") {
    const failed = instances.filter((ti) => ti.state === "failed" || ti.state === "upstream_failed").map((ti) => ti.taskId);
    const affected = new Set(failed.flatMap((id) => [id, ...downstreamOf(def, id)]));
    taskIds = taskIds.filter((id) => affected.has(id));
  }
  await resetTasks(tx, run.pk, taskIds.map((id) => ({ taskId: id, retries: def.tasks.find((t) => t.taskId === id)!.retries })));
  await reopenRun(tx, run.pk);
  await assignToBackfill(tx, run.pk, backfillId);
  return taskIds;
}

export type CancelBackfillOutcome =
  | { kind: "not_found" }
  | { kind: "finished"; message: string }
  | { kind: "cancelled"; backfill: BackfillRow; cancelledRuns: RunRow[] };

/**
 * Cancels a backfill: its queued runs are cancelled before they start, its running ones as a run
 * cancel does (the executor stops their Pods; each log is stored first).
 */
export async function cancelBackfill(tx: Queryable, dagId: string, id: string): Promise<CancelBackfillOutcome> {
  const backfill = await lockBackfill(tx, dagId, id);
  if (!backfill) return { kind: "not_found" };
  if (backfill.cancelledAt) return { kind: "finished", message: `Backfill ${id} was cancelled already (${backfill.cancelledAt.toISOString()}).` };
  const active = await lockActiveBackfillRuns(tx, id);
  if (active.length === 0) return { kind: "finished", message: `Backfill ${id} has completed: none of its runs is queued or running.` };
  await markBackfillCancelled(tx, id);
  for (const run of active) await cancelRun(tx, run.pk);
  return { kind: "cancelled", backfill, cancelledRuns: active };
}
