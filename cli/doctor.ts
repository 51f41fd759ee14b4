// `ferry doctor`: checks, before the first `ferry start` on a cluster, what that start needs: the
// configuration it would read, Postgres and its schema, the Kubernetes API with the namespaces and RBAC
// Ferry uses, the log store, the worker image. It reads the same environment and goes through the same
// clients as `ferry start` (compileConfig, connectKube, openLogStore, loadMigrations), so a check that
// passes here passes there, and it changes nothing: it migrates nothing, creates no bucket, namespace
// or folder, and removes the one probe object it writes.
import { randomBytes } from "node:crypto";
import { access, constants, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { compileConfig, ConfigError, DEFAULT_WORKER_IMAGE, FERRY_VERSION, type FerryConfig } from "../config/config.ts";
import { loadMigrations } from "../db/migrate.ts";
import { loadPodTemplate } from "../executor/pod-template.ts";
import { FileLogStore, openLogStore, type LogStore } from "../logstore/index.ts";
import { flag, text, UsageError, type ParsedArgs } from "./args.ts";
import { errorText, Failed, runCheck, skipped, type CheckResult, type CheckStatus, type Passed } from "./doctor-check.ts";
import { kubeChecks } from "./doctor-kube.ts";

type Out = (line: string) => void;

export const DEFAULT_TIMEOUT_SECONDS = 10;

// --- configuration -------------------------------------------------------------------------------

function configSummary(c: FerryConfig): string {
  const namespaces = c.allowedNamespaces.length > 0 ? `, also allowed: ${c.allowedNamespaces.join(", ")}` : "";
  return `FERRY_KUBE=${c.kube}, tasks in namespace ${c.taskNamespace}${namespaces}, log store ${c.logStoreUrl}`;
}

async function checkPodTemplate(c: FerryConfig): Promise<Passed> {
  const template = loadPodTemplate(c.podTemplatePath!);
  const labels = Object.keys(template.metadata.labels ?? {}).length;
  return { detail: `${template.source} loads (spec fields: ${Object.keys(template.spec).sort().join(", ") || "none"}; ${labels} label(s))` };
}

// --- Postgres ------------------------------------------------------------------------------------

/** host:port/database as user, without the password. */
function databaseName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ""}${u.pathname}${u.username ? ` as ${decodeURIComponent(u.username)}` : ""}`;
  } catch {
    return "DATABASE_URL";
  }
}

async function withPostgres<T>(url: string, timeoutMs: number, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "ferry-doctor", connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new Failed(
      `cannot connect to ${databaseName(url)}: ${errorText(err)}`,
      "check DATABASE_URL (host, port, database, user, password) and that this machine can reach the server",
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkPostgres(url: string, timeoutMs: number): Promise<Passed> {
  return withPostgres(url, timeoutMs, async (client) => {
    const { rows } = await client.query<{ version: string }>("SELECT current_setting('server_version') AS version");
    return { detail: `${databaseName(url)} answers (PostgreSQL ${rows[0]!.version})` };
  });
}

/**
 * The schema's version against this Ferry's migrations, read as db/migrate.ts keeps it (the newest row
 * of ferry_migrations) and without migrating: `ferry start` does that itself, under its lock.
 */
async function checkSchema(url: string, timeoutMs: number): Promise<Passed> {
  const known = (await loadMigrations()).length;
  return withPostgres(url, timeoutMs, async (client) => {
    const { rows } = await client.query<{ present: boolean; can_create: boolean }>(
      "SELECT to_regclass('ferry_migrations') IS NOT NULL AS present, has_schema_privilege(current_schema(), 'CREATE') AS can_create",
    );
    const { present, can_create: canCreate } = rows[0]!;
    const newest = present ? Number((await client.query<{ v: number | null }>("SELECT max(version) AS v FROM ferry_migrations")).rows[0]!.v ?? 0) : 0;
    if (newest > known) {
      throw new Failed(
        `the schema is at version ${newest}, newer than this Ferry ${FERRY_VERSION} (migrations up to ${known}): it would refuse to start`,
        "run the Ferry version that migrated this database (or a newer one), or point DATABASE_URL at another database",
      );
    }
    if (newest === known) return { detail: `current (version ${known})` };
    const pending = newest === 0 ? `not migrated: ferry start will apply migrations 1 to ${known}` : `behind (version ${newest} of ${known}): ferry start will apply ${newest + 1} to ${known}`;
    if (!canCreate) {
      throw new Failed(`${pending}, but this user may not create tables in schema ${await currentSchema(client)}`, "grant the user CREATE on the schema (or run ferry start once as a user who may)");
    }
    return { detail: pending };
  });
}

async function currentSchema(client: pg.Client): Promise<string> {
  return (await client.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]!.s;
}

// --- log store -----------------------------------------------------------------------------------

/** A dagId no DAG can have (ids start with a letter, digit or "_"), so the probe meets no real log. */
const PROBE_DAG = ".ferry-doctor";

const S3_PERMISSIONS_HINT = "Ferry needs s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject under the prefix; check the AWS credentials it runs with";

function s3Failure(step: string, store: LogStore, err: unknown): Failed {
  const name = (err as { name?: string }).name ?? "Error";
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const what = `cannot ${step} in ${store.url}: ${name === "Error" ? "" : name}${status ? ` (HTTP ${status})` : ""}${name === "Error" && !status ? "" : ": "}${errorText(err)}`;
  if (name === "NoSuchBucket") {
    const bucket = /^s3:\/\/([^/]+)/.exec(store.url)?.[1] ?? "";
    return new Failed(`bucket ${bucket} does not exist (${what})`, `create the bucket; ferry start tries to create it only when its credentials allow s3:CreateBucket`);
  }
  if (/AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden|ExpiredToken|InvalidToken/.test(name) || status === 403) {
    return new Failed(`not allowed to ${step} (${what})`, S3_PERMISSIONS_HINT);
  }
  if (status === undefined) return new Failed(what, "check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_REGION, and that this machine can reach the store");
  return new Failed(what, null);
}

/** Writes, lists, reads back and deletes one small object under the store's prefix, as Ferry does a chunk. */
async function probe(store: LogStore, isS3: boolean): Promise<void> {
  const key = { dagId: PROBE_DAG, runId: `probe-${randomBytes(6).toString("hex")}`, taskId: "probe", tryNumber: 1 };
  const data = Buffer.from(`ferry doctor ${new Date().toISOString()}\n`);
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isS3) throw s3Failure(name, store, err);
      throw new Failed(`cannot ${name} in ${store.url}: ${errorText(err)}`, null);
    }
  };
  await step("write", () => store.putChunk(key, 0, data));
  let failure: unknown;
  try {
    const listed = await step("list", () => store.listChunks(key));
    if (listed.length !== 1) throw new Failed(`wrote a probe object but listing found ${listed.length}`, null);
    const back = await step("read", () => store.getChunk(key, 0));
    if (!back.equals(data)) throw new Failed("read back a probe object different from the one written", null);
  } catch (err) {
    failure = err;
  }
  // Cleaned up even when reading failed; the first failure is the one reported.
  await step("delete", () => store.deleteRunLogs(key.dagId, key.runId)).catch((err: unknown) => (failure ??= err));
  if (failure !== undefined) throw failure;
}

async function checkLogStore(c: FerryConfig, timeoutMs: number): Promise<Passed> {
  const isS3 = c.logStoreUrl.startsWith("s3://");
  let store: LogStore;
  try {
    store = openLogStore(c.logStoreUrl, { s3: { clientConfig: { maxAttempts: 2, requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs } } } });
  } catch (err) {
    throw new Failed(errorText(err), "FERRY_LOG_STORE must be s3://bucket/prefix or file://path; FERRY_S3_FORCE_PATH_STYLE true or false");
  }
  try {
    if (store instanceof FileLogStore) {
      const ready = await folderState(store.root);
      if (ready !== null) return ready;
      await probe(store, false);
      // The probe's run folder is gone; its dag folder too unless another doctor is using it.
      await rmdir(path.join(store.root, PROBE_DAG)).catch(() => {});
      return { detail: `${store.url}: a probe file was written, read back and deleted` };
    }
    await probe(store, isS3);
    return { detail: `${store.url}: a probe object was written, listed, read back and deleted` };
  } finally {
    await (store as LogStore).close?.().catch(() => {});
  }
}

/** For a folder that does not exist yet: whether ferry start could make it (null: it exists, probe it). */
async function folderState(root: string): Promise<Passed | null> {
  try {
    const s = await stat(root);
    if (!s.isDirectory()) throw new Failed(`${root} is not a folder`, "point FERRY_LOG_STORE at a folder (file://path)");
    return null;
  } catch (err) {
    if (err instanceof Failed) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Failed(`cannot read ${root}: ${errorText(err)}`, null);
  }
  let parent = path.dirname(root);
  while (parent !== path.dirname(parent)) {
    if (await stat(parent).then(() => true, () => false)) break;
    parent = path.dirname(parent);
  }
  try {
    await access(parent, constants.W_OK);
  } catch {
    throw new Failed(`${root} does not exist, and ${parent} is not writable, so ferry start cannot create it`, `create ${root} writable by the user Ferry runs as`);
  }
  return { detail: `${root} does not exist yet; ferry start will create it (${parent} is writable)` };
}

// --- worker image --------------------------------------------------------------------------------

function checkWorkerImage(c: FerryConfig): Passed {
  const which = c.workerImage === DEFAULT_WORKER_IMAGE ? `the default, Ferry ${FERRY_VERSION}'s worker` : "FERRY_WORKER_IMAGE";
  const pull =
    c.kube === "local" ? "localkube runs the worker on this machine and pulls nothing" : "doctor cannot check that your nodes can pull it (registry access, imagePullSecrets)";
  return { detail: `${c.workerImage} (${which}); ${pull}` };
}

// --- the command ---------------------------------------------------------------------------------

export async function runDoctor(env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<CheckResult[]> {
  let config: FerryConfig;
  try {
    config = compileConfig(env, cwd);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const why = "the configuration does not parse";
    return [
      { id: "config", title: "configuration", status: "fail", detail: err.message, hint: "fix the variable named, as `ferry start` would ask (see the README's configuration table)" },
      ...[
        ["pod-template", "pod template"],
        ["postgres", "Postgres"],
        ["postgres-schema", "Postgres schema"],
        ["kubernetes", "Kubernetes API"],
        ["log-store", "log store"],
        ["worker-image", "worker image"],
      ].map(([id, title]) => skipped(id!, title!, why)),
    ];
  }
  const c = config;
  const results: CheckResult[] = [{ id: "config", title: "configuration", status: "ok", detail: configSummary(c), hint: null }];
  const template = c.podTemplatePath
    ? runCheck("pod-template", "pod template", timeoutMs, () => checkPodTemplate(c))
    : Promise.resolve(skipped("pod-template", "pod template", "FERRY_POD_TEMPLATE is not set"));

  const postgres = (async (): Promise<CheckResult[]> => {
    if (!c.databaseUrl) {
      const dir = path.join(c.dataDir, "postgres");
      return [
        skipped("postgres", "Postgres", `DATABASE_URL is not set: ferry start runs embedded Postgres in ${dir}`),
        skipped("postgres-schema", "Postgres schema", "embedded Postgres is migrated by ferry start"),
      ];
    }
    const reach = await runCheck("postgres", "Postgres", timeoutMs, () => checkPostgres(c.databaseUrl!, timeoutMs));
    if (reach.status === "fail") return [reach, skipped("postgres-schema", "Postgres schema", "Postgres is not reachable")];
    return [reach, await runCheck("postgres-schema", "Postgres schema", timeoutMs, () => checkSchema(c.databaseUrl!, timeoutMs))];
  })();

  const [t, db, kube, logs] = await Promise.all([
    template,
    postgres,
    kubeChecks(c, timeoutMs),
    runCheck("log-store", "log store", timeoutMs, () => checkLogStore(c, timeoutMs)),
  ]);
  results.push(t, ...db, ...kube, logs);
  results.push(await runCheck("worker-image", "worker image", timeoutMs, async () => checkWorkerImage(c)));
  return results;
}

const MARKS: Record<CheckStatus, { tty: string; plain: string }> = {
  ok: { tty: "✓", plain: "ok  " },
  fail: { tty: "✗", plain: "FAIL" },
  warn: { tty: "!", plain: "warn" },
  skip: { tty: "-", plain: "skip" },
};

/** One line per check (a further indented line for its hint), then a summary line. */
export function formatReport(results: CheckResult[], tty: boolean): string[] {
  const width = Math.max(...results.map((r) => r.title.length)) + 2;
  const indent = " ".repeat((tty ? 2 : 5) + width);
  const lines: string[] = [];
  for (const r of results) {
    const mark = tty ? MARKS[r.status].tty : MARKS[r.status].plain;
    const detail = (r.status === "skip" ? `skipped: ${r.detail}` : r.detail).replace(/\n/g, `\n${indent}`);
    lines.push(`${mark} ${r.title.padEnd(width)}${detail}`);
    if (r.hint && (r.status === "fail" || r.status === "warn")) lines.push(`${indent}hint: ${r.hint}`);
  }
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  const failed = count("fail");
  const parts = [`${count("ok")} ok`, `${failed} failed`, ...(count("warn") ? [`${count("warn")} to check by hand`] : []), `${count("skip")} skipped`];
  lines.push("", `${failed === 0 ? "ready" : "not ready"}: ${parts.join(", ")}`);
  return lines;
}

export async function doctor(args: ParsedArgs, out: Out): Promise<number> {
  const raw = text(args, "timeout");
  const seconds = raw === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(raw);
  if (!(seconds > 0) || seconds > 600) throw new UsageError(`--timeout must be a number of seconds from 0 to 600, got ${raw}`);
  const results = await runDoctor(process.env, process.cwd(), seconds * 1000);
  const ok = results.every((r) => r.status !== "fail");
  if (flag(args, "json")) out(JSON.stringify({ ok, version: FERRY_VERSION, checks: results }, null, 2));
  else for (const line of formatReport(results, process.stdout.isTTY === true)) out(line);
  return ok ? 0 : 1;
}
