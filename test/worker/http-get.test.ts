// The worker's GET (worker/http-get.ts): HTTP/1.1 over node:net against node:http servers and raw
// sockets that frame their answers every way HTTP/1.1 allows, and its failures.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { httpGet } from "../../worker/http-get.ts";

const servers: (http.Server | net.Server)[] = [];
const sockets = new Set<net.Socket>();

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

function listen(server: http.Server | net.Server): Promise<string> {
  servers.push(server);
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** A server that reads one request head and answers with `answer` written as the given pieces. */
async function raw(answer: (Buffer | string)[], opts: { close?: boolean; onRequest?: (head: string) => void } = {}): Promise<string> {
  const server = net.createServer((socket) => {
    let head = "";
    socket.on("data", (c: Buffer) => {
      head += c.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      opts.onRequest?.(head);
      void (async () => {
        for (const piece of answer) {
          socket.write(piece);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (opts.close !== false) socket.end();
      })();
    });
  });
  return listen(server);
}

const get = (url: string, headers: Record<string, string> = {}, signal = AbortSignal.timeout(5000)) => httpGet(url, { headers, signal });

test("a GET with its headers; a Content-Length body, in several pieces, multi-byte text intact", async () => {
  const body = "x".repeat(200_000) + "é€😀".repeat(1000);
  let seen: http.IncomingMessage | undefined;
  const url = await listen(
    http.createServer((req, res) => {
      seen = req;
      res.writeHead(200, { "content-type": "application/javascript; charset=utf-8", "content-length": Buffer.byteLength(body) });
      res.end(body);
    }),
  );
  const res = await get(`${url}/api/v1/dags/a%20b/versions/3/bundle?x=1`, { Authorization: "Bearer fw_tok" });
  assert.equal(res.status, 200);
  assert.equal(res.ok, true);
  assert.equal(await res.text(), body);
  assert.equal(seen?.method, "GET");
  assert.equal(seen?.url, "/api/v1/dags/a%20b/versions/3/bundle?x=1");
  assert.equal(seen?.headers.authorization, "Bearer fw_tok");
  assert.equal(seen?.headers.host, new URL(url).host);
  assert.equal(seen?.headers.connection, "close");
});

test("a chunked body, a character split across chunks", async () => {
  const euro = Buffer.from("€");
  const url = await listen(
    http.createServer((req, res) => {
      res.writeHead(200);
      res.write("first;");
      res.write(euro.subarray(0, 1));
      res.write(euro.subarray(1));
      setTimeout(() => res.end(";last"), 10);
    }),
  );
  const res = await get(url);
  assert.equal(await res.text(), "first;€;last");
});

test("chunk extensions and trailers; a response that ends the connection late still resolves when complete", async () => {
  const url = await raw(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5;ext=1\r\nhello\r\n", "6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"], { close: false });
  assert.equal(await (await get(url)).text(), "hello world");
});

test("a Content-Length response on a connection the server keeps open resolves once the body is in", async () => {
  const url = await raw(["HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nab", "cde"], { close: false });
  assert.equal(await (await get(url)).text(), "abcde");
});

test("a body without a length runs to the end of the connection; 1xx interim answers are skipped", async () => {
  const url = await raw(["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ", "the end"]);
  const res = await get(url);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "until the end");
});

test("error statuses are answers, with their body", async () => {
  const url = await listen(
    http.createServer((req, res) => {
      res.writeHead(req.url === "/busy" ? 503 : 404, { "content-type": "application/json" });
      res.end('{"error":"nope"}');
    }),
  );
  const missing = await get(`${url}/x`);
  assert.deepEqual([missing.status, missing.ok, await missing.text()], [404, false, '{"error":"nope"}']);
  const busy = await get(`${url}/busy`);
  assert.deepEqual([busy.status, busy.ok], [503, false]);
});

test("a body cut short, a connection closed without an answer, or an answer that is not HTTP fail", async () => {
  await assert.rejects(get(await raw(["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"])), /closed after 3 of 10 bytes/);
  await assert.rejects(get(await raw(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"])), /closed inside a chunked response/);
  await assert.rejects(get(await raw([])), /closed without a response/);
  await assert.rejects(get(await raw(["HTTP/1.1 200 OK\r\nContent-"])), /closed inside the response's headers/);
  await assert.rejects(get(await raw(["SSH-2.0-OpenSSH\r\n\r\n"])), /did not answer HTTP/);
  await assert.rejects(get(await raw(["HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"])), /invalid Content-Length/);
});

test("a refused connection rejects; a signal aborts a request that gets no answer", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  await assert.rejects(get(`http://127.0.0.1:${port}/`), /ECONNREFUSED/);
  const silent = await listen(net.createServer(() => {}));
  const started = Date.now();
  await assert.rejects(get(silent, {}, AbortSignal.timeout(100)), (error: Error) => error.name === "TimeoutError");
  assert.ok(Date.now() - started < 2000);
});

test("a header value with a line break is refused before anything is sent", async () => {
  let requests = 0;
  const url = await raw(["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], { onRequest: () => requests++ });
  await assert.rejects(get(url, { Authorization: "Bearer a\r\nX-Evil: 1" }), /line break/);
  assert.equal(requests, 0);
});

test("only http and https URLs", async () => {
  await assert.rejects(get("ftp://example.com/x"), /only http and https/);
});
