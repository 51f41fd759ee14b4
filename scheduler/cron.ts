// Cron arithmetic for schedules. A scheduled run fires at each cron tick and its logical date is that
// tick (Airflow 3's CronTriggerTimetable, Argo's CronWorkflow): `0 2 * * *` in Asia/Seoul gives a run
// with logical date 02:00 KST, created at 02:00 KST.
import { CronExpressionParser } from "cron-parser";

function parse(schedule: string, timezone: string, currentDate: Date) {
  return CronExpressionParser.parse(schedule, { currentDate, tz: timezone });
}

/** The first tick strictly after `t`. */
export function nextTickAfter(schedule: string, timezone: string, t: Date): Date {
  return parse(schedule, timezone, t).next().toDate();
}

/** The first tick at or after `t`. */
export function firstTickAtOrAfter(schedule: string, timezone: string, t: Date): Date {
  return nextTickAfter(schedule, timezone, new Date(t.getTime() - 1));
}

/** The latest tick at or before `t`, or null if there is none (an expression with no past ticks). */
export function latestTickAtOrBefore(schedule: string, timezone: string, t: Date): Date | null {
  try {
    return parse(schedule, timezone, new Date(t.getTime() + 1)).prev().toDate();
  } catch {
    return null;
  }
}

export interface DueTicks {
  /** Logical dates to create runs for, oldest first. */
  ticks: Date[];
  /** Where the schedule stands afterwards: the next tick not yet due. */
  nextRunAt: Date;
}

/**
 * The runs a schedule owes at `now`, given the tick it was waiting for (`nextRunAt`, already due).
 * With catchup every missed tick is owed, at most `limit` per call (the rest on the next call);
 * without catchup only the latest tick is.
 */
export function dueTicks(schedule: string, timezone: string, nextRunAt: Date, now: Date, catchup: boolean, limit = 100): DueTicks {
  if (!catchup) {
    const latest = latestTickAtOrBefore(schedule, timezone, now) ?? nextRunAt;
    const tick = latest < nextRunAt ? nextRunAt : latest;
    return { ticks: [tick], nextRunAt: nextTickAfter(schedule, timezone, now) };
  }
  const ticks: Date[] = [];
  let tick = nextRunAt;
  while (tick <= now && ticks.length < limit) {
    ticks.push(tick);
    tick = nextTickAfter(schedule, timezone, tick);
  }
  return { ticks, nextRunAt: tick };
}

/** Where a (re)posted schedule starts: its first tick at or after `start`, or after now without catchup. */
export function initialNextRunAt(schedule: string, timezone: string, start: Date | null, catchup: boolean, now: Date): Date {
  const from = start && (catchup || start > now) ? start : now;
  return firstTickAtOrAfter(schedule, timezone, from);
}
