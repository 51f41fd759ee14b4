// The LogStore behaviour suite against both backends, through real parts only: the file system, and
// the AWS SDK talking HTTP to s3rver.
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openLogStore, parseS3Url, type LogStore } from "../../logstore/index.ts";
import { applyEnv, startS3, type TestS3 } from "../support/s3.ts";
import { logStoreSuite, type BackendHarness } from "./suite.ts";

describe("FileLogStore", () => {
  let tmp: string;
  let n = 0;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "ferry-logstore-"));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  // Each store is <tmp>/<n>/logs, so listing <tmp>/<n> would show anything escaping "logs".
  const containerOf = (store: LogStore) => path.dirname(fileURLToPath(store.url));
  const harness: BackendHarness = {
    newStore: () => openLogStore(pathToFileURL(path.join(tmp, String(++n), "logs")).href),
    exists: async (store) => (await stat(fileURLToPath(store.url)).catch(() => undefined))?.isDirectory() ?? false,
    listAll: async (store) => {
      const root = containerOf(store);
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
    },
  };
  logStoreSuite(() => harness);
});

describe("S3LogStore (s3rver)", () => {
  let s3: TestS3;
  let restoreEnv: () => void;
  let admin: S3Client;
  let n = 0;
  const opened: LogStore[] = [];
  before(async () => {
    s3 = await startS3();
    restoreEnv = applyEnv(s3.env);
    admin = new S3Client({ forcePathStyle: true }); // same env-derived settings as the store
  });
  after(async () => {
    await Promise.all(opened.map(async (s) => s.close?.()));
    admin.destroy();
    restoreEnv();
    await s3.close();
  });
  const harness: BackendHarness = {
    newStore: () => {
      const store = openLogStore(`s3://ferry-test-${++n}/logs`);
      opened.push(store);
      return store;
    },
    exists: async (store) => {
      try {
        await admin.send(new HeadBucketCommand({ Bucket: parseS3Url(store.url).bucket }));
        return true;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw err;
      }
    },
    listAll: async (store) => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await admin.send(
          new ListObjectsV2Command({ Bucket: parseS3Url(store.url).bucket, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ""));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
  };
  logStoreSuite(() => harness);
});
