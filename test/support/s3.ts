// A real S3 API for tests: s3rver (an S3-compatible server on the local file system) on 127.0.0.1,
// an ephemeral port and a temp folder. Use `env` as the process environment of whatever talks to it.
//
// Compatibility with the current stack, as found:
// - AWS SDK v3's default CRC32 checksum headers (x-amz-checksum-crc32 on PutObject) are simply ignored
//   by s3rver, so no requestChecksumCalculation override is needed. Path-style addressing
//   (FERRY_S3_FORCE_PATH_STYLE=true) avoids bucket host names.
// - s3rver signs ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) only offers
//   through its legacy provider: without it any truncated listing (> 1000 keys) fails with a 500
//   InternalError (jamhall/s3rver#818; the @20minutes/s3rver fork has the same code). So s3rver runs
//   in a child Node process started with --openssl-legacy-provider, which also keeps its logger and
//   event loop out of the test process.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** The bucket created up front, if one was asked for. */
  bucket?: string;
  /** AWS SDK + Ferry settings that reach this server. */
  env: Record<string, string>;
  close(): Promise<void>;
}

// Runs in the child. It exits when its stdin closes, so it cannot outlive a test process that dies,
// and then removes its data folder itself, so a killed test run leaves no temp folder behind.
const CHILD = `
const options = JSON.parse(process.env.S3RVER_OPTIONS);
const S3rver = require(process.env.S3RVER_MODULE);
new S3rver(options).run().then(
  ({ port }) => process.stdout.write(JSON.stringify({ port }) + "\\n"),
  (err) => { console.error(err); process.exit(1); },
);
process.stdin.on("end", () => {
  require("node:fs").rmSync(options.directory, { recursive: true, force: true });
  process.exit(0);
});
process.stdin.resume();
`;

export async function startS3(opts: { bucket?: string } = {}): Promise<TestS3> {
  const directory = await mkdtemp(path.join(os.tmpdir(), "ferry-s3rver-"));
  const options = {
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: opts.bucket ? [{ name: opts.bucket }] : [],
  };
  const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", CHILD], {
    env: {
      PATH: process.env.PATH ?? "",
      S3RVER_MODULE: createRequire(import.meta.url).resolve("s3rver"),
      S3RVER_OPTIONS: JSON.stringify(options),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = once(child, "exit");

  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
    void exited.then(([code]) => reject(new Error(`s3rver exited (code ${code}) before listening:\n${stderr}`)));
  }).catch(async (err: unknown) => {
    await rm(directory, { recursive: true, force: true });
    throw err;
  });

  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket: opts.bucket,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      FERRY_S3_FORCE_PATH_STYLE: "true",
      // The SDK warns once per process that Node 20 support ends in 2027: noise in test output.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Applies `env` to process.env (where the AWS SDK reads its settings); returns a function undoing it. */
export function applyEnv(env: Record<string, string>): () => void {
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
