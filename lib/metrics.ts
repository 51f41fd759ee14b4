// Every Prometheus metric Ferry exports, on prom-client, in one registry per Ferry process (so tests that
// start several Ferrys in one Node process each see their own). The parts count into it as things
// happen; the API serves it at /metrics together with the gauges it reads from Postgres at scrape time
// (api/routes/health.ts), and a process without the API serves the same on FERRY_METRICS_PORT
// (app/metrics-listener.ts). The README's "Metrics" section lists them.
// The loops' heartbeats (lib/heartbeat.ts) travel with the metrics: every part is handed them already,
// and the routes that serve /metrics serve /healthz too, which judges them.
import client from "prom-client";
import { Heartbeats } from "./heartbeat.ts";

/** Seconds, for latencies from milliseconds (a Pod start) to hours (a task). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600];

export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new client.Registry();
  // The process's own: CPU, memory, event-loop lag, handles (prom-client's defaults).
  if (opts.processMetrics !== false) client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Every latency Ferry measures is in seconds on the same buckets, so dashboards can compare them.
  const durationHistogram = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Histogram<L>({ name, help, labelNames, buckets: DURATION_BUCKETS, registers });
  const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers });
  const loops = new Heartbeats();
  new client.Gauge({
    name: "ferry_loop_last_pass_age_seconds",
    help: "Seconds since each loop of this process last completed a pass (since its start, before its first); /healthz fails past the loop's threshold (a minute or more).",
    labelNames: ["component"] as const,
    registers,
    collect() {
      for (const [component, h] of loops.health()) this.set({ component }, h.ageMs / 1000);
    },
  });
  return {
    registry,
    /** The heartbeats of the loops this process runs (app/ferry.ts watches them). */
    loops,
    httpRequests: counter("ferry_http_requests_total", "HTTP requests served by the API, by method and status.", ["method", "status"] as const),
    runsCreated: counter("ferry_runs_created_total", "Runs created, by type (scheduled, manual, backfill).", ["type"] as const),
    runsFinished: counter("ferry_runs_finished_total", "Runs that reached a final state, by that state.", ["state"] as const),
    tryDuration: durationHistogram("ferry_task_duration_seconds", "How long a try's container ran (start to end), by how the try ended.", ["state"] as const),
    queueWait: durationHistogram(
      "ferry_task_queue_wait_seconds",
      "From a task becoming scheduled to an executor claiming its try (slots, parallelism, executor room).",
    ),
    podStart: durationHistogram("ferry_pod_start_seconds", "From a try's claim to its container running (Pod create, scheduling, image, start)."),
    dependencyHop: durationHistogram("ferry_dependency_hop_seconds", "From the last upstream task's end to the downstream task's Pod create being sent."),
    podsCreated: counter("ferry_pods_created_total", "Task Pods created."),
    triesFailed: counter("ferry_tries_failed_total", "Tries that failed, by reason (Error, OOMKilled, Evicted, ...) and whether they used up a retry (infra: true if not).", ["reason", "infra"] as const),
    kubeRequests: counter("ferry_kube_requests_total", "Kubernetes API requests, by verb and HTTP status (0: no answer).", ["verb", "code"] as const),
    watchRestarts: counter("ferry_kube_watch_restarts_total", "Pod watches started again, by why (ended, expired, error, silent).", ["reason"] as const),
    logBytes: counter("ferry_log_bytes_shipped_total", "Bytes of task logs written to the log store."),
    logStoreErrors: counter("ferry_log_store_errors_total", "Failed writes to the log store (each is retried)."),
    logLag: durationHistogram("ferry_log_finish_lag_seconds", "From a try's outcome being recorded to its whole log being in the store."),
    adoptions: counter("ferry_tries_adopted_total", "Tries taken over from an executor whose lease ran out."),
    orphanPods: counter("ferry_orphan_pods_removed_total", "Pods with Ferry's label that no live try owned, removed by the sweeper."),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Metrics nobody serves: for parts started without a process's registry (tests, tools). */
export function unservedMetrics(): Metrics {
  return createMetrics({ processMetrics: false });
}
