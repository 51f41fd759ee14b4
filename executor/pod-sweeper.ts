// Removes Ferry-labelled Pods that no live try owns: Pods left by a database restore, by a create whose
// answer was lost after its try was given up, by someone running a Pod with Ferry's labels by hand, and
// failed Pods kept for debugging (FERRY_POD_DELETION=keepFailed) once their time is up. Pods without
// Ferry's label are never touched. Every executor sweeps; a Pod deleted twice is a 404, nothing more.
import type { Db } from "../db/db.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../lib/metrics.ts";
import { isNotFound, type Kube } from "./kube.ts";
import { POD_SELECTOR } from "./pod-names.ts";
import { unownedPods, type PodClaim } from "./tries.repository.ts";

export class PodSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  /** Pods removed since this process started (for its log and tests). */
  removed = 0;

  constructor(
    private readonly db: Db,
    private readonly kube: Kube,
    private readonly namespaces: readonly string[],
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly metrics?: Pick<Metrics, "orphanPods">,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((err) => this.log.warn("pod sweep failed; it runs again", { err }))
        .finally(() => (this.running = null));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass: lists Ferry's Pods, then asks Postgres which no try owns, and deletes those. */
  async sweep(): Promise<PodClaim[]> {
    const listed: PodClaim[] = [];
    for (const namespace of this.namespaces) {
      const pods = await this.kube.core.listNamespacedPod({ namespace, labelSelector: POD_SELECTOR });
      for (const p of pods.items) if (p.metadata?.name) listed.push({ namespace, podName: p.metadata.name });
    }
    const orphans = await unownedPods(this.db, listed);
    const deleted: PodClaim[] = [];
    for (const o of orphans) {
      try {
        await this.kube.core.deleteNamespacedPod({ name: o.podName, namespace: o.namespace, gracePeriodSeconds: 10 });
        deleted.push(o);
      } catch (err) {
        if (!isNotFound(err)) this.log.warn("could not delete a Pod no try owns; trying again next sweep", { pod: o.podName, namespace: o.namespace, err });
      }
    }
    if (deleted.length > 0) {
      this.removed += deleted.length;
      this.metrics?.orphanPods.inc(deleted.length);
      this.log.info("removed Pods no live try owns", { pods: deleted.map((d) => `${d.namespace}/${d.podName}`), count: deleted.length });
    }
    return deleted;
  }
}
