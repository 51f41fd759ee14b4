// `ferry tokens create|list|revoke`: API tokens with a role (README.md, "Tokens and roles"). Admin only.
import { flag, text, UsageError, type ParsedArgs } from "./args.ts";
import type { FerryClient } from "./client.ts";
import { table } from "./commands.ts";

type Out = (line: string) => void;
const enc = encodeURIComponent;

export async function tokensCreate(client: FerryClient, args: ParsedArgs, out: Out, note: Out): Promise<void> {
  const [name] = args.positional;
  const role = text(args, "role");
  if (role === undefined) throw new UsageError("tokens create needs --role viewer|author|admin\nusage: ferry tokens create NAME --role ROLE [--expires ISO] [--json]");
  const body: Record<string, unknown> = { name, role };
  const expires = text(args, "expires");
  if (expires !== undefined) body.expiresAt = expires;
  const res = await client.json("POST", "/api/v1/tokens", { json: body });
  if (flag(args, "json")) return out(JSON.stringify(res, null, 2));
  out(`created token ${res.id} ${JSON.stringify(res.name)}: role ${res.role}, ${res.expiresAt ? `expires ${res.expiresAt}` : "never expires"}`);
  out(res.token);
  note("ferry: the token is shown only this once (Ferry keeps only its hash); revoke it with `ferry tokens revoke " + res.id + "`");
}

export async function tokensList(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const tokens: any[] = [];
  let cursor: string | null = null;
  do {
    const res: any = await client.json("GET", `/api/v1/tokens?limit=1000${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    tokens.push(...res.tokens);
    cursor = res.nextCursor;
  } while (cursor);
  if (flag(args, "json")) return out(JSON.stringify(tokens, null, 2));
  if (tokens.length === 0) return out("no tokens: make one with `ferry tokens create NAME --role ROLE`");
  table(
    [
      ["ID", "ROLE", "CREATED", "EXPIRES", "LAST USED", "NAME"],
      ...tokens.map((t) => [String(t.id), t.role, t.createdAt, t.expiresAt ?? "never", t.lastUsedAt ?? "-", t.name]),
    ],
    out,
  );
}

export async function tokensRevoke(client: FerryClient, args: ParsedArgs, out: Out): Promise<void> {
  const [id] = args.positional;
  await client.request("DELETE", `/api/v1/tokens/${enc(id!)}`);
  if (flag(args, "json")) return out(JSON.stringify({ id: Number(id), revoked: true }, null, 2));
  out(`revoked token ${id}`);
}
