// GET for the one request a worker makes (its DAG bundle), as cheaply as a Pod can start it. The global
// fetch would do, but loading it costs a worker Pod about 20 ms of CPU, and node:http's client (Agent,
// ClientRequest, IncomingMessage) another ~7 ms, once per task try. Over plain http (the API inside the
// cluster) this speaks HTTP/1.1 on a node:net socket: one request with `Connection: close`, a response
// framed by Content-Length, chunked transfer coding or the end of the connection. https goes through
// node:https, loaded only then (TLS costs far more than the client).

export interface GetResponse {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

/** The shape of fetch that fetching a bundle needs; the global fetch fits it too. */
export type BundleFetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<GetResponse>;

export const httpGet: BundleFetch = async (url, init) => {
  const target = new URL(url);
  if (target.protocol === "https:") return httpsGet(url, init);
  if (target.protocol !== "http:") throw new Error(`cannot GET ${url}: only http and https URLs are supported`);
  return plainGet(target, init);
};

function response(status: number, body: Buffer): GetResponse {
  const text = body.toString("utf8");
  return { ok: status >= 200 && status < 300, status, text: async () => text };
}

async function httpsGet(url: string, init: Parameters<BundleFetch>[1]): Promise<GetResponse> {
  const https = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = https.get(url, { headers: init.headers, signal: init.signal }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("error", reject);
      res.on("end", () => resolve(response(res.statusCode ?? 0, Buffer.concat(parts))));
    });
    req.on("error", reject);
  });
}

function requestHead(target: URL, headers: Record<string, string>): string {
  const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`, `Host: ${target.host}`];
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`the ${name} header holds a line break`);
    lines.push(`${name}: ${value}`);
  }
  lines.push("Connection: close", "", "");
  return lines.join("\r\n");
}

interface Head {
  status: number;
  /** Where the body starts in the received bytes. */
  bodyAt: number;
  contentLength?: number;
  chunked: boolean;
}

class ProtocolError extends Error {}

/** The response's status line and headers, once they have all arrived (a 1xx interim response is skipped). */
function parseHead(data: Buffer): Head | undefined {
  let at = 0;
  for (;;) {
    const end = data.indexOf("\r\n\r\n", at, "latin1");
    if (end < 0) return undefined;
    const lines = data.toString("latin1", at, end).split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? "");
    if (!status) throw new ProtocolError(`the server did not answer HTTP/1.x: ${JSON.stringify(lines[0]?.slice(0, 100))}`);
    const code = Number(status[1]);
    at = end + 4;
    if (code >= 100 && code < 200) continue;
    const head: Head = { status: code, bodyAt: at, chunked: false };
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "transfer-encoding") head.chunked = value.toLowerCase().split(",").map((v) => v.trim()).includes("chunked");
      else if (name === "content-length") {
        if (!/^\d+$/.test(value) || (head.contentLength !== undefined && head.contentLength !== Number(value))) {
          throw new ProtocolError(`invalid Content-Length: ${JSON.stringify(value)}`);
        }
        head.contentLength = Number(value);
      }
    }
    return head;
  }
}

/** The decoded body of a chunked response, or undefined while its last chunk has not arrived. */
function dechunk(data: Buffer, at: number): Buffer | undefined {
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at, "latin1");
    if (lineEnd < 0) return undefined;
    const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(data.toString("latin1", at, lineEnd));
    if (!size) throw new ProtocolError("invalid chunk size in a chunked response");
    const length = parseInt(size[1]!, 16);
    at = lineEnd + 2;
    if (length === 0) {
      // Trailer fields, if any, end with an empty line.
      return data.indexOf("\r\n\r\n", lineEnd, "latin1") >= 0 || data.subarray(at, at + 2).toString("latin1") === "\r\n" ? Buffer.concat(parts) : undefined;
    }
    if (data.length < at + length + 2) return undefined;
    parts.push(data.subarray(at, at + length));
    at += length + 2;
  }
}

/** The whole body once it has arrived; at the end of the connection (eof), whatever came or an error. */
function bodyOf(data: Buffer, head: Head, eof: boolean): Buffer | undefined {
  if (head.status === 204 || head.status === 304) return Buffer.alloc(0);
  if (head.chunked) {
    const body = dechunk(data, head.bodyAt);
    if (body === undefined && eof) throw new ProtocolError("the connection closed inside a chunked response");
    return body;
  }
  if (head.contentLength !== undefined) {
    if (data.length - head.bodyAt >= head.contentLength) return data.subarray(head.bodyAt, head.bodyAt + head.contentLength);
    if (eof) throw new ProtocolError(`the connection closed after ${data.length - head.bodyAt} of ${head.contentLength} bytes of the body`);
    return undefined;
  }
  return eof ? data.subarray(head.bodyAt) : undefined;
}

async function plainGet(target: URL, init: Parameters<BundleFetch>[1]): Promise<GetResponse> {
  // Loaded here, not at the top: a worker handed its bundle inline never opens a socket.
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const { signal } = init;
    if (signal.aborted) return reject(signal.reason as Error);
    let request: string;
    try {
      request = requestHead(target, init.headers);
    } catch (error) {
      return reject(error as Error);
    }
    // The chunks as they came, joined only when they must be read: the headers (small), the whole body.
    const parts: Buffer[] = [];
    let received = 0;
    const joined = () => {
      if (parts.length > 1) parts.splice(0, parts.length, Buffer.concat(parts, received));
      return parts[0] ?? Buffer.alloc(0);
    };
    let head: Head | undefined;
    let settled = false;
    const socket = net.connect({ host: target.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(target.port || 80) });
    const onAbort = () => finish(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    function finish(error: Error | null, result?: GetResponse) {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(result!);
    }
    /** Whether the response may be complete before the connection ends: only then is it parsed again. */
    function mayBeComplete(chunk: Buffer): boolean {
      if (head === undefined) return true;
      if (head.contentLength !== undefined) return received - head.bodyAt >= head.contentLength;
      // The last chunk of a chunked body is followed by an empty line.
      if (head.chunked) return chunk.length >= 4 ? chunk.subarray(-4).toString("latin1") === "\r\n\r\n" : joined().subarray(-4).toString("latin1") === "\r\n\r\n";
      return false;
    }
    function progress(eof: boolean) {
      try {
        head ??= parseHead(joined());
        if (head === undefined) {
          if (eof) throw new ProtocolError(received ? "the connection closed inside the response's headers" : "the connection closed without a response");
          return;
        }
        const body = bodyOf(joined(), head, eof);
        if (body !== undefined) finish(null, response(head.status, body));
      } catch (error) {
        finish(error as Error);
      }
    }
    socket.write(request);
    socket.on("data", (chunk: Buffer) => {
      parts.push(chunk);
      received += chunk.length;
      if (mayBeComplete(chunk)) progress(false);
    });
    socket.on("end", () => progress(true));
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new ProtocolError("the connection closed without a response")));
  });
}
