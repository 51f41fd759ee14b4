// UTC offsets of IANA time zones, and where they change (daylight-saving transitions), from the
// platform's own zone data (Intl), so the scheduler needs no time-zone library of its own.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The offset of `zone` from UTC at `instant` (ms since the epoch), in milliseconds. */
export function zoneOffsetMs(zone: string, instant: number): number {
  const parts = formatterFor(zone).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const wallAsUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wallAsUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant (ms, on a whole second) at which `zone`'s offset last changes within (from, to], or null
 * if it is the same at both ends. Zones change their offset at most a few times a year, so a window
 * of hours holds at most one change.
 */
export function offsetChangeWithin(zone: string, from: number, to: number): number | null {
  const before = zoneOffsetMs(zone, from);
  if (zoneOffsetMs(zone, to) === before) return null;
  // Bisect on whole seconds: lo keeps the old offset, hi has the new one.
  let lo = Math.floor(from / 1000);
  let hi = Math.ceil(to / 1000);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zoneOffsetMs(zone, mid * 1000) === before) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}
