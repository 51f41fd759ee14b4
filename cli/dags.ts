// `ferry dags show|pause|unpause|delete`: one DAG through the API (GET, PATCH, DELETE /api/v1/dags/{dagId}).
import { flag, type ParsedArgs } from "./args.ts";
import type { FerryClient } from "./client.ts";
import { table } from "./commands.ts";

type Out = (line: string) => void;
const enc = encodeURIComponent;

export async function dagsShow(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId] = args.positional;
  const d = await client.json("GET", `/api/v1/dags/${enc(dagId!)}`);
  if (flag(args, "json")) return out(JSON.stringify(d, null, 2));
  out(`${d.dagId} version ${d.version}${d.paused ? " (paused)" : ""}${d.description ? `: ${d.description}` : ""}`);
  const rows: [string, string][] = [
    ["schedule", d.schedule === null ? "manual" : `${d.schedule} (${d.timezone})`],
    ["next run", d.nextRunAt ?? "-"],
    ["start", d.start ?? "-"],
    ["end", d.end ?? "-"],
    ["catchup", String(d.catchup)],
    ["overlap", d.overlap],
    ["max active runs", String(d.maxActiveRuns)],
    ["params", JSON.stringify(d.params)],
  ];
  if (d.tags.length > 0) rows.push(["tags", d.tags.join(", ")]);
  if (d.skippedTicks > 0) rows.push(["skipped ticks", `${d.skippedTicks}${d.lastSkippedTick ? ` (last ${d.lastSkippedTick.tick}: ${d.lastSkippedTick.reason})` : ""}`]);
  for (const [k, v] of rows) out(`  ${(k + ":").padEnd(17)}${v}`);
  table([["TASK", "KIND", "DEPENDS ON"], ...d.tasks.map((t: any) => [t.taskId, t.kind, t.dependsOn.join(",") || "-"])], out);
}

export async function dagsSetPaused(client: FerryClient, args: ParsedArgs, out: Out, paused: boolean): Promise<void> {
  const [dagId] = args.positional;
  const d = await client.json("PATCH", `/api/v1/dags/${enc(dagId!)}`, { json: { paused } });
  if (flag(args, "json")) return out(JSON.stringify(d, null, 2));
  out(
    paused
      ? `paused ${d.dagId}: no scheduled runs, and queued runs wait until it is unpaused`
      : `unpaused ${d.dagId}${d.nextRunAt ? `; next run at ${d.nextRunAt}` : ""}`,
  );
}

export async function dagsDelete(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId] = args.positional;
  await client.request("DELETE", `/api/v1/dags/${enc(dagId!)}`);
  if (flag(args, "json")) return out(JSON.stringify({ dagId, deleted: true }, null, 2));
  out(`deleted ${dagId}: its schedule stopped; its runs and logs stay readable, and pushing it again revives it`);
}
