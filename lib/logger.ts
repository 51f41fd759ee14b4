// Ferry's own operational log, on pino: one record per event on stderr, JSON lines for log collectors,
// or one readable line per record (`time level component message {fields}`) in a terminal. Every part
// logs through the small `Logger` below (a message, then fields; `child` names a component), so no part
// depends on pino's API; the API server hands the same pino instance to fastify (`pinoOf`).
// It lives in lib/ because every part logs through it, and lib/ imports nothing else of Ferry.
// Background failures are logged here and the loop goes on; they never crash the process.
import { pino, stdSerializers, stdTimeFunctions, type Logger as Pino, type LevelWithSilent } from "pino";

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** The same log with `component` set to `<this component>/<component>`. */
  child(component: string): Logger;
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `auto`: readable lines when the output is a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  /** @default "info" */
  level?: LogLevel;
  /** @default "auto" */
  format?: LogFormat;
  /** Takes each record as one line (no final newline) instead of stderr; tests capture lines with it. */
  sink?: (line: string) => void;
}

const pinos = new WeakMap<Logger, Pino>();

export function createLogger(component = "ferry", opts: LoggerOptions = {}): Logger {
  const sink = opts.sink ?? ((line: string) => process.stderr.write(line + "\n"));
  const pretty = opts.format === "pretty" || (opts.format !== "json" && opts.sink === undefined && process.stderr.isTTY === true);
  const root = pino(
    {
      level: opts.level ?? "info",
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err },
    },
    { write: (record: string) => sink(pretty ? formatPretty(record) : record.replace(/\n$/, "")) },
  );
  return wrap(root, component);
}

function wrap(root: Pino, component: string): Logger {
  // Each child is made from the root, so the record carries one `component` field, the whole path.
  const p = root.child({ component });
  const logger: Logger = {
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
    child: (c) => wrap(root, `${component}/${c}`),
  };
  pinos.set(logger, p);
  return logger;
}

/** The pino logger behind a Ferry logger (for fastify); undefined for a logger made some other way. */
export function pinoOf(log: Logger): Pino | undefined {
  return pinos.get(log);
}

/** What pino adds to every record that a reader in a terminal does not need on each line. */
const QUIET_KEYS = new Set(["time", "level", "component", "msg", "pid", "hostname"]);

/**
 * One JSON record as one readable line: `time level component message {fields}`, an error field
 * shown by its message; the error's stack follows, indented, on error records.
 */
export function formatPretty(record: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(record) as Record<string, unknown>;
  } catch {
    return record.replace(/\n$/, "");
  }
  const fields: Record<string, unknown> = {};
  let stack: string | undefined;
  for (const [k, v] of Object.entries(r)) {
    if (QUIET_KEYS.has(k)) continue;
    if (v !== null && typeof v === "object" && typeof (v as { message?: unknown }).message === "string" && "stack" in v) {
      const e = v as { type?: string; message: string; stack?: string };
      fields[k] = e.message;
      if (typeof e.stack === "string") stack ??= e.stack;
    } else fields[k] = v;
  }
  const component = r.component === undefined ? "" : ` ${String(r.component)}`;
  const extra = Object.keys(fields).length > 0 ? " " + JSON.stringify(fields) : "";
  const line = `${String(r.time)} ${String(r.level)}${component} ${String(r.msg ?? "")}${extra}`;
  const showStack = stack !== undefined && (r.level === "error" || r.level === "fatal");
  return showStack ? `${line}\n${stack!.replace(/^/gm, "    ")}` : line;
}

export const silentLogger: Logger = createLogger("silent", { level: "silent" });
