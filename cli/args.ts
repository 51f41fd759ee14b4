// A tiny argument parser: positional words, `--flag`, `--key value` / `--key=value`, repeatable keys.
import { CliError } from "./client.ts";

export interface ParsedArgs {
  positional: string[];
  options: Map<string, string[]>;
}

export function parseArgs(argv: string[], booleanFlags: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  const add = (k: string, v: string) => options.set(k, [...(options.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) add(a.slice(2, eq), a.slice(eq + 1));
      else if (booleanFlags.includes(a.slice(2))) add(a.slice(2), "true");
      else {
        const v = argv[i + 1];
        if (v === undefined || v.startsWith("--")) throw new CliError(`${a} needs a value`); // a usage mistake: a message, not a stack trace
        add(a.slice(2), v);
        i++;
      }
    } else positional.push(a);
  }
  return { positional, options };
}

export function one(args: ParsedArgs, key: string): string | undefined {
  const v = args.options.get(key);
  return v ? v[v.length - 1] : undefined;
}
