// `ferry doctor`: checks, before the first `ferry start` on a cluster, what that start needs: the
// configuration it would read, Postgres and its schema, the Kubernetes API with the namespaces and RBAC
// Ferry uses, the log store, the worker image. It reads the same environment and goes through the same
// clients as `ferry start` (compileConfig, connectKube, openLogStore, loadMigrations), so a check that
// passes here passes there, and it changes nothing: it migrates nothing, creates no bucket, namespace
// or folder, and removes the one probe object it writes.
import { randomBytes } from "node:crypto";
import { access, constants, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import * as k8s from "@kubernetes/client-node";
import pg from "pg";
import { compileConfig, ConfigError, DEFAULT_WORKER_IMAGE, FERRY_VERSION, type FerryConfig } from "../config/config.ts";
import { loadMigrations } from "../db/migrate.ts";
import { connectKube, kubeFailure, type Kube } from "../executor/kube.ts";
import { guardedHttpLibrary } from "../executor/kube-http.ts";
import { describePermission, FERRY_PERMISSIONS, splitResource } from "../executor/permissions.ts";
import { loadPodTemplate } from "../executor/pod-template.ts";
import { silentLogger } from "../lib/logger.ts";
import { TokenBucket } from "../lib/token-bucket.ts";
import { FileLogStore, openLogStore, type LogStore } from "../logstore/index.ts";
import { flag, text, UsageError, type ParsedArgs } from "./args.ts";

type Out = (line: string) => void;

/** warn: something doctor could not decide, which does not fail the run (exit 0). */
export type CheckStatus = "ok" | "fail" | "warn" | "skip";

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found (ok, warn), why it failed (fail), or why it did not run (skip). */
  detail: string;
  /** For a failure or a warning: what to do about it. */
  hint: string | null;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;

/** A check's failure with the reason and the hint to print. */
class Failed extends Error {
  constructor(
    message: string,
    readonly hint: string | null = null,
  ) {
    super(message);
  }
}

interface Passed {
  detail: string;
  status?: "ok" | "warn";
  hint?: string;
}

class TimedOut extends Error {}

/**
 * Runs one check under its deadline. Every client below has a timeout of its own as well (pg's connect,
 * the Kubernetes client's request deadline, the S3 handler's); this one is the backstop that keeps a
 * check from hanging on anything they do not cover.
 */
async function runCheck(id: string, title: string, timeoutMs: number, fn: () => Promise<Passed>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut()), timeoutMs);
    timer.unref();
  });
  try {
    const r = await Promise.race([fn(), deadline]);
    return { id, title, status: r.status ?? "ok", detail: r.detail, hint: r.hint ?? null };
  } catch (err) {
    if (err instanceof TimedOut) {
      return { id, title, status: "fail", detail: `no answer within ${timeoutMs / 1000} s`, hint: "check that this machine can reach it (address, port, firewall); --timeout gives it longer" };
    }
    if (err instanceof Failed) return { id, title, status: "fail", detail: err.message, hint: err.hint };
    return { id, title, status: "fail", detail: errorText(err), hint: null };
  } finally {
    clearTimeout(timer);
  }
}

const skipped = (id: string, title: string, why: string): CheckResult => ({ id, title, status: "skip", detail: why, hint: null });

/** Node's connection errors to a name with several addresses are AggregateErrors with no message. */
function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] } | undefined;
  if (e?.message) return e.message;
  if (e?.errors?.length) return errorText(e.errors[0]);
  return e?.code ?? String(err);
}

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

// --- Kubernetes ----------------------------------------------------------------------------------

type ApiClass<T> = new (configuration: ReturnType<typeof k8s.createConfiguration>) => T;

/**
 * Another API of the same client (version, authorization), built as executor/kube.ts builds CoreV1Api:
 * the same KubeConfig (credentials, TLS, connection setup deadline) and the same guarded HTTP layer.
 */
function apiOf<T>(kube: Kube, Api: ApiClass<T>): T {
  return new Api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(kube.config.getCurrentCluster()!.server, {}),
      authMethods: { default: kube.config },
      httpApi: guardedHttpLibrary({ writeLimiter: new TokenBucket(50, 100), requestTimeoutMs: kube.limits.requestTimeoutMs, log: silentLogger }),
      middleware: [k8s.setHeaderMiddleware("User-Agent", `ferry/${FERRY_VERSION}`)],
    }),
  );
}

function connect(c: FerryConfig, timeoutMs: number): Kube {
  const source = c.kube === "in-cluster" ? ({ kind: "in-cluster" } as const) : ({ kind: "kubeconfig-file", path: c.kubeconfigPath } as const);
  try {
    return connectKube(source, c.taskNamespace, { requestTimeoutMs: timeoutMs });
  } catch (err) {
    throw new Failed(
      c.kube === "in-cluster" ? `cannot load the in-cluster configuration: ${errorText(err)}` : `cannot load the kubeconfig ${c.kubeconfigPath ?? "(the default: ~/.kube/config)"}: ${errorText(err)}`,
      c.kube === "in-cluster" ? "FERRY_KUBE=in-cluster works inside a Pod only; elsewhere use FERRY_KUBE=kubeconfig" : "set KUBECONFIG to a readable kubeconfig whose current context is the cluster Ferry should use",
    );
  }
}

function kubeHint(code: number, server: string): string | null {
  if (code === 0) return `is ${server} reachable from here? (the kubeconfig's current cluster)`;
  if (code === 401) return "the credentials were refused: check the kubeconfig's user (token, certificate, exec plugin)";
  if (code === 403) return "the identity Ferry uses is not allowed to do this";
  return null;
}

async function checkApiServer(kube: Kube): Promise<Passed> {
  const server = kube.config.getCurrentCluster()!.server;
  try {
    const v = await apiOf(kube, k8s.VersionApi).getCode();
    return { detail: `Kubernetes ${v.gitVersion} at ${server}` };
  } catch (err) {
    const f = kubeFailure(err);
    throw new Failed(`${server}: ${f.code ? `HTTP ${f.code}: ` : ""}${f.message}`, kubeHint(f.code, server));
  }
}

async function checkNamespace(kube: Kube, name: string, c: FerryConfig): Promise<Passed> {
  const role = name === c.taskNamespace ? "FERRY_TASK_NAMESPACE" : "FERRY_ALLOWED_NAMESPACES";
  let ns: k8s.V1Namespace;
  try {
    ns = await kube.core.readNamespace({ name });
  } catch (err) {
    const f = kubeFailure(err);
    if (f.code === 404) throw new Failed(`namespace ${name} (${role}) does not exist`, `create it (kubectl create namespace ${name}), or name an existing one in ${role}`);
    // Ferry's Role does not grant reading namespaces (it does not need to); the RBAC check still runs.
    if (f.code === 403) {
      return {
        status: "warn",
        detail: `cannot tell whether namespace ${name} exists: reading namespaces is forbidden to this identity (Ferry does not need it)`,
        hint: `check it with an account that may: kubectl get namespace ${name}`,
      };
    }
    throw new Failed(`${f.code ? `HTTP ${f.code}: ` : ""}${f.message}`, kubeHint(f.code, kube.config.getCurrentCluster()!.server));
  }
  const phase = ns.status?.phase ?? "Active";
  if (phase !== "Active") throw new Failed(`namespace ${name} is ${phase}`, "it is being deleted: wait for it to go, then create it again");
  return { detail: `namespace ${name} exists` };
}

/** Asks the server, for each permission of executor/permissions.ts, whether the current identity has it there. */
async function checkRbac(kube: Kube, namespace: string): Promise<Passed> {
  const auth = apiOf(kube, k8s.AuthorizationV1Api);
  const answers = await Promise.all(
    FERRY_PERMISSIONS.map(async (p) => {
      const review = await auth
        .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, group: p.group, verb: p.verb, ...splitResource(p.resource) } } } })
        .catch((err: unknown) => {
          const f = kubeFailure(err);
          throw new Failed(`cannot ask the server (SelfSubjectAccessReview): ${f.code ? `HTTP ${f.code}: ` : ""}${f.message}`, kubeHint(f.code, kube.config.getCurrentCluster()!.server));
        });
      return { p, allowed: review.status?.allowed === true };
    }),
  );
  const refused = answers.filter((a) => !a.allowed);
  if (refused.length > 0) {
    throw new Failed(
      `not allowed in ${namespace}: ${refused.map((a) => `${describePermission(a.p)} (to ${a.p.why})`).join("; ")}`,
      `apply deploy/kubernetes/rbac.yaml's Role and RoleBinding in namespace ${namespace}, bound to the identity Ferry runs as`,
    );
  }
  const byResource = new Map<string, string[]>();
  for (const p of FERRY_PERMISSIONS) byResource.set(p.resource, [...(byResource.get(p.resource) ?? []), p.verb]);
  return { detail: `allowed in ${namespace}: ${[...byResource].map(([r, verbs]) => `${r} ${verbs.join(", ")}`).join("; ")}` };
}

async function kubeChecks(c: FerryConfig, timeoutMs: number): Promise<CheckResult[]> {
  const namespaces = [c.taskNamespace, ...c.allowedNamespaces.filter((n) => n !== c.taskNamespace)];
  if (c.kube === "local") {
    // Nothing here can be wrong: ferry start runs localkube itself, with these namespaces, and localkube
    // allows every request. Starting one only to ask it would check localkube, not the setup.
    return [
      skipped(
        "kubernetes",
        "Kubernetes API",
        `FERRY_KUBE=local: ferry start runs localkube, which creates namespace(s) ${namespaces.join(", ")} and allows every request`,
      ),
    ];
  }
  let kube: Kube | undefined;
  const api = await runCheck("kubernetes", "Kubernetes API", timeoutMs, async () => {
    kube = connect(c, timeoutMs);
    return checkApiServer(kube);
  });
  const results = [api];
  const nsResults = await Promise.all(
    namespaces.map(async (name) => {
      if (api.status === "fail") {
        return [skipped(`namespace:${name}`, `namespace ${name}`, "the Kubernetes API check failed"), skipped(`rbac:${name}`, `RBAC in ${name}`, "the Kubernetes API check failed")];
      }
      const ns = await runCheck(`namespace:${name}`, `namespace ${name}`, timeoutMs, () => checkNamespace(kube!, name, c));
      const rbac =
        ns.status === "fail" ? skipped(`rbac:${name}`, `RBAC in ${name}`, `namespace ${name} check failed`) : await runCheck(`rbac:${name}`, `RBAC in ${name}`, timeoutMs, () => checkRbac(kube!, name));
      return [ns, rbac];
    }),
  );
  return results.concat(nsResults.flat());
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
