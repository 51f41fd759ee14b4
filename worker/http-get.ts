// GET over node:http(s), for the one request a worker makes (its DAG bundle). The global fetch would do,
// but loading it costs a worker Pod about 20 ms of CPU on top of Node's start-up, once per task try.
import http from "node:http";
import https from "node:https";

export interface GetResponse {
  ok: boolean;
  status: number;
  text(): Promise<string>;
}

/** The shape of fetch that fetching a bundle needs; the global fetch fits it too. */
export type BundleFetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<GetResponse>;

export const httpGet: BundleFetch = (url, init) =>
  new Promise((resolve, reject) => {
    const get = url.startsWith("https:") ? https.get : http.get;
    const req = get(url, { headers: init.headers, signal: init.signal }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(parts).toString("utf8");
        resolve({ ok: status >= 200 && status < 300, status, text: async () => body });
      });
    });
    req.on("error", reject);
  });
