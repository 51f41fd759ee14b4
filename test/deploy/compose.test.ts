// docker-compose.yml: valid against the Compose Specification's JSON schema (compose-spec's
// schema/compose-spec.json, as the `dclint` package ships it in schemas/compose.schema.json), every
// pulled image pinned to a version, and Ferry wired to the services it needs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { splitImage } from "./kustomize.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(import.meta.url);

type Json = Record<string, any>;

function composeSchema(): Json {
  const dclint = path.dirname(require.resolve("dclint/package.json"));
  const schema = JSON.parse(readFileSync(path.join(dclint, "schemas/compose.schema.json"), "utf8")) as Json;
  assert.equal(schema.title, "Compose Specification");
  // The file names its meta-schema as https://json-schema.org/draft-07/schema, which is draft-07, the
  // meta-schema Ajv uses by default; Ajv only knows it under its http:// id.
  delete schema.$schema;
  return schema;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateCompose = ajv.compile(composeSchema());

function composeProblems(doc: unknown): string[] {
  return validateCompose(doc) ? [] : (validateCompose.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
}

const composeText = readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");
const compose = parse(composeText, { uniqueKeys: true }) as Json;
const services = compose.services as Record<string, Json>;

/** A pulled image pinned to a version: a tag naming at least major.minor (not `latest`, not a floating major like `16`), or a digest. */
function pinned(image: string): boolean {
  const { tag, digest } = splitImage(image);
  if (digest !== null) return /^sha256:[0-9a-f]{64}$/.test(digest);
  return tag !== null && tag !== "latest" && /\d+\.\d+/.test(tag);
}

function environment(service: Json): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries((env as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  return env as Record<string, string>;
}

describe("docker-compose.yml", () => {
  it("is valid against the Compose Specification schema", () => {
    assert.deepEqual(composeProblems(compose), []);
  });

  it("the schema check rejects a broken file", () => {
    const broken = structuredClone(compose);
    broken.services.s3.imagee = broken.services.s3.image;
    broken.services.postgres.volumes = "postgres-data:/var/lib/postgresql/data";
    broken.services.ferry.depends_on.s3.condition = "service_ready";
    const problems = composeProblems(broken).join("\n");
    assert.match(problems, /\/services\/s3 must NOT have additional properties .*imagee/);
    assert.match(problems, /\/services\/postgres\/volumes must be array/);
    assert.match(problems, /\/services\/ferry\/depends_on\/s3\/condition must be equal to one of the allowed values/);
  });

  it("pins every image it pulls to a version (no latest, no bare name)", () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build !== undefined) continue; // built here: `image` names the result, nothing is pulled
      assert.equal(typeof service.image, "string", `${name} has an image`);
      assert.ok(pinned(service.image), `${name}: ${service.image} is not pinned to a version`);
    }
    assert.doesNotMatch(composeText, /minio\//i, "MinIO's images are no longer published");
    for (const bad of ["minio/minio:latest", "minio/mc", "postgres", "postgres:16", "localhost:5000/x", "x:dev"]) assert.equal(pinned(bad), false, bad);
    for (const good of ["postgres:16.13", "chrislusf/seaweedfs:4.48", `x@sha256:${"0".repeat(64)}`]) assert.equal(pinned(good), true, good);
  });

  it("wires Ferry to Postgres and to the S3 store, whose bucket it creates", () => {
    const ferry = environment(services.ferry);
    // Ferry waits until each other service is healthy, and each has a healthcheck to say so.
    for (const name of Object.keys(services).filter((n) => n !== "ferry")) {
      assert.equal(services.ferry.depends_on?.[name]?.condition, "service_healthy", `ferry waits for ${name}`);
      assert.ok(services[name].healthcheck?.test, `${name} has a healthcheck`);
    }
    const db = new URL(ferry.DATABASE_URL);
    const pg = environment(services.postgres);
    assert.ok(db.hostname in services);
    assert.deepEqual([db.username, db.password, db.pathname.slice(1)], [pg.POSTGRES_USER, pg.POSTGRES_PASSWORD, pg.POSTGRES_DB]);

    const endpoint = new URL(ferry.AWS_ENDPOINT_URL_S3);
    const store = services[endpoint.hostname];
    assert.ok(store, `AWS_ENDPOINT_URL_S3 names a service (${endpoint.hostname})`);
    const s3 = environment(store);
    assert.ok((store.ports as string[]).some((p) => p.endsWith(`:${endpoint.port}`)), "the endpoint's port is the store's S3 port");
    assert.deepEqual([ferry.AWS_ACCESS_KEY_ID, ferry.AWS_SECRET_ACCESS_KEY], [s3.AWS_ACCESS_KEY_ID, s3.AWS_SECRET_ACCESS_KEY], "Ferry uses the store's credentials");
    assert.equal(new URL(ferry.FERRY_LOG_STORE).hostname, s3.S3_BUCKET, "the store creates the bucket Ferry writes to");
    assert.equal(ferry.FERRY_S3_FORCE_PATH_STYLE, "true");
  });
});
