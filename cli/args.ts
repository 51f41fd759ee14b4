// The command line of `ferry`: each command declares its arguments and options once (`CommandSpec`),
// and from that declaration come its parsing (node:util's parseArgs, strict: an unknown option is a usage
// error), its `--help` text and the overview `ferry --help` prints.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./client.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  /** One letter, used as `-x`. */
  short?: string;
  /** May be given several times; every value is kept, in order. */
  multiple?: boolean;
  /** For a string option: what its value is called in the help (`N`, `ID`, `k=v`). */
  value?: string;
  help: string;
}

export interface CommandSpec {
  /** The command words: `start`, `runs trigger`. */
  name: string;
  /** The positional arguments, all required, as the usage names them: `["DAG", "RUN"]`. */
  args: string[];
  /** Positional arguments that may follow them, in order, each optional: `["TASK"]`. */
  optional?: string[];
  options: Record<string, OptionSpec>;
  /** One line for the overview. */
  summary: string;
  /** More lines for the command's own help, if the summary is not enough. */
  details?: string;
}

/** A usage mistake (an unknown option, a missing argument): exit status 2, with the usage to fix it. */
export class UsageError extends CliError {
  readonly exitCode = 2;
}

export interface ParsedArgs {
  positional: string[];
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
}

export const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", help: "print this help and exit" };

function optionLabel(name: string, o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
}

/** `usage: ferry logs DAG RUN TASK [--try N] [--follow|-f] ...`: the line a usage error starts with. */
export function usageLine(spec: CommandSpec): string {
  const opts = Object.entries(spec.options).map(([name, o]) => {
    const flag = `--${name}${o.short ? `|-${o.short}` : ""}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    return `[${flag}]${o.multiple ? "..." : ""}`;
  });
  return ["usage: ferry", spec.name, ...spec.args, ...(spec.optional ?? []).map((a) => `[${a}]`), ...opts].join(" ");
}

/** What `ferry <command> --help` prints. */
export function commandHelp(spec: CommandSpec, footer?: string): string {
  const options = [...Object.entries(spec.options), ["help", HELP_OPTION] as const];
  const labels = options.map(([name, o]) => optionLabel(name, o));
  const width = Math.max(...labels.map((l) => l.length)) + 2;
  const lines = [usageLine(spec), "", spec.summary + (spec.details ? "\n" + spec.details : ""), "", "options:"];
  options.forEach(([, o], i) => lines.push(`  ${labels[i]!.padEnd(width)}${o.help}`));
  if (footer) lines.push("", footer);
  return lines.join("\n");
}

/** True when the words (before any `--`) ask for help. */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/**
 * `--name value` becomes `--name=value` for a string option whenever the next word is not itself a
 * `--option`, so a value may start with a dash (`--tail -1` reaches the API, which says what is wrong
 * with it) as it always could; parseArgs would otherwise take `-1` for an option.
 */
function joinValues(argv: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (a.startsWith("--") && !a.includes("=") && options[a.slice(2)]?.type === "string" && next !== undefined && !next.startsWith("--")) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parses a command's words (after its name), or throws a UsageError that carries the command's help. */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const fail = (problem: string): never => {
    throw new UsageError(`${problem}\n\n${commandHelp(spec)}`);
  };
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed: { values: ParsedArgs["values"]; positionals: string[] };
  try {
    parsed = parseArgs({ args: joinValues(argv, spec.options), options, strict: true, allowPositionals: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const option = /'(?:-\w, )?(--?[\w-]+)/.exec(e.message)?.[1];
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return fail(`unknown option ${option ?? e.message} for \`ferry ${spec.name}\``);
    if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      return fail(/does not take an argument/.test(e.message) ? `${option} takes no value` : `${option} needs a value`);
    }
    throw err;
  }
  if (parsed.positionals.length < spec.args.length) fail(`\`ferry ${spec.name}\` needs ${spec.args.join(" ")}`);
  const most = spec.args.length + (spec.optional?.length ?? 0);
  if (parsed.positionals.length > most) fail(`unexpected argument ${JSON.stringify(parsed.positionals[most])}`);
  return { positional: parsed.positionals, values: parsed.values };
}

export function text(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
}
