// localkube: Ferry's embedded, Kubernetes-API-compatible runtime. A real HTTP server speaking core/v1
// Pods and Namespaces where each pod's container runs as a local process, so code tested against it
// runs unchanged on a real cluster. See localkube/README.md for what is and isn't covered.

import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { dirname, join } from "node:path";
import { evict, loseNode } from "./disruption.ts";
import { EventRecorder } from "./events.ts";
import { Faults, type FaultConfig, type FaultController } from "./faults.ts";
import { DEFAULT_LOG_LIMITS, type LogLimits } from "./logs.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";
import { newNamespace, watchNamespaceCleanup } from "./namespaces.ts";
import { detectIsolation } from "./process.ts";
import { Runtime } from "./runtime.ts";
import { createHandler } from "./server.ts";
import { Store } from "./store.ts";

export interface LocalKubeOptions {
  host?: string; // default "127.0.0.1"
  port?: number; // default 0 = pick a free port
  dataDir: string; // per-pod working dirs and log files live under <dataDir>/localkube/
  workerImage: string; // a container whose image equals this runs Ferry's worker locally:
  workerCommand: string[]; //   workerCommand[0] with [...workerCommand.slice(1), ...container.args]; container.command is ignored
  namespaces?: string[]; // created at start; "default" always exists
  watchHistorySeconds?: number; // how long watch events are kept for resuming (default 75); older rv -> 410 Expired
  log?: (msg: string) => void;
  /** Faults active from the start; change them later with `LocalKube.faults.set()`. */
  faults?: FaultConfig;
  /** Seed for the fault dice (errorRate / throttleRate), so a test sees the same sequence every run. */
  faultSeed?: number;
  /** Pods finish at once without spawning anything; output / exit code come from annotations (see instant.ts). */
  instant?: boolean;
  /** How long the events of a deleted pod are kept (default 60). */
  eventRetentionSeconds?: number;
  /** Container log rotation, as the kubelet's containerLogMaxSize: a log file is rotated before it would pass this many bytes (default 10 MiB). */
  logMaxBytes?: number;
  /** As the kubelet's containerLogMaxFiles: log files kept per container, the current one included (default 5, at least 2). */
  logMaxFiles?: number;
}

export interface LocalKube {
  readonly url: string;
  readonly faults: FaultController;
  kubeconfig(namespace?: string): string;
  writeKubeconfig(path: string, namespace?: string): Promise<void>;
  close(): Promise<void>;
}

export { faultsFromEnv, type FaultConfig, type FaultController } from "./faults.ts";
export { OUTPUT_ANNOTATION, EXIT_CODE_ANNOTATION, TERMINATION_MESSAGE_ANNOTATION } from "./instant.ts";

export async function startLocalKube(opts: LocalKubeOptions): Promise<LocalKube> {
  if (!opts.workerCommand?.length) throw new Error("localkube: workerCommand must name an executable");
  const logLimits = logLimitsOf(opts);
  const log = opts.log ?? (() => {});
  const root = join(opts.dataDir, "localkube");
  // Pod state lives only in memory, so pod dirs left by an earlier run belong to nothing.
  await rm(join(root, "pods"), { recursive: true, force: true });
  await mkdir(join(root, "pods"), { recursive: true });

  const isolation = await detectIsolation();
  log(`localkube: termination messages isolated via ${isolation.mode}`);
  const store = new Store((opts.watchHistorySeconds ?? 75) * 1000);
  for (const name of new Set(["default", ...(opts.namespaces ?? [])])) store.create("namespaces", newNamespace(name));
  const stopCleanup = watchNamespaceCleanup(store);
  const faults = new Faults(opts.faults ?? {}, opts.faultSeed);
  const events = new EventRecorder(store, { keepAfterDeleteMs: (opts.eventRetentionSeconds ?? 60) * 1000, max: 5000 });
  const instant = opts.instant === true;
  const runtime = new Runtime(store, { root, workerImage: opts.workerImage, workerCommand: opts.workerCommand, isolation, log, faults, events, instant, logLimits });
  if (instant) log("localkube: instant mode: pods finish at once with scripted results, nothing is spawned");
  else if (!runtime.memoryLimitsEnforced) log("localkube: cannot measure process memory here (no /proc): memory limits are not enforced");

  const handler = createHandler(store, runtime, faults, log);
  const server: Server = createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 30_000;
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host === "[::]" ? "[::1]" : host}:${addr.port}`;
  log(`localkube: serving ${url}`);

  let closing: Promise<void> | undefined;
  const controller: FaultController = {
    set: (f) => faults.set(f),
    get: () => faults.get(),
    evict: (namespace, name) => evict(runtime, namespace, name),
    loseNode: () => loseNode(runtime),
  };
  return {
    url,
    faults: controller,
    kubeconfig: (namespace) => kubeconfigYaml(url, namespace),
    async writeKubeconfig(path, namespace) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, kubeconfigYaml(url, namespace), { mode: 0o600 });
    },
    close() {
      closing ??= (async () => {
        stopCleanup();
        events.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Watches and follows never end on their own; cut them so close() doesn't wait for minutes.
        for (const s of sockets) s.destroy();
        await runtime.close();
        await stopped;
      })();
      return closing;
    },
  };
}

/** The kubelet refuses containerLogMaxFiles below 2 (the current file plus the one being rotated). */
function logLimitsOf(opts: LocalKubeOptions): LogLimits {
  const maxBytes = opts.logMaxBytes ?? DEFAULT_LOG_LIMITS.maxBytes;
  const maxFiles = opts.logMaxFiles ?? DEFAULT_LOG_LIMITS.maxFiles;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new Error(`localkube: logMaxBytes must be a whole number of bytes >= 1, got ${maxBytes}`);
  if (!Number.isSafeInteger(maxFiles) || maxFiles < 2) throw new Error(`localkube: logMaxFiles must be a whole number >= 2, got ${maxFiles}`);
  return { maxBytes, maxFiles };
}
