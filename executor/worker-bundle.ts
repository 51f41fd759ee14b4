// How a function task's worker gets its DAG version's bundle. A small bundle travels in the Pod's own
// environment (as Argo hands each Pod its template): the worker then opens no socket, holds no token
// and does not need the API to be up, and a Pod starts several milliseconds of CPU sooner. A bundle
// past FERRY_INLINE_BUNDLE_MAX_BYTES is fetched from the API with a token for that try only, so that
// large bundles do not swell every Pod object, its watch events and etcd.
import { LRUCache } from "lru-cache";
import type { Queryable } from "../db/db.ts";
import { workerTokenFor, type WorkerTry } from "../lib/tokens.ts";
import { getBundleIfAtMost } from "../scheduler/dags.repository.ts";

/** What the executor puts in a worker Pod so that it can get its bundle. */
export type WorkerBundle = { inline: string } | { apiUrl: string; token: string };

export interface WorkerBundleOptions {
  /** Bundles up to this many bytes go inline; 0 sends every worker to the API. */
  inlineMaxBytes: number;
  /** Resolved lazily: the API's own address is known only once it listens. */
  apiUrl: () => string;
  workerSecret: string;
}

/** How much of the small bundles the executor keeps in memory (versions never change once written). */
const CACHE_BYTES = 16 * 1024 * 1024;

/** A version's bundle when it may go inline, or null when it is too large (the worker fetches it). */
type Inlinable = { bundle: string | null };
type Lookup = { db: Queryable; dagId: string; version: number };

export class WorkerBundles {
  private readonly cache: LRUCache<string, Inlinable, Lookup>;

  constructor(private readonly o: WorkerBundleOptions) {
    this.cache = new LRUCache<string, Inlinable, Lookup>({
      maxSize: CACHE_BYTES,
      sizeCalculation: (v) => Math.max(1, v.bundle?.length ?? 0),
      // A burst of Pods of one version makes one query; an unknown version is not cached.
      fetchMethod: async (_key, _stale, { context: { db, dagId, version } }) => {
        const found = await getBundleIfAtMost(db, dagId, version, this.o.inlineMaxBytes);
        return found ? { bundle: found.bundle } : undefined;
      },
    });
  }

  /** For the try's worker Pod; a fetch token opens only the try's DAG version, only while the try lives. */
  async for(db: Queryable, t: WorkerTry): Promise<WorkerBundle> {
    if (this.o.inlineMaxBytes > 0) {
      const found = await this.cache.fetch(`${t.dagVersion}/${t.dagId}`, { context: { db, dagId: t.dagId, version: t.dagVersion } });
      if (found?.bundle != null) return { inline: found.bundle };
    }
    return { apiUrl: this.o.apiUrl(), token: workerTokenFor(this.o.workerSecret, t) };
  }
}
