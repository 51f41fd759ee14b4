// Checks the DAG's schedule, time zone and start with the same library the scheduler uses to compute
// ticks (cron-parser), so a DAG that is accepted here can always be scheduled.
import { CronExpressionParser } from "cron-parser";

export const SCHEDULE_PRESETS = ["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"] as const;

export function isValidTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Returns why `schedule` is not a usable cron expression or preset, or undefined if it is. */
export function scheduleProblem(schedule: string, timezone: string): string | undefined {
  const text = schedule.trim();
  if (text.startsWith("@")) {
    if (!(SCHEDULE_PRESETS as readonly string[]).includes(text)) {
      return `unknown preset "${text}"; use one of ${SCHEDULE_PRESETS.join(", ")}, a cron expression, or null for manual runs`;
    }
  } else {
    const fields = text.split(/\s+/).filter(Boolean).length;
    if (fields !== 5 && fields !== 6) {
      return `"${schedule}" has ${fields} field${fields === 1 ? "" : "s"}; a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
    }
  }
  try {
    CronExpressionParser.parse(text, { tz: timezone }).next();
    return undefined;
  } catch (error) {
    return `"${schedule}" is not a valid cron expression: ${(error as Error).message}`;
  }
}

// The offset of `zone` from UTC at `instant`, in milliseconds.
function zoneOffsetMs(instant: number, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return asUtc - Math.floor(instant / 1000) * 1000;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses `start` into an ISO instant (UTC, milliseconds). A date or time without an offset is read in
 * the DAG's time zone, as the schedule is, rather than in whatever zone the server runs in.
 */
export function parseStart(start: string, timezone: string): { ok: true; iso: string } | { ok: false; message: string } {
  const match = ISO.exec(start.trim());
  const invalid = {
    ok: false as const,
    message: `"${start}" is not an ISO-8601 date, e.g. "2026-01-01T00:00:00Z" or "2026-01-01" (read in the DAG's timezone)`,
  };
  if (!match) return invalid;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "0", offset] = match;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, "0").slice(0, 3))] as const;
  const wallAsUtc = Date.UTC(...fields);
  const check = new Date(wallAsUtc);
  if (check.getUTCMonth() !== fields[1] || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) {
    return invalid;
  }
  let instant: number;
  if (offset !== undefined) {
    const digits = offset.toUpperCase() === "Z" ? "0000" : offset.slice(1).replace(":", "");
    const sign = offset[0] === "-" ? -1 : 1;
    instant = wallAsUtc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  } else {
    // Two passes settle the offset even when the wall time is near a DST change.
    instant = wallAsUtc - zoneOffsetMs(wallAsUtc, timezone);
    instant = wallAsUtc - zoneOffsetMs(instant, timezone);
  }
  return { ok: true, iso: new Date(instant).toISOString() };
}
