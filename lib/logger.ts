// Ferry's own operational log: one line per event on stderr, `time level component message {fields}`.
// It lives in lib/ because every part logs through it, and lib/ imports nothing else of Ferry.
// Background failures are logged here and the loop goes on; they never crash the process.

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

type Sink = (line: string) => void;

export function createLogger(component = "ferry", sink: Sink = (l) => process.stderr.write(l + "\n"), quiet = false): Logger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (quiet && level === "info") return;
    const extra = fields && Object.keys(fields).length > 0 ? " " + JSON.stringify(fields, errorReplacer) : "";
    sink(`${new Date().toISOString()} ${level} ${component} ${msg}${extra}`);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (c) => createLogger(`${component}/${c}`, sink, quiet),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

export const silentLogger: Logger = createLogger("silent", () => {});
