import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileConfig, ConfigError, DEFAULT_WORKER_IMAGE } from "../../config/config.ts";

describe("configuration from the environment", () => {
  it("has the documented defaults", () => {
    const c = compileConfig({}, "/srv/app");
    assert.equal(c.databaseUrl, null);
    assert.equal(c.dataDir, "/srv/app/.ferry");
    assert.equal(c.port, 8080);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.kube, "local");
    assert.equal(c.taskNamespace, "default");
    assert.deepEqual(c.allowedNamespaces, []);
    assert.equal(c.workerImage, DEFAULT_WORKER_IMAGE);
    assert.equal(c.logStoreUrl, "file:///srv/app/.ferry/logs");
    assert.equal(c.maxRunningTasks, 32);
    assert.equal(c.podPendingTimeoutMs, 300_000);
    assert.deepEqual(c.components, { api: true, scheduler: true, executor: true });
    assert.equal(c.retentionDays, null, "runs and logs are kept forever unless asked");
    assert.deepEqual([c.logFlushIntervalMs, c.logChunkBytes, c.logDrainTimeoutMs], [1000, 1024 * 1024, 10_000]);
    assert.deepEqual(c.localkube, { faults: {}, instant: false, logMaxBytes: 10 * 1024 * 1024, logMaxFiles: 5 });
    assert.deepEqual(c.log, { level: "info", format: "auto" }, "JSON lines unless stderr is a terminal");
    assert.deepEqual(c.kubeClient, { qps: 50, burst: 100, requestTimeoutMs: 30_000, watchIdleMs: 120_000 });
    assert.equal(c.parallelism, null, "no bound across executors unless FERRY_PARALLELISM says");
    assert.deepEqual([c.podDeletion, c.keepFailedPodsMs, c.podSweepIntervalMs], ["always", 3_600_000, 60_000]);
    assert.equal(c.inlineBundleMaxBytes, 32 * 1024, "bundles up to 32 KiB travel in the worker Pod");
    assert.equal(c.metricsPort, 9464, "a process without the API serves its metrics on 9464");
    assert.equal(c.metricsToken, null);
  });

  it("reads every setting", () => {
    const c = compileConfig(
      {
        DATABASE_URL: "postgres://x@db/ferry",
        FERRY_DATA_DIR: "/data",
        FERRY_PORT: "9000",
        FERRY_KUBE: "in-cluster",
        FERRY_TASK_NAMESPACE: "ferry-tasks",
        FERRY_ALLOWED_NAMESPACES: "team-a, team-b,team-a",
        FERRY_API_TOKEN: "a-long-enough-token",
        FERRY_LOG_STORE: "s3://logs/ferry",
        FERRY_COMPONENTS: "scheduler,executor",
        FERRY_POD_PENDING_TIMEOUT_SECONDS: "60",
        FERRY_LOG_FLUSH_INTERVAL_MS: "250",
        FERRY_LOG_CHUNK_BYTES: "65536",
        FERRY_LOG_DRAIN_TIMEOUT_SECONDS: "3",
        FERRY_LOCALKUBE_FAULTS: '{"errorRate":0.1}',
        FERRY_LOCALKUBE_INSTANT: "true",
        FERRY_RETENTION_DAYS: "30",
        FERRY_LOCALKUBE_LOG_MAX_BYTES: "65536",
        FERRY_LOCALKUBE_LOG_MAX_FILES: "2",
        FERRY_LOG_LEVEL: "warn",
        FERRY_LOG_FORMAT: "pretty",
        FERRY_TIMEOUT_GRACE_SECONDS: "5",
        FERRY_PARALLELISM: "12",
        FERRY_POD_DELETION: "keepFailed",
        FERRY_POD_KEEP_FAILED_SECONDS: "600",
        FERRY_POD_SWEEP_SECONDS: "30",
        FERRY_KUBE_QPS: "2.5",
        FERRY_KUBE_BURST: "5",
        FERRY_KUBE_REQUEST_TIMEOUT_SECONDS: "10",
        FERRY_KUBE_WATCH_IDLE_SECONDS: "300",
        FERRY_INLINE_BUNDLE_MAX_BYTES: "0",
        FERRY_METRICS_PORT: "9100",
        FERRY_METRICS_TOKEN: "scrape-me",
      },
      "/",
    );
    assert.equal(c.host, "0.0.0.0", "off localkube the API listens on every interface");
    assert.equal(c.port, 9000);
    assert.equal(c.logStoreUrl, "s3://logs/ferry");
    assert.deepEqual(c.components, { api: false, scheduler: true, executor: true });
    assert.equal(c.podPendingTimeoutMs, 60_000);
    assert.equal(c.timeoutGraceMs, 5000);
    assert.deepEqual([c.taskNamespace, c.allowedNamespaces], ["ferry-tasks", ["team-a", "team-b"]]);
    assert.equal(compileConfig({ FERRY_NAMESPACE: "jobs" }, "/").taskNamespace, "jobs", "the older name still works");
    assert.equal(c.parallelism, 12);
    assert.deepEqual([c.podDeletion, c.keepFailedPodsMs, c.podSweepIntervalMs], ["keepFailed", 600_000, 30_000]);
    assert.deepEqual([c.logFlushIntervalMs, c.logChunkBytes, c.logDrainTimeoutMs], [250, 65536, 3000]);
    assert.equal(c.retentionDays, 30);
    assert.deepEqual(c.localkube, { faults: { errorRate: 0.1 }, instant: true, logMaxBytes: 65536, logMaxFiles: 2 });
    assert.deepEqual(c.log, { level: "warn", format: "pretty" });
    assert.equal(compileConfig({ FERRY_LOG_FORMAT: "json", FERRY_LOG_LEVEL: "debug" }, "/").log.format, "json");
    assert.deepEqual(c.kubeClient, { qps: 2.5, burst: 5, requestTimeoutMs: 10_000, watchIdleMs: 300_000 });
    assert.equal(c.inlineBundleMaxBytes, 0, "0: every worker fetches its bundle");
    assert.deepEqual([c.metricsPort, c.metricsToken], [9100, "scrape-me"]);
    assert.equal(compileConfig({ FERRY_METRICS_PORT: "0" }, "/").metricsPort, 0, "0: no metrics listener");
  });

  it("takes an empty FERRY_RETENTION_DAYS as unset, and 1 day as the shortest retention", () => {
    assert.equal(compileConfig({ FERRY_RETENTION_DAYS: "" }, "/").retentionDays, null);
    assert.equal(compileConfig({ FERRY_RETENTION_DAYS: "1" }, "/").retentionDays, 1);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ FERRY_PORT: "eighty" }, /FERRY_PORT="eighty" is not valid: use a whole number from 0 to 65535/],
    [{ FERRY_METRICS_PORT: "65536" }, /FERRY_METRICS_PORT="65536" is not valid: use a whole number from 0 to 65535 \(0: no metrics listener\)/],
    [{ FERRY_METRICS_PORT: "metrics" }, /FERRY_METRICS_PORT="metrics" is not valid/],
    [{ FERRY_METRICS_PORT: "-1" }, /FERRY_METRICS_PORT="-1" is not valid/],
    [{ FERRY_KUBE: "minikube" }, /FERRY_KUBE="minikube" is not valid: use local, kubeconfig or in-cluster/],
    [{ FERRY_LOG_STORE: "gs://x" }, /FERRY_LOG_STORE="gs:\/\/x" is not valid/],
    [{ FERRY_API_TOKEN: "short" }, /FERRY_API_TOKEN is too short/],
    [{ FERRY_TASK_NAMESPACE: "Tasks" }, /FERRY_TASK_NAMESPACE="Tasks" is not a Kubernetes namespace name/],
    [{ FERRY_ALLOWED_NAMESPACES: "ok,not_ok" }, /FERRY_ALLOWED_NAMESPACES: "not_ok" is not a Kubernetes namespace name/],
    [{ FERRY_COMPONENTS: "api,web" }, /FERRY_COMPONENTS="api,web" is not valid/],
    [{ FERRY_LOCALKUBE_INSTANT: "yes" }, /FERRY_LOCALKUBE_INSTANT="yes" is not valid/],
    [{ FERRY_LOG_FLUSH_INTERVAL_MS: "10" }, /FERRY_LOG_FLUSH_INTERVAL_MS="10" is not valid: use a whole number from 50 to 60000/],
    [{ FERRY_LOG_CHUNK_BYTES: "1k" }, /FERRY_LOG_CHUNK_BYTES="1k" is not valid/],
    // One environment string past 128 KiB and Linux would refuse to start the worker at all.
    [{ FERRY_INLINE_BUNDLE_MAX_BYTES: "131072" }, /FERRY_INLINE_BUNDLE_MAX_BYTES="131072" is not valid: use a whole number from 0 to 100000/],
    [{ FERRY_LOCALKUBE_FAULTS: "{nope" }, /FERRY_LOCALKUBE_FAULTS/],
    [{ FERRY_LOCALKUBE_LOG_MAX_BYTES: "10Mi" }, /FERRY_LOCALKUBE_LOG_MAX_BYTES="10Mi" is not valid: use a whole number from 1 to 1099511627776/],
    [{ FERRY_LOCALKUBE_LOG_MAX_BYTES: "0" }, /FERRY_LOCALKUBE_LOG_MAX_BYTES="0" is not valid/],
    [{ FERRY_LOCALKUBE_LOG_MAX_FILES: "1" }, /FERRY_LOCALKUBE_LOG_MAX_FILES="1" is not valid: use a whole number from 2 to 1000/],
    [{ FERRY_RETENTION_DAYS: "0" }, /FERRY_RETENTION_DAYS="0" is not valid: use a whole number of days from 1 to 36500, or leave it unset/],
    [{ FERRY_RETENTION_DAYS: "-3" }, /FERRY_RETENTION_DAYS="-3" is not valid/],
    [{ FERRY_RETENTION_DAYS: "1.5" }, /FERRY_RETENTION_DAYS="1.5" is not valid/],
    [{ FERRY_RETENTION_DAYS: "30d" }, /FERRY_RETENTION_DAYS="30d" is not valid/],
    [{ FERRY_RETENTION_DAYS: " 7" }, /FERRY_RETENTION_DAYS=" 7" is not valid/],
    [{ FERRY_RETENTION_DAYS: "99999" }, /FERRY_RETENTION_DAYS="99999" is not valid/],
    [{ FERRY_LOG_LEVEL: "verbose" }, /FERRY_LOG_LEVEL="verbose" is not valid: use one of trace, debug, info, warn, error, fatal, silent/],
    [{ FERRY_LOG_LEVEL: "INFO" }, /FERRY_LOG_LEVEL="INFO" is not valid/],
    [{ FERRY_LOG_FORMAT: "text" }, /FERRY_LOG_FORMAT="text" is not valid: use one of auto, json, pretty/],
    [{ FERRY_KUBE_QPS: "0" }, /FERRY_KUBE_QPS="0" is not valid: use a number greater than 0 and at most 100000/],
    [{ FERRY_KUBE_QPS: "-5" }, /FERRY_KUBE_QPS="-5" is not valid/],
    [{ FERRY_KUBE_QPS: "fast" }, /FERRY_KUBE_QPS="fast" is not valid/],
    [{ FERRY_KUBE_BURST: "0" }, /FERRY_KUBE_BURST="0" is not valid: use a whole number from 1 to 100000/],
    [{ FERRY_KUBE_BURST: "2.5" }, /FERRY_KUBE_BURST="2.5" is not valid/],
    [{ FERRY_KUBE_REQUEST_TIMEOUT_SECONDS: "0" }, /FERRY_KUBE_REQUEST_TIMEOUT_SECONDS="0" is not valid: use a whole number from 1 to 3600/],
    [{ FERRY_KUBE_WATCH_IDLE_SECONDS: "2m" }, /FERRY_KUBE_WATCH_IDLE_SECONDS="2m" is not valid: use a whole number from 1 to 86400/],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${Object.keys(env)[0]}=${Object.values(env)[0]} with a message that says how to fix it`, () => {
      assert.throws(() => compileConfig(env, "/"), (err: Error) => err instanceof ConfigError && message.test(err.message));
    });
  }
});
