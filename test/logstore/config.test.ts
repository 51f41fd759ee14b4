// The pure parts of the log store: key layout, segment escaping, and choosing a backend from a URL.
import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import {
  chunkKey,
  escapeSegment,
  FileLogStore,
  logStoreUrlFromEnv,
  openLogStore,
  parseChunkName,
  parseS3Url,
  S3LogStore,
  s3ForcePathStyle,
} from "../../logstore/index.ts";

describe("log key layout", () => {
  test("chunkKey is <dag>/<run>/<task>/<try>/<seq 8 digits>.log", () => {
    const key = { dagId: "nightly_report", runId: "scheduled__2026-01-01T02:00:00+09:00", taskId: "count", tryNumber: 2 };
    assert.equal(chunkKey(key, 0), "nightly_report/scheduled__2026-01-01T02:00:00+09:00/count/2/00000000.log");
    assert.equal(chunkKey(key, 12345), "nightly_report/scheduled__2026-01-01T02:00:00+09:00/count/2/00012345.log");
    assert.throws(() => chunkKey(key, 100_000_000), /seq/);
    assert.throws(() => chunkKey(key, -1), /seq/);
    assert.throws(() => chunkKey(key, 1.5), /seq/);
    assert.throws(() => chunkKey({ ...key, tryNumber: -1 }, 0), /tryNumber/);
    assert.throws(() => chunkKey({ ...key, taskId: "" }, 0), /empty/);
  });

  test("parseChunkName accepts only chunk names", () => {
    assert.equal(parseChunkName("00000000.log"), 0);
    assert.equal(parseChunkName("00001000.log"), 1000);
    for (const name of [".00000000.log.abc.tmp", "0000000.log", "00000000.txt", "x00000000.log", "000000001.log"]) {
      assert.equal(parseChunkName(name), undefined, name);
    }
  });

  test("escapeSegment keeps [A-Za-z0-9_.:+-] and encodes the rest one-to-one", () => {
    assert.equal(escapeSegment("manual__2026-01-01T00:00:00.123+00:00"), "manual__2026-01-01T00:00:00.123+00:00");
    assert.equal(escapeSegment("a/b"), "a%2Fb");
    assert.equal(escapeSegment("a%2Fb"), "a%252Fb");
    assert.equal(escapeSegment(".."), "%2E%2E");
    assert.equal(escapeSegment("."), "%2E");
    assert.equal(escapeSegment("..."), "...");
    assert.equal(escapeSegment("x y"), "x%20y");
    assert.equal(escapeSegment("~!*'()"), "%7E%21%2A%27%28%29");
    assert.equal(escapeSegment("é🚀"), "%C3%A9%F0%9F%9A%80");
    assert.equal(escapeSegment("a\\b"), "a%5Cb");
    assert.throws(() => escapeSegment("\ud800"), /Unicode/);
  });
});

describe("openLogStore", () => {
  test("file:///abs and file://relative", () => {
    const abs = openLogStore("file:///var/lib/ferry/logs");
    assert.ok(abs instanceof FileLogStore);
    assert.equal(abs.root, "/var/lib/ferry/logs");
    assert.equal(abs.url, "file:///var/lib/ferry/logs");
    const rel = openLogStore("file://.ferry/logs", { cwd: "/srv/app" });
    assert.ok(rel instanceof FileLogStore);
    assert.equal(rel.root, "/srv/app/.ferry/logs");
    const spaced = openLogStore("file:///tmp/my%20logs");
    assert.equal((spaced as FileLogStore).root, "/tmp/my logs");
  });

  test("s3://bucket/prefix", () => {
    assert.deepEqual(parseS3Url("s3://ferry-logs/logs"), { bucket: "ferry-logs", prefix: "logs" });
    assert.deepEqual(parseS3Url("s3://ferry-logs/a/b/"), { bucket: "ferry-logs", prefix: "a/b" });
    assert.deepEqual(parseS3Url("s3://ferry-logs"), { bucket: "ferry-logs", prefix: "" });
    const store = openLogStore("s3://ferry-logs/logs/", { s3: { clientConfig: { region: "us-east-1" } } });
    assert.ok(store instanceof S3LogStore);
    assert.equal(store.url, "s3://ferry-logs/logs");
    assert.equal(store.prefix, "logs");
    store.client.destroy();
    assert.throws(() => parseS3Url("s3:///nobucket"), /s3:\/\/bucket/);
  });

  test("anything else is a clear error", () => {
    for (const url of ["http://example.com/logs", "/var/log/ferry", "gs://bucket/x", "", "file://"]) {
      assert.throws(() => openLogStore(url), /FERRY_LOG_STORE|file:\/\/path/, url);
    }
  });

  test("path style: forced by FERRY_S3_FORCE_PATH_STYLE, else on with a custom endpoint", () => {
    assert.equal(s3ForcePathStyle({}), false);
    assert.equal(s3ForcePathStyle({ AWS_ENDPOINT_URL_S3: "http://minio:9000" }), true);
    assert.equal(s3ForcePathStyle({ AWS_ENDPOINT_URL: "http://minio:9000" }), true);
    assert.equal(s3ForcePathStyle({}, { endpoint: "http://minio:9000" }), true);
    assert.equal(s3ForcePathStyle({ AWS_ENDPOINT_URL_S3: "http://x", FERRY_S3_FORCE_PATH_STYLE: "false" }), false);
    assert.equal(s3ForcePathStyle({ FERRY_S3_FORCE_PATH_STYLE: "TRUE" }), true);
    assert.equal(s3ForcePathStyle({ FERRY_S3_FORCE_PATH_STYLE: "" }), false);
    assert.throws(() => s3ForcePathStyle({ FERRY_S3_FORCE_PATH_STYLE: "yes please" }), /FERRY_S3_FORCE_PATH_STYLE/);
  });

  test("logStoreUrlFromEnv: FERRY_LOG_STORE, else <data dir>/logs", () => {
    assert.equal(logStoreUrlFromEnv({ FERRY_LOG_STORE: "s3://b/p" }), "s3://b/p");
    assert.equal(logStoreUrlFromEnv({ FERRY_DATA_DIR: "/data" }), "file:///data/logs");
    assert.equal(logStoreUrlFromEnv({}), `file://${path.resolve(".ferry", "logs")}`);
  });
});
