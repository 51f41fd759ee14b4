// `ferry backfills show|cancel DAG ID`: a backfill's progress and its cancel (`ferry dags backfill` makes one).
import { flag, type ParsedArgs } from "./args.ts";
import type { FerryClient } from "./client.ts";
import { table } from "./commands.ts";

type Out = (line: string) => void;
const enc = encodeURIComponent;

function printProgress(p: any, out: Out): void {
  const c = p.counts;
  out(`backfill ${p.backfillId} of ${p.dagId}: ${p.state}, ${p.from} .. ${p.to} (reprocess ${p.reprocess}, ${p.maxActiveRuns} runs at once)`);
  out(`  ${c.total} runs: ${c.success} success, ${c.failed} failed, ${c.running} running, ${c.queued} queued, ${c.cancelled} cancelled`);
  if (p.runs.length > 0) table([["RUN", "LOGICAL DATE", "STATE"], ...p.runs.map((r: any) => [r.runId, r.logicalDate, r.state])], out);
}

export async function backfillsShow(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, id] = args.positional;
  const p = await client.json("GET", `/api/v1/dags/${enc(dagId!)}/backfills/${enc(id!)}`);
  if (flag(args, "json")) return out(JSON.stringify(p, null, 2));
  printProgress(p, out);
}

export async function backfillsCancel(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [dagId, id] = args.positional;
  const p = await client.json("POST", `/api/v1/dags/${enc(dagId!)}/backfills/${enc(id!)}/cancel`);
  if (flag(args, "json")) return out(JSON.stringify(p, null, 2));
  printProgress(p, out);
}
