// A small client for Ferry's REST API, used by the CLI. Reads FERRY_URL and FERRY_API_TOKEN (or the
// token that `ferry start` saved in $FERRY_DATA_DIR/api-token).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export class CliError extends Error {
  override name = "CliError";
}

export interface ClientSettings {
  url: string;
  token: string | null;
}

export function clientSettings(env: NodeJS.ProcessEnv = process.env): ClientSettings {
  const url = (env.FERRY_URL || `http://127.0.0.1:${env.FERRY_PORT || 8080}`).replace(/\/+$/, "");
  let token = env.FERRY_API_TOKEN || null;
  if (!token) {
    const file = path.resolve(env.FERRY_DATA_DIR || ".ferry", "api-token");
    if (existsSync(file)) token = readFileSync(file, "utf8").trim();
  }
  return { url, token };
}

export interface RequestBody {
  json?: unknown;
  text?: string;
  contentType?: string;
}

export class FerryClient {
  constructor(private readonly s: ClientSettings) {}

  async request(method: string, route: string, body?: RequestBody, opts: { signal?: AbortSignal } = {}): Promise<Response> {
    if (!this.s.token) throw new CliError("No API token: set FERRY_API_TOKEN (the token `ferry start` printed), or run from the folder where Ferry keeps .ferry/api-token.");
    const headers: Record<string, string> = { authorization: `Bearer ${this.s.token}` };
    let payload: string | undefined;
    if (body?.json !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body?.text !== undefined) {
      headers["content-type"] = body.contentType ?? "text/plain";
      payload = body.text;
    }
    let res: Response;
    try {
      res = await fetch(this.s.url + route, { method, headers, body: payload, signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new CliError(`Cannot reach Ferry at ${this.s.url} (${(err as Error).message}). Is it running? Set FERRY_URL to its address.`);
    }
    if (!res.ok) {
      const text = await res.text();
      let message = `HTTP ${res.status}`;
      try {
        const e = JSON.parse(text).error;
        message = `${e.message} (${e.code})`;
        if (e.details?.line) message += `\n  at line ${e.details.line}${e.details.column ? `, column ${e.details.column}` : ""}`;
        for (const p of e.details?.problems ?? []) message += `\n  ${p.path}: ${p.message}`;
      } catch {
        if (text) message += `: ${text}`;
      }
      throw new CliError(message);
    }
    return res;
  }

  async json<T = any>(method: string, route: string, body?: RequestBody, opts: { signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.request(method, route, body, opts);
    return (await res.json()) as T;
  }
}
