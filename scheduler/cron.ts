// Cron arithmetic for schedules. A scheduled run fires at each cron tick and its logical date is that
// tick (Airflow 3's CronTriggerTimetable, Argo's CronWorkflow): `0 2 * * *` in Asia/Seoul gives a run
// with logical date 02:00 KST, created at 02:00 KST.
//
// The ticks are the ones cron-parser gives walking forward through the DAG's time zone (README.md,
// "Scheduling rules", states what that does at daylight-saving changes). cron-parser's answer for
// "the next tick after t" depends on where it starts when t lies in the hours after a clock change (it
// returns the second 01:30 of a fall-back night when started between the two, and skips a 02:30 that
// a spring-forward night moved to 03:30 when started at 03:00), and its backward walk disagrees with
// its forward walk there. Every function here therefore answers from one forward walk that starts
// before the change, so a tick never depends on when a scheduler happened to look.
import { CronExpressionParser } from "cron-parser";
import { offsetChangeWithin } from "./zone-offsets.ts";

// Longer than any daylight-saving shift (1 h almost everywhere, 2 h in some past rules): a walk from
// more than this after a change is unaffected by it.
const SETTLE_MS = 3 * 3600_000;

function parse(schedule: string, timezone: string, currentDate: Date) {
  return CronExpressionParser.parse(schedule, { currentDate, tz: timezone });
}

/** The first tick strictly after `t`. */
export function nextTickAfter(schedule: string, timezone: string, t: Date): Date {
  const change = offsetChangeWithin(timezone, t.getTime() - SETTLE_MS, t.getTime());
  if (change === null) return parse(schedule, timezone, t).next().toDate();
  const walk = parse(schedule, timezone, new Date(change - 1000));
  for (;;) {
    const tick = walk.next().toDate();
    if (tick > t) return tick;
  }
}

/** The first tick at or after `t`. */
export function firstTickAtOrAfter(schedule: string, timezone: string, t: Date): Date {
  return nextTickAfter(schedule, timezone, new Date(t.getTime() - 1));
}

function rawPreviousAtOrBefore(schedule: string, timezone: string, t: Date): Date | null {
  try {
    return parse(schedule, timezone, new Date(t.getTime() + 1)).prev().toDate();
  } catch {
    return null; // an expression with no past ticks
  }
}

/** The latest tick at or before `t`, or null if there is none (an expression with no past ticks). */
export function latestTickAtOrBefore(schedule: string, timezone: string, t: Date): Date | null {
  // cron-parser's backward walk may name a tick the forward walk does not have (the second 01:30 of a
  // fall-back night) or miss one it has (a moved 02:30): take its answer as a place to start walking
  // forward from, and step further back while that walk has nothing at or before t.
  let bound = t;
  for (let step = 0; step < 10_000; step++) {
    const candidate = rawPreviousAtOrBefore(schedule, timezone, bound);
    if (!candidate) return null;
    let latest: Date | null = null;
    for (let tick = firstTickAtOrAfter(schedule, timezone, candidate); tick <= t; tick = nextTickAfter(schedule, timezone, tick)) latest = tick;
    if (latest) return latest;
    bound = new Date(candidate.getTime() - 1);
  }
  return rawPreviousAtOrBefore(schedule, timezone, t);
}

/** The tick before `tick`: where the data interval of the run for `tick` starts (itself if none). */
export function previousTick(schedule: string, timezone: string, tick: Date): Date {
  return latestTickAtOrBefore(schedule, timezone, new Date(tick.getTime() - 1)) ?? tick;
}

/** The span of data a scheduled (or backfilled) run of `tick` stands for: the previous tick up to it. */
export function dataIntervalOf(schedule: string, timezone: string, tick: Date): { start: Date; end: Date } {
  return { start: previousTick(schedule, timezone, tick), end: tick };
}

/** Ticks in [from, to], oldest first, at most `limit + 1` of them (so a caller can tell "more than limit"). */
export function ticksBetween(schedule: string, timezone: string, from: Date, to: Date, limit: number): Date[] {
  const ticks: Date[] = [];
  for (let tick = firstTickAtOrAfter(schedule, timezone, from); tick <= to && ticks.length <= limit; tick = nextTickAfter(schedule, timezone, tick)) {
    ticks.push(tick);
  }
  return ticks;
}

export interface DueTicks {
  /** Logical dates to create runs for, oldest first. */
  ticks: Date[];
  /** Where the schedule stands afterwards: the next tick not yet due, or null once past the DAG's end. */
  nextRunAt: Date | null;
}

/**
 * The runs a schedule owes at `now`, given the tick it was waiting for (`nextRunAt`, already due).
 * With catchup every missed tick is owed, at most `limit` per call (the rest on the next call);
 * without catchup only the latest tick is. No tick after `end` is owed.
 */
export function dueTicks(
  schedule: string,
  timezone: string,
  nextRunAt: Date,
  now: Date,
  catchup: boolean,
  limit = 100,
  end: Date | null = null,
): DueTicks {
  const horizon = end && end < now ? end : now;
  const unlessEnded = (next: Date) => (end && next > end ? null : next);
  if (!catchup) {
    const latest = latestTickAtOrBefore(schedule, timezone, horizon) ?? nextRunAt;
    const tick = latest < nextRunAt ? nextRunAt : latest;
    return { ticks: tick <= horizon ? [tick] : [], nextRunAt: unlessEnded(nextTickAfter(schedule, timezone, now)) };
  }
  const ticks: Date[] = [];
  let tick = nextRunAt;
  while (tick <= horizon && ticks.length < limit) {
    ticks.push(tick);
    tick = nextTickAfter(schedule, timezone, tick);
  }
  return { ticks, nextRunAt: unlessEnded(tick) };
}

/**
 * Where a (re)posted schedule starts: its first tick at or after `start`, or after now without catchup;
 * null when that is past `end`.
 */
export function initialNextRunAt(schedule: string, timezone: string, start: Date | null, catchup: boolean, now: Date, end: Date | null = null): Date | null {
  const from = start && (catchup || start > now) ? start : now;
  const first = firstTickAtOrAfter(schedule, timezone, from);
  return end && first > end ? null : first;
}
