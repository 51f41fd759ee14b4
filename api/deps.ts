// What the API needs from the rest of Ferry, passed in so each part stays separable.
import type { Db } from "../db/db.ts";
import type { LogStore } from "../logstore/logstore.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import type { DagFileErrorCode } from "../dagfile/types.ts";
import type { Kube } from "../executor/kube.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import type { AuthSettings } from "./auth.ts";

export type CompileOutcome =
  | { ok: true; definition: DagDefinition; bundle: string }
  | { ok: false; error: { code: DagFileErrorCode; message: string; line?: number; column?: number; problems?: { path: string; message: string }[] } };

export interface ApiDeps {
  db: Db;
  auth: AuthSettings;
  compile: (source: string) => Promise<CompileOutcome>;
  logStore: LogStore;
  /** For serving the logs of Pods that are still running; null = only from the log store. */
  kube: Kube | null;
  log: Logger;
  /** The process's metrics, served at /metrics. @default a registry of the API's own */
  metrics?: Metrics;
  /** When set, /metrics needs `Authorization: Bearer <this>` (FERRY_METRICS_TOKEN). */
  metricsToken?: string | null;
}
