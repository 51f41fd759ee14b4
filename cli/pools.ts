// `ferry pools list|set|delete`: the pools that bound how many of their tasks run at once.
import { flag, text, UsageError, type ParsedArgs } from "./args.ts";
import { CliError, type FerryClient } from "./client.ts";
import { table } from "./commands.ts";

type Out = (line: string) => void;
const enc = encodeURIComponent;

export async function poolsList(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const res = await client.json("GET", "/api/v1/pools?limit=1000");
  if (flag(args, "json")) return out(JSON.stringify(res.pools, null, 2));
  if (res.pools.length === 0) return out("no pools");
  table([["POOL", "SLOTS", "OCCUPIED", "WAITING", "DESCRIPTION"], ...res.pools.map((p: any) => [p.name, String(p.slots), String(p.occupied), String(p.waiting), p.description ?? ""])], out);
}

export async function poolsSet(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [name] = args.positional;
  const slots = text(args, "slots");
  if (slots === undefined) throw new UsageError("pools set needs --slots N\nusage: ferry pools set NAME --slots N [--description TEXT] [--json]");
  if (!/^\d+$/.test(slots)) throw new CliError(`--slots takes a whole number, got ${JSON.stringify(slots)}`);
  const body: Record<string, unknown> = { slots: Number(slots) };
  const description = text(args, "description");
  if (description !== undefined) body.description = description;
  const res = await client.json("PUT", `/api/v1/pools/${enc(name!)}`, { json: body });
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`pool ${res.name}: ${res.slots} slots (${res.occupied} occupied, ${res.waiting} waiting)`);
}

export async function poolsDelete(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [name] = args.positional;
  await client.request("DELETE", `/api/v1/pools/${enc(name!)}`);
  if (flag(args, "json")) return out(JSON.stringify({ name, deleted: true }, null, 2));
  out(`deleted pool ${name}; its tasks wait until a pool of that name exists again`);
}

export async function poolsShow(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [name] = args.positional;
  const p = await client.json("GET", `/api/v1/pools/${enc(name!)}`);
  if (flag(args, "json")) return out(JSON.stringify(p, null, 2));
  out(`pool ${p.name}: ${p.slots} slots (${p.occupied} occupied, ${p.waiting} waiting)${p.description ? `: ${p.description}` : ""}`);
}
