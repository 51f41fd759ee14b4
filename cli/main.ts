// `ferry <command>`: runs Ferry (start, localkube) or talks to a running one through its API.
import { parseArgs, one } from "./args.ts";
import { clientSettings, CliError, FerryClient } from "./client.ts";
import { dagsList, dagsPush, logs, runsCancel, runsList, runsShow, runsTrigger } from "./commands.ts";
import { runLocalKube, runStart } from "./serve.ts";

const USAGE = `usage: ferry <command>

  start                             run Ferry (API + scheduler + executor) on this machine
  localkube [--port N]              run the embedded Kubernetes-API runtime alone
  dags push FILE                    post a DAG file
  dags list                         list DAGs
  runs trigger DAG [--param k=v]... trigger a run (also --run-id ID, --logical-date ISO)
  runs list DAG                     list a DAG's runs, newest first
  runs show DAG RUN                 show a run and its tasks
  runs cancel DAG RUN               cancel a run
  logs DAG RUN TASK [--try N] [--follow|-f] [--tail N] [--no-events]
                                    print a task's log as it arrives (-f: until the task ends;
                                    --tail N: only its last N lines); once the try has ended, its
                                    events (why it ended) follow on stderr unless --no-events

Client commands read FERRY_URL (default http://127.0.0.1:8080) and FERRY_API_TOKEN.
Add --json to dags/runs commands for machine-readable output.`;

/** Short options, each the same as a long one. Words after `--` are left as they are. */
const ALIASES: Record<string, string> = { "-f": "--follow" };

function expandAliases(argv: string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((a, i) => ((end === -1 || i < end) && ALIASES[a] ? ALIASES[a] : a));
}

let lastOutByte: number | undefined;

/** Writes to stdout, resolving once it can take more (a slow pipe slows the log download, not memory). */
function writeOut(chunk: Uint8Array): Promise<void> {
  if (chunk.length > 0) lastOutByte = chunk[chunk.length - 1];
  if (process.stdout.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => process.stdout.once("drain", resolve));
}

let noted = false;

/**
 * A line on stderr after a log (the try's events). On a terminal, a log that did not end its last line
 * would run into the first note, so the note starts on a line of its own; stdout is left untouched.
 */
function logNote(line: string): void {
  if (!noted && process.stdout.isTTY && process.stderr.isTTY && lastOutByte !== undefined && lastOutByte !== 0x0a) process.stderr.write("\n");
  noted = true;
  process.stderr.write(line + "\n");
}

// A reader that stops early (`ferry logs ... | head -1`) closes the pipe; the next write then fails with
// EPIPE. That is the reader's choice, not a failure: exit at once and quietly instead of crashing.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  process.stderr.write(`ferry: cannot write the output: ${err.message}\n`);
  process.exit(1);
});

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(expandAliases(argv), ["follow", "json", "help", "no-events"]);
  const [cmd, sub] = args.positional;
  if (!cmd || one(args, "help") || cmd === "help") {
    process.stdout.write(USAGE + "\n");
    return cmd || one(args, "help") ? 0 : 2; // asked for help: success; no command at all: a usage error
  }
  const out = (line: string) => process.stdout.write(line + "\n");
  const client = () => new FerryClient(clientSettings());
  const rest = { ...args, positional: args.positional.slice(2) };

  switch (cmd) {
    case "start":
      return runStart();
    case "localkube":
      return runLocalKube(one(args, "port"));
    case "logs":
      await logs(client(), { ...args, positional: args.positional.slice(1) }, writeOut, logNote);
      return 0;
    case "dags":
      if (sub === "push") await dagsPush(client(), rest, out);
      else if (sub === "list") await dagsList(client(), rest, out);
      else throw new CliError(`unknown command: dags ${sub ?? ""}\n\n${USAGE}`);
      return 0;
    case "runs":
      if (sub === "trigger") await runsTrigger(client(), rest, out);
      else if (sub === "show") await runsShow(client(), rest, out);
      else if (sub === "list") await runsList(client(), rest, out);
      else if (sub === "cancel") await runsCancel(client(), rest, out);
      else throw new CliError(`unknown command: runs ${sub ?? ""}\n\n${USAGE}`);
      return 0;
    default:
      throw new CliError(`unknown command: ${cmd}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ferry: ${err instanceof CliError || err?.name === "ConfigError" ? err.message : err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
