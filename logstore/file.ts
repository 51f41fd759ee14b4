// The embedded default: a try's chunks are files in a folder, laid out exactly like the S3 keys, so
// `cat <root>/<dag>/<run>/<task>/<try>/*.log` reads a log without Ferry.
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { LogChunkNotFoundError } from "./errors.ts";
import type { LogStore, StoredChunk, TryLogKey } from "./logstore.ts";
import { chunkName, parseChunkName, runPath, tryPath } from "./paths.ts";

export class FileLogStore implements LogStore {
  readonly url: string;
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  async putChunk(key: TryLogKey, seq: number, data: Buffer): Promise<void> {
    const dir = this.dirOf(key);
    const final = path.join(dir, chunkName(seq));
    // The temp name never matches parseChunkName, so a reader listing the folder ignores it, and the
    // rename makes the chunk appear whole or not at all.
    const temp = path.join(dir, `.${chunkName(seq)}.${randomBytes(6).toString("hex")}.tmp`);
    await mkdir(dir, { recursive: true });
    const fh = await open(temp, "w", 0o644);
    try {
      await fh.writeFile(data);
      // Logs are data: make the bytes durable before the name points at them.
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    await fh.close();
    try {
      await rename(temp, final);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }

  async listChunks(key: TryLogKey): Promise<StoredChunk[]> {
    const dir = this.dirOf(key);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const chunks: StoredChunk[] = [];
    for (const name of names) {
      const seq = parseChunkName(name);
      if (seq === undefined) continue;
      try {
        chunks.push({ seq, bytes: (await stat(path.join(dir, name))).size });
      } catch (err) {
        if (!isNotFound(err)) throw err; // removed between readdir and stat: not there any more
      }
    }
    return chunks.sort((a, b) => a.seq - b.seq);
  }

  async getChunk(key: TryLogKey, seq: number): Promise<Buffer> {
    try {
      return await readFile(path.join(this.dirOf(key), chunkName(seq)));
    } catch (err) {
      if (isNotFound(err)) throw new LogChunkNotFoundError(key, seq, { cause: err });
      throw err;
    }
  }

  async deleteRunLogs(dagId: string, runId: string): Promise<void> {
    // The dag folder stays even when this was its last run: removing it could race a putChunk of
    // another run of the same DAG between its mkdir and its open.
    await rm(path.join(this.root, ...runPath(dagId, runId).split("/")), { recursive: true, force: true });
  }

  private dirOf(key: TryLogKey): string {
    return path.join(this.root, ...tryPath(key).split("/"));
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}
