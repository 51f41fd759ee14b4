// The long-running commands: `ferry start` and `ferry localkube`. Both stop cleanly on SIGINT/SIGTERM.
import path from "node:path";
import { compileConfig } from "../config/config.ts";
import { startFerry, LOCAL_WORKER_COMMAND } from "../app/ferry.ts";
import { createLogger } from "../lib/logger.ts";
import { startLocalKube } from "../localkube/index.ts";
import { CliError } from "./client.ts";

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

export async function runStart(): Promise<number> {
  const config = compileConfig();
  const log = createLogger("ferry", config.log);
  const ferry = await startFerry(config, { log });
  const lines = [
    "",
    `Ferry is running at ${ferry.url ?? `(no API in this process; metrics and probes at ${ferry.metricsUrl ?? "nowhere: FERRY_METRICS_PORT=0"})`}`,
    `  database:  ${config.databaseUrl ? "DATABASE_URL" : `embedded Postgres in ${path.join(config.dataDir, "postgres")}`}`,
    `  kube:      ${config.kube}${ferry.localkube ? ` (localkube at ${ferry.localkube.url}; kubeconfig ${path.join(config.dataDir, "kubeconfig")})` : ""}`,
    `  log store: ${ferry.logStore.url}`,
  ];
  if (ferry.generatedToken) {
    lines.push(
      `  admin token (shown once; also saved to ${path.join(config.dataDir, "api-token")}):`,
      `    ${ferry.generatedToken}`,
    );
  } else {
    lines.push(`  admin token: ${config.apiToken ? "FERRY_API_TOKEN" : `the one printed on first start (saved in ${path.join(config.dataDir, "api-token")})`}`);
  }
  process.stdout.write(lines.join("\n") + "\n\n");
  await untilSignal();
  process.stdout.write("stopping Ferry...\n");
  await ferry.close();
  return 0;
}

export async function runLocalKube(portArg: string | undefined): Promise<number> {
  const config = compileConfig();
  const port = portArg === undefined ? 0 : Number(portArg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a port number, got ${portArg}`);
  const log = createLogger("localkube", config.log);
  const lk = await startLocalKube({
    port,
    dataDir: config.dataDir,
    workerImage: config.workerImage,
    workerCommand: LOCAL_WORKER_COMMAND,
    namespaces: [config.taskNamespace, ...config.allowedNamespaces],
    log: (m) => log.info(m),
    faults: config.localkube.faults,
    instant: config.localkube.instant,
    logMaxBytes: config.localkube.logMaxBytes,
    logMaxFiles: config.localkube.logMaxFiles,
  });
  const kubeconfig = path.join(config.dataDir, "kubeconfig");
  await lk.writeKubeconfig(kubeconfig, config.taskNamespace);
  process.stdout.write(
    `localkube is serving the Kubernetes API at ${lk.url}\n` +
      `  kubeconfig: ${kubeconfig}\n` +
      `  try: kubectl --kubeconfig ${kubeconfig} get pods\n` +
      `  Ferry on it: FERRY_KUBE=kubeconfig KUBECONFIG=${kubeconfig} ferry start\n`,
  );
  await untilSignal();
  await lk.close();
  return 0;
}
