// `ferry <command>`: runs Ferry (start, localkube) or talks to a running one through its API. The
// commands are declared once below (arguments, options, help); cli/args.ts parses them with node:util.
import { asksForHelp, commandHelp, parseCommandArgs, text, usageLine, UsageError, type CommandSpec, type OptionSpec, type ParsedArgs } from "./args.ts";
import { clientSettings, CliError, FerryClient } from "./client.ts";
import { backfillsCancel, backfillsShow } from "./backfills.ts";
import { dagsCheck } from "./check.ts";
import { dagsBackfill, dagsList, dagsPush, logs, runsCancel, runsList, runsShow, runsTrigger } from "./commands.ts";
import { dagsTest } from "./dag-test.ts";
import { doctor } from "./doctor.ts";
import { dagsDelete, dagsSetPaused, dagsShow } from "./dags.ts";
import { init } from "./init.ts";
import { poolsDelete, poolsList, poolsSet, poolsShow } from "./pools.ts";
import { runsClear, tasksShow } from "./runs.ts";
import { runLocalKube, runStart } from "./serve.ts";
import { tokensCreate, tokensList, tokensRevoke } from "./tokens.ts";

const JSON_OPTION: OptionSpec = { type: "boolean", help: "print the API's answer as JSON" };
const CLIENT_NOTE = "Reads FERRY_URL (default http://127.0.0.1:8080) and FERRY_API_TOKEN (else $FERRY_DATA_DIR/api-token).";

interface Command extends CommandSpec {
  /** Talks to a running Ferry (so its help says where it finds one). */
  client?: boolean;
  run(args: ParsedArgs): Promise<number>;
}

const out = (line: string) => process.stdout.write(line + "\n");
const err = (line: string) => process.stderr.write(line + "\n");
const PARAM_OPTION: OptionSpec = { type: "string", multiple: true, value: "k=v", help: "a run parameter (repeat for more; a JSON value is parsed)" };
const client = () => new FerryClient(clientSettings());

const COMMANDS: Command[] = [
  {
    name: "start",
    args: [],
    options: {},
    summary: "run Ferry (API + scheduler + executor) on this machine",
    details: "Configured by the environment; see the README's configuration table.",
    run: () => runStart(),
  },
  {
    name: "doctor",
    args: [],
    options: {
      timeout: { type: "string", value: "SECONDS", help: "how long each check may wait for an answer (default 10)" },
      json: { type: "boolean", help: "print the checks as JSON: { ok, version, checks: [{ id, title, status, detail, hint }] }" },
    },
    summary: "check the setup `ferry start` would use (config, Postgres, Kubernetes, RBAC, log store)",
    details:
      "Reads the same environment as `ferry start` and checks, one line each: the configuration and pod template;\n" +
      "Postgres and its schema version (nothing is migrated); the Kubernetes API, the task and allowed namespaces\n" +
      "and, in each, the RBAC Ferry needs (asked with SelfSubjectAccessReview, as the identity Ferry would use);\n" +
      "the log store (a probe object is written, read back and deleted); the worker image. A check that depends on\n" +
      "a failed one is skipped. Exits 0 when nothing failed, 1 otherwise.",
    run: (a) => doctor(a, out),
  },
  {
    name: "localkube",
    args: [],
    options: { port: { type: "string", value: "N", help: "the port to serve on (default: any free port)" } },
    summary: "run the embedded Kubernetes-API runtime alone",
    run: (a) => runLocalKube(text(a, "port")),
  },
  {
    name: "init",
    args: ["DIR"],
    options: { json: { type: "boolean", help: "print the files written and kept as JSON" } },
    summary: "make a folder to write DAGs in, with types for editors (no install needed)",
    details:
      "Writes tsconfig.json, the SDK's type declarations (types/ferry/), an example DAG (dags/hello.ts) and a\n" +
      "README. Files that exist are kept, except types/ferry/: run it again to refresh the types.",
    run: (a) => init(a, out),
  },
  {
    name: "dags check",
    args: ["FILE"],
    options: { json: { type: "boolean", help: "print the result as JSON (problems with line, column, message, code)" } },
    summary: "type-check and validate a DAG file here, as the server would",
    details:
      "Type-checks the file against the SDK's declarations (TypeScript), then compiles, evaluates and validates\n" +
      "it as POST /api/v1/dags does. Problems print as FILE:LINE:COL: message; exits 1 on any.",
    run: (a) => dagsCheck(a, out, err),
  },
  {
    name: "dags push",
    args: ["FILE"],
    options: { "no-check": { type: "boolean", help: "post the file without checking it here first" }, json: JSON_OPTION },
    summary: "check a DAG file, then post it",
    details: "Runs `ferry dags check` first and posts nothing when it finds a problem.",
    client: true,
    run: async (a) => (await dagsPush(client(), a, out, err), 0),
  },
  {
    name: "dags test",
    args: ["FILE"],
    options: {
      param: PARAM_OPTION,
      "logical-date": { type: "string", value: "ISO", help: "the run's logical date (default: now)" },
      "no-check": { type: "boolean", help: "skip the type check (the file is still compiled and validated)" },
      verbose: { type: "boolean", help: "also print Ferry's own log on stderr" },
    },
    summary: "run a DAG file once on this machine, no server needed",
    details:
      "Starts a throwaway Ferry (embedded Postgres, localkube) in a temporary folder, runs the DAG once as a\n" +
      "manual run and streams each task's log as `[taskId] line`, then each task's final state and the run's.\n" +
      "Exits 0 when the run succeeded, 1 when it failed; the folder and its processes are removed at the end.",
    run: (a) => dagsTest(a, out, err),
  },
  { name: "dags list", args: [], options: { json: JSON_OPTION }, summary: "list DAGs", client: true, run: async (a) => (await dagsList(client(), a, out), 0) },
  { name: "dags show", args: ["DAG"], options: { json: JSON_OPTION }, summary: "show a DAG: its schedule, options and tasks", client: true, run: async (a) => (await dagsShow(client(), a, out), 0) },
  {
    name: "dags pause",
    args: ["DAG"],
    options: { json: JSON_OPTION },
    summary: "pause a DAG (no scheduled runs; queued runs wait)",
    client: true,
    run: async (a) => (await dagsSetPaused(client(), a, out, true), 0),
  },
  { name: "dags unpause", args: ["DAG"], options: { json: JSON_OPTION }, summary: "unpause a DAG", client: true, run: async (a) => (await dagsSetPaused(client(), a, out, false), 0) },
  {
    name: "dags delete",
    args: ["DAG"],
    options: { json: JSON_OPTION },
    summary: "delete a DAG (admin only; its runs and logs stay readable)",
    details: "Refused (dag_has_active_runs) while it has queued or running runs: cancel them first.",
    client: true,
    run: async (a) => (await dagsDelete(client(), a, out), 0),
  },
  {
    name: "dags backfill",
    args: ["DAG"],
    options: {
      from: { type: "string", value: "ISO", help: "the first instant of the range (required; without an offset, in the DAG's timezone)" },
      to: { type: "string", value: "ISO", help: "the last instant of the range, included (required)" },
      "max-active-runs": { type: "string", value: "N", help: "the backfill's runs at once (default: the DAG's maxActiveRuns)" },
      reprocess: { type: "string", value: "none|failed|all", help: "what to do with a tick that has a run already (default none)" },
      json: JSON_OPTION,
    },
    summary: "run every schedule tick in a range (see `ferry backfills`)",
    details: "Runs oldest first. A tick that has a run is left alone (none), has its failed tasks cleared\n(failed), or is cleared whole (all).",
    client: true,
    run: async (a) => (await dagsBackfill(client(), a, out), 0),
  },
  {
    name: "runs trigger",
    args: ["DAG"],
    options: {
      param: PARAM_OPTION,
      "run-id": { type: "string", value: "ID", help: "the run's id (default: one is made)" },
      "logical-date": { type: "string", value: "ISO", help: "the run's logical date (default: now)" },
      json: JSON_OPTION,
    },
    summary: "trigger a run",
    client: true,
    run: async (a) => (await runsTrigger(client(), a, out), 0),
  },
  {
    name: "runs list",
    args: ["DAG"],
    options: { limit: { type: "string", value: "N", help: "at most this many runs (default 25, at most 100)" }, json: JSON_OPTION },
    summary: "list a DAG's runs, newest first",
    client: true,
    run: async (a) => (await runsList(client(), a, out), 0),
  },
  { name: "runs show", args: ["DAG", "RUN"], options: { json: JSON_OPTION }, summary: "show a run and its tasks", client: true, run: async (a) => (await runsShow(client(), a, out), 0) },
  { name: "runs cancel", args: ["DAG", "RUN"], options: { json: JSON_OPTION }, summary: "cancel a run", client: true, run: async (a) => (await runsCancel(client(), a, out), 0) },
  {
    name: "runs clear",
    args: ["DAG", "RUN"],
    optional: ["TASK"],
    options: { all: { type: "boolean", help: "without TASK: clear every task of the run, not only the failed ones" }, json: JSON_OPTION },
    summary: "run a task again with what depends on it; without TASK, the run's failed tasks (--all: every task)",
    details:
      "Each cleared task runs again as a new try, and a finished run goes back to queued.\n" +
      "Without TASK the whole run is cleared at once, in one request: its failed, upstream_failed and cancelled\n" +
      "tasks and everything downstream of them (--all: every task). Refused, clearing nothing, while one of them\n" +
      "is queued or running (task_active), or when no task failed (nothing_to_clear).",
    client: true,
    run: async (a) => (await runsClear(client(), a, out), 0),
  },
  {
    name: "tasks show",
    args: ["DAG", "RUN", "TASK"],
    options: { json: JSON_OPTION },
    summary: "show a task of a run and its tries",
    client: true,
    run: async (a) => (await tasksShow(client(), a, out), 0),
  },
  {
    name: "backfills show",
    args: ["DAG", "ID"],
    options: { json: JSON_OPTION },
    summary: "show a backfill's progress and runs",
    client: true,
    run: async (a) => (await backfillsShow(client(), a, out), 0),
  },
  {
    name: "backfills cancel",
    args: ["DAG", "ID"],
    options: { json: JSON_OPTION },
    summary: "cancel a backfill (its queued runs are cancelled)",
    client: true,
    run: async (a) => (await backfillsCancel(client(), a, out), 0),
  },
  { name: "pools list", args: [], options: { json: JSON_OPTION }, summary: "list pools and their slots", client: true, run: async (a) => (await poolsList(client(), a, out), 0) },
  {
    name: "pools set",
    args: ["NAME"],
    options: {
      slots: { type: "string", value: "N", help: "how many of the pool's tasks may be queued or running at once (required)" },
      description: { type: "string", value: "TEXT", help: "what the pool is for" },
      json: JSON_OPTION,
    },
    summary: "make a pool or change its slots",
    details: "A task takes a slot of its pool (task option `pool`, default \"default\") while it is queued or running.",
    client: true,
    run: async (a) => (await poolsSet(client(), a, out), 0),
  },
  { name: "pools show", args: ["NAME"], options: { json: JSON_OPTION }, summary: "show a pool", client: true, run: async (a) => (await poolsShow(client(), a, out), 0) },
  { name: "pools delete", args: ["NAME"], options: { json: JSON_OPTION }, summary: "delete a pool (its tasks wait until it exists again)", client: true, run: async (a) => (await poolsDelete(client(), a, out), 0) },
  {
    name: "tokens create",
    args: ["NAME"],
    options: {
      role: { type: "string", value: "ROLE", help: "viewer (read), author (also push, trigger, clear, cancel, backfill, pause) or admin (required)" },
      expires: { type: "string", value: "ISO", help: "when the token stops working (default: never)" },
      json: JSON_OPTION,
    },
    summary: "make an API token with a role (admin only)",
    details: "Prints the token once: Ferry keeps only its hash.",
    client: true,
    run: async (a) => (await tokensCreate(client(), a, out, (line) => process.stderr.write(line + "\n")), 0),
  },
  { name: "tokens list", args: [], options: { json: JSON_OPTION }, summary: "list API tokens, without their secrets (admin only)", client: true, run: async (a) => (await tokensList(client(), a, out), 0) },
  { name: "tokens revoke", args: ["ID"], options: { json: JSON_OPTION }, summary: "revoke an API token (admin only)", client: true, run: async (a) => (await tokensRevoke(client(), a, out), 0) },
  {
    name: "logs",
    args: ["DAG", "RUN", "TASK"],
    options: {
      try: { type: "string", value: "N", help: "the try to print (default: the latest)" },
      follow: { type: "boolean", short: "f", help: "keep printing until the try ends" },
      tail: { type: "string", value: "N", help: "only the last N lines" },
      "no-events": { type: "boolean", help: "leave out the try's events" },
    },
    summary: "print a task's log as it arrives",
    details:
      "The log's bytes go to stdout exactly as the container printed them. Once the try has ended, its\n" +
      "events (why it ended) follow on stderr, one per line, unless --no-events.",
    client: true,
    run: async (a) => (await logs(client(), a, writeOut, logNote), 0),
  },
];

/** The command words come first; options may stand anywhere, also before them (`ferry --json dags list`). */
const VALUE_OPTIONS = new Set(COMMANDS.flatMap((c) => Object.entries(c.options).filter(([, o]) => o.type === "string").map(([n]) => `--${n}`)));

/** The words that name the command (at most `group sub`) and every other word, in order. */
function splitCommand(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (a.startsWith("-")) {
      rest.push(a);
      if (VALUE_OPTIONS.has(a) && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) rest.push(argv[++i]!);
      continue;
    }
    const isGroup = words.length === 1 && COMMANDS.some((c) => c.name.startsWith(words[0] + " "));
    if (words.length === 0 || isGroup) words.push(a);
    else rest.push(a);
  }
  return { words, rest };
}

function overview(): string {
  const width = 34;
  const lines = ["usage: ferry <command> [options]", "", "commands:"];
  for (const c of COMMANDS) {
    const head = usageLine(c).replace(/^usage: ferry /, "  ");
    lines.push(head.length < width ? head.padEnd(width) + c.summary : `${head}\n${" ".repeat(width)}${c.summary}`);
  }
  lines.push(
    "",
    "`ferry <command> --help` shows a command's options (e.g. `ferry logs --help`).",
    "Client commands read FERRY_URL (default http://127.0.0.1:8080) and FERRY_API_TOKEN.",
    "Add --json to a client command for machine-readable output.",
  );
  return lines.join("\n");
}

const helpOf = (c: Command) => commandHelp(c, c.client ? CLIENT_NOTE : undefined);

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
  const { words, rest } = splitCommand(argv);
  const help = asksForHelp(argv);
  if (words[0] === "help") {
    // `ferry help` and `ferry help <command>`, as `ferry [<command>] --help`.
    const named = COMMANDS.find((c) => c.name === words.slice(1).concat(rest).join(" "));
    out(named ? helpOf(named) : overview());
    return 0;
  }
  if (words.length === 0) {
    if (help) return (out(overview()), 0);
    if (rest.length > 0) throw new UsageError(`unknown option ${rest[0]}\n\n${overview()}`);
    throw new UsageError(`a command is needed\n\n${overview()}`);
  }
  const name = words.join(" ");
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const group = COMMANDS.filter((c) => c.name.startsWith(words[0] + " "));
    if (group.length > 0 && words.length === 1) {
      const list = group.map((c) => c.name).join(", ");
      if (help) return (out(group.map(helpOf).join("\n\n")), 0);
      throw new UsageError(`\`ferry ${words[0]}\` needs a command: ${list}\n\n${overview()}`);
    }
    throw new UsageError(`unknown command: ${name}\n\n${overview()}`);
  }
  if (help) return (out(helpOf(command)), 0);
  return command.run(parseCommandArgs(command, rest));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`ferry: ${err instanceof CliError || err?.name === "ConfigError" ? err.message : err?.stack ?? err}\n`);
    process.exitCode = err instanceof UsageError ? err.exitCode : 1;
  },
);
