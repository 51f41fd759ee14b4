// Logs in S3 (or MinIO, or anything speaking the S3 API). Configuration is the AWS SDK's own: region,
// endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) and credentials come from its default chains, so
// the same env vars as every other AWS tool work. Ferry adds only FERRY_S3_FORCE_PATH_STYLE.
//
// Checksums: the SDK (>= 3.729) adds a CRC32 checksum to every PutObject by default. Our bodies are
// Buffers, so it goes in a plain x-amz-checksum-crc32 header (no aws-chunked trailer), which AWS, MinIO
// and s3rver (which just ignores it) all accept; we therefore keep the SDK default. A store that
// rejects those headers can be served with the SDK's standard AWS_REQUEST_CHECKSUM_CALCULATION=
// WHEN_REQUIRED / AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED, no Ferry change needed.
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
  type CreateBucketCommandInput,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { LogChunkNotFoundError } from "./errors.ts";
import type { LogStore, StoredChunk, TryLogKey } from "./logstore.ts";
import { chunkName, parseChunkName, runPath, tryPath } from "./paths.ts";

export interface S3LogStoreOptions {
  /** Extra client settings, applied over the defaults (region, endpoint, credentials, ...). */
  clientConfig?: S3ClientConfig;
  /** Keys per ListObjectsV2 page when deleting a run's logs (S3's own cap is 1000). @default 1000 */
  deleteListPageSize?: number;
  /** Where FERRY_S3_FORCE_PATH_STYLE and the endpoint variables are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface S3Location {
  bucket: string;
  /** Without leading or trailing '/'; "" for the bucket's root. */
  prefix: string;
}

/** `s3://bucket/some/prefix` → { bucket, prefix: "some/prefix" } */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/?#]+)(\/[^?#]*)?$/i.exec(url);
  if (!m) throw new Error(`log store: ${JSON.stringify(url)} is not an s3://bucket/prefix URL`);
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

/**
 * Path-style addressing (http://host/bucket/key) is what MinIO, s3rver and most self-hosted stores
 * need, since their buckets have no DNS names; AWS itself wants virtual-hosted style. So: path style
 * whenever a custom endpoint is configured, unless FERRY_S3_FORCE_PATH_STYLE says otherwise.
 */
export function s3ForcePathStyle(env: NodeJS.ProcessEnv, clientConfig?: S3ClientConfig): boolean {
  const forced = env.FERRY_S3_FORCE_PATH_STYLE?.trim().toLowerCase();
  if (forced === "true" || forced === "1") return true;
  if (forced === "false" || forced === "0") return false;
  if (forced) throw new Error(`FERRY_S3_FORCE_PATH_STYLE must be true or false, got ${JSON.stringify(forced)}`);
  if (clientConfig?.forcePathStyle !== undefined) return clientConfig.forcePathStyle;
  return Boolean(clientConfig?.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
}

export class S3LogStore implements LogStore {
  readonly url: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly deleteListPageSize: number;

  constructor(url: string, opts: S3LogStoreOptions = {}) {
    const { bucket, prefix } = parseS3Url(url);
    this.deleteListPageSize = Math.min(Math.max(1, opts.deleteListPageSize ?? 1000), 1000);
    this.bucket = bucket;
    this.prefix = prefix;
    this.url = prefix ? `s3://${bucket}/${prefix}` : `s3://${bucket}`;
    const env = opts.env ?? process.env;
    this.client = new S3Client({ ...opts.clientConfig, forcePathStyle: s3ForcePathStyle(env, opts.clientConfig) });
  }

  async init(): Promise<void> {
    if (await this.bucketExists()) return;
    const input: CreateBucketCommandInput = { Bucket: this.bucket };
    const region = await this.client.config.region();
    // us-east-1 is the one region that must not be named as a location constraint.
    if (region && region !== "us-east-1") input.CreateBucketConfiguration = { LocationConstraint: region as BucketLocationConstraint };
    try {
      await this.client.send(new CreateBucketCommand(input));
    } catch (err) {
      const name = errorName(err);
      if (name === "BucketAlreadyOwnedByYou") return;
      // Another Ferry process created it between our HEAD and CREATE (some stores answer
      // BucketAlreadyExists or OperationAborted to that, not only to foreign owners): if we can
      // reach it now, it is ours to use.
      if (name === "BucketAlreadyExists" || name === "OperationAborted") {
        for (let i = 0; i < 5; i++) {
          if (await this.bucketExists().catch(() => false)) return;
          await new Promise((r) => setTimeout(r, 200 * (i + 1)));
        }
        throw new Error(`log store: bucket ${this.bucket} exists but is not accessible (owned by another account?)`, {
          cause: err,
        });
      }
      throw new Error(`log store: cannot create bucket ${this.bucket}: ${describe(err)}`, { cause: err });
    }
  }

  async putChunk(key: TryLogKey, seq: number, data: Buffer): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: `${this.tryPrefix(key)}${chunkName(seq)}`,
        Body: data,
        ContentLength: data.length,
        ContentType: "text/plain; charset=utf-8",
      }),
    );
  }

  async listChunks(key: TryLogKey): Promise<StoredChunk[]> {
    const prefix = this.tryPrefix(key);
    const chunks: StoredChunk[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const obj of page.Contents ?? []) {
        const seq = obj.Key === undefined ? undefined : parseChunkName(obj.Key.slice(prefix.length));
        if (seq !== undefined) chunks.push({ seq, bytes: obj.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    // S3 lists in key order, which is seq order thanks to the fixed width; sort anyway so a
    // store with looser ordering cannot scramble a log.
    return chunks.sort((a, b) => a.seq - b.seq);
  }

  async getChunk(key: TryLogKey, seq: number): Promise<Buffer> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: `${this.tryPrefix(key)}${chunkName(seq)}` }),
      );
      if (!res.Body) return Buffer.alloc(0);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      if (errorName(err) === "NoSuchKey") throw new LogChunkNotFoundError(key, seq, { cause: err });
      throw err;
    }
  }

  async deleteRunLogs(dagId: string, runId: string): Promise<void> {
    // The trailing '/' keeps run "r1" from matching the keys of run "r10".
    const prefix = `${this.prefix ? `${this.prefix}/` : ""}${runPath(dagId, runId)}/`;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: this.deleteListPageSize }),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      // A page holds at most 1000 keys, which is also DeleteObjects' limit; slicing keeps that true
      // with a store that pages more generously.
      for (let at = 0; at < keys.length; at += 1000) {
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.slice(at, at + 1000), Quiet: true } }),
        );
        // DeleteObjects answers 200 even when some keys failed; those are listed here. A log left
        // behind must fail the call, or its run's rows would go while the log stays.
        const failed = res.Errors ?? [];
        if (failed.length > 0) {
          const first = failed[0];
          throw new Error(
            `log store: could not delete ${failed.length} log object(s) of ${dagId}/${runId}, e.g. ${first.Key}: ${first.Code ?? "Error"} ${first.Message ?? ""}`.trim(),
          );
        }
      }
      // Continuing from the token is safe after deleting the page: it resumes after the last key listed.
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** `<prefix>/<dag>/<run>/<task>/<try>/` */
  private tryPrefix(key: TryLogKey): string {
    return `${this.prefix ? `${this.prefix}/` : ""}${tryPath(key)}/`;
  }

  private async bucketExists(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (err) {
      if (errorName(err) === "NotFound" || errorName(err) === "NoSuchBucket" || httpStatus(err) === 404) return false;
      throw new Error(`log store: cannot reach bucket ${this.bucket}: ${describe(err)}`, { cause: err });
    }
  }
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function describe(err: unknown): string {
  const status = httpStatus(err);
  return `${errorName(err) ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${(err as Error)?.message ?? String(err)}`;
}
