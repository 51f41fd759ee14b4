// Durations in DAG files: a number of seconds, or "<number><unit>" parts ("1h30m", "500ms", "2d").

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/y;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

const HINT = 'use seconds as a number, or a string like "500ms", "30s", "20m", "1h30m", "2d"';

export function parseDuration(value: unknown): DurationResult {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) return { ok: false, message: `must be a non-negative duration; ${HINT}` };
    return { ok: true, ms: Math.round(value * 1000) };
  }
  if (typeof value !== "string") return { ok: false, message: `must be a duration; ${HINT}` };
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    return { ok: false, message: `"${value}" has no unit; write "${text}s" for seconds, or ${HINT}` };
  }
  let ms = 0;
  let index = 0;
  while (index < text.length) {
    PART.lastIndex = index;
    const match = PART.exec(text);
    if (!match) return { ok: false, message: `"${value}" is not a duration; ${HINT}` };
    ms += Number(match[1]) * UNIT_MS[match[2]];
    index = PART.lastIndex;
    while (text[index] === " ") index++;
  }
  if (text.length === 0) return { ok: false, message: `is empty; ${HINT}` };
  return { ok: true, ms: Math.round(ms) };
}
