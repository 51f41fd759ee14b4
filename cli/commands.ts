// The client commands of the `ferry` CLI: each talks to a running Ferry through its REST API. Their
// arguments arrive parsed and checked against the command's declaration (cli/main.ts, cli/args.ts).
import { flag, list, text, UsageError, type ParsedArgs } from "./args.ts";
import { checkDagFile, readDagFile, reportCheck } from "./check.ts";
import { CliError, type FerryClient } from "./client.ts";

const enc = encodeURIComponent;
type Out = (line: string) => void;

export function table(rows: string[][], out: Out): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) out(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

/**
 * Checks the file here first (the type check and the server's own compile and validation, cli/check.ts),
 * so a mistake is reported as `FILE:LINE:COL: ...` without a round trip; `--no-check` posts it as it is.
 */
export async function dagsPush(client: FerryClient, args: ParsedArgs, out: Out, err: Out): Promise<void> {
  const [file] = args.positional;
  let source: string;
  if (flag(args, "no-check")) {
    source = await readDagFile(file!);
  } else {
    const checked = await checkDagFile(file!);
    if (!reportCheck(checked, err)) {
      const n = checked.problems.length;
      throw new CliError(`${file}: ${n === 1 ? "1 problem" : `${n} problems`}; nothing was pushed (--no-check pushes without checking here)`);
    }
    source = checked.source;
  }
  const res = await client.json("POST", "/api/v1/dags", { text: source, contentType: "application/typescript" });
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`${res.created ? "pushed" : "unchanged"} ${res.dagId} version ${res.version} (${res.tasks.length} tasks)`);
  table([["TASK", "KIND", "DEPENDS ON"], ...res.tasks.map((t: any) => [t.taskId, t.kind, t.dependsOn.join(",") || "-"])], out);
}

export async function dagsList(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const res = await client.json("GET", "/api/v1/dags?limit=1000");
  if (flag(args, "json")) return out(JSON.stringify(res.dags, null, 2));
  if (res.dags.length === 0) return out("no DAGs yet: push one with `ferry dags push FILE`");
  table(
    [["DAG", "VERSION", "SCHEDULE", "PAUSED", "NEXT RUN"], ...res.dags.map((d: any) => [d.dagId, String(d.version), d.schedule ?? "manual", String(d.paused), d.nextRunAt ?? "-"])],
    out,
  );
}

export async function dagsBackfill(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId] = args.positional;
  const from = text(args, "from");
  const to = text(args, "to");
  if (from === undefined || to === undefined) {
    throw new UsageError("dags backfill needs the range: --from ISO --to ISO\nusage: ferry dags backfill DAG --from ISO --to ISO [--max-active-runs N] [--reprocess none|failed|all] [--json]");
  }
  const body: Record<string, unknown> = { from, to };
  const maxActiveRuns = text(args, "max-active-runs");
  if (maxActiveRuns !== undefined) {
    if (!/^\d+$/.test(maxActiveRuns)) throw new CliError(`--max-active-runs takes a whole number, got ${JSON.stringify(maxActiveRuns)}`);
    body.maxActiveRuns = Number(maxActiveRuns);
  }
  if (text(args, "reprocess") !== undefined) body.reprocess = text(args, "reprocess");
  const res = await client.json("POST", `/api/v1/dags/${enc(dagId!)}/backfills`, { json: body });
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  const reprocessed = res.runs.filter((r: any) => r.action === "reprocessed").length;
  out(
    `backfill ${res.backfillId} of ${res.dagId}: ${res.runs.length} runs (${res.runs.length - reprocessed} created, ${reprocessed} reprocessed), ` +
      `${res.leftAlone.length} ticks left alone; follow it with GET /api/v1/dags/${res.dagId}/backfills/${res.backfillId}`,
  );
  if (res.runs.length > 0) table([["RUN", "LOGICAL DATE", "ACTION"], ...res.runs.map((r: any) => [r.runId, r.logicalDate, r.action])], out);
}

export function parseParam(kv: string): [string, unknown] {
  const eq = kv.indexOf("=");
  if (eq <= 0) throw new CliError(`--param takes key=value, got ${JSON.stringify(kv)}`);
  const raw = kv.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw); // numbers, booleans, JSON objects; anything else stays a string
  } catch {}
  return [kv.slice(0, eq), value];
}

export async function runsTrigger(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId] = args.positional;
  const body: Record<string, unknown> = {};
  const params = list(args, "param");
  if (params.length > 0) body.params = Object.fromEntries(params.map(parseParam));
  if (text(args, "run-id")) body.runId = text(args, "run-id");
  if (text(args, "logical-date")) body.logicalDate = text(args, "logical-date");
  const res = await client.json("POST", `/api/v1/dags/${enc(dagId!)}/runs`, { json: body });
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`triggered ${res.dagId} run ${res.runId} (${res.state})`);
}

export async function runsShow(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, runId] = args.positional;
  const res = await client.json("GET", `/api/v1/dags/${enc(dagId!)}/runs/${enc(runId!)}`);
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`${res.dagId} ${res.runId}: ${res.state} (logical date ${res.logicalDate})`);
  table(
    [
      ["TASK", "STATE", "TRY", "EXIT", "POD", "RESULT"],
      ...res.tasks.map((t: any) => [
        t.taskId,
        t.state,
        String(t.tryNumber),
        t.exitCode === null ? "-" : String(t.exitCode),
        t.podName ?? "-",
        t.result === null ? (t.reason && t.state !== "success" ? `${t.reason}` : "-") : JSON.stringify(t.result),
      ]),
    ],
    out,
  );
}

export async function runsList(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId] = args.positional;
  const res = await client.json("GET", `/api/v1/dags/${enc(dagId!)}/runs?limit=${enc(text(args, "limit") ?? "25")}`);
  if (flag(args, "json")) return out(JSON.stringify(res.runs, null, 2));
  table([["RUN", "STATE", "LOGICAL DATE"], ...res.runs.map((r: any) => [r.runId, r.state, r.logicalDate])], out);
}

export async function runsCancel(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, runId] = args.positional;
  const res = await client.json("POST", `/api/v1/dags/${enc(dagId!)}/runs/${enc(runId!)}/cancel`);
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`${res.runId}: ${res.state}`);
}

/**
 * Streams a task's log to `write` as it arrives, never the whole log at once. `write` resolves when the
 * output can take more, so a slow reader of stdout slows the download instead of filling memory.
 */
export async function logs(client: FerryClient, args: ParsedArgs, write: (chunk: Uint8Array) => Promise<void>, err: Out): Promise<void> {
  const [dagId, runId, taskId] = args.positional;
  const q = new URLSearchParams();
  const tryNumber = text(args, "try");
  const tail = text(args, "tail");
  if (tryNumber) q.set("try", tryNumber);
  if (tail !== undefined) q.set("tail", tail);
  if (flag(args, "follow")) q.set("follow", "true");
  const taskPath = `/api/v1/dags/${enc(dagId!)}/runs/${enc(runId!)}/tasks/${enc(taskId!)}`;
  const res = await client.request("GET", `${taskPath}/logs?${q}`);
  if (res.body) {
    try {
      for await (const chunk of res.body) await write(chunk as Uint8Array);
    } catch (e) {
      if (e instanceof CliError) throw e;
      // The server cuts the body when it cannot go on (its log store or the Pod failed): what was printed
      // is only part of the log, and the exit status must say so.
      const cause = (e as Error & { cause?: Error }).cause;
      throw new CliError(`the log stream broke before the end of the log (${cause?.message ?? (e as Error).message})`);
    }
  }
  // The events of the very try whose log this was (a retry may have started meanwhile).
  const servedTry = res.headers.get("x-ferry-try");
  if (!flag(args, "no-events") && servedTry) await printTryEvents(client, `${taskPath}/events?try=${enc(servedTry)}`, err);
}

/**
 * Prints why a try ended, on stderr after its log: the log stays exactly the container's bytes on
 * stdout, and a container that printed nothing still gets its story told. Only for a try that has
 * ended (a running one's story is not over). The log was printed already, so failing to read the
 * events is a warning, not a failed command.
 */
async function printTryEvents(client: FerryClient, route: string, err: Out): Promise<void> {
  let res: { endedAt: string | null; events: TryEventJson[] };
  try {
    res = await client.json("GET", route);
  } catch (e) {
    err(`ferry: could not read the try's events: ${(e as Error).message}`);
    return;
  }
  if (res.endedAt === null) return;
  for (const e of res.events) err(formatTryEvent(e));
}

export interface TryEventJson {
  at: string;
  type: string;
  reason: string;
  message: string;
  count: number;
}

/** `<at> <type> <reason>: <message> (xN)`, on one line whatever the message holds. */
export function formatTryEvent(e: TryEventJson): string {
  const message = e.message.replace(/\s*[\r\n]+\s*/g, " ").trim();
  return `${e.at} ${e.type} ${e.reason}: ${message}${e.count > 1 ? ` (x${e.count})` : ""}`;
}
