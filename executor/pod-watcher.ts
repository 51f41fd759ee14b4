// Keeps an up-to-date view of Ferry's Pods by list + watch, the way an informer does: list, watch from
// the list's resourceVersion, resume from the last seen version whenever the watch ends (client-node
// ends watches on its own timeouts, servers end them at will), re-list on 410 Expired, back off on errors.
// A periodic re-list is the backstop for anything a watch might have missed.
// A watchdog covers the watch that neither ends nor speaks: on a half-dead connection (a proxy or load
// balancer that dropped it without a word) a watch can stay open and bring nothing, and the executor
// would wait on Pods whose changes it never hears of. The watch asks for bookmarks, which a healthy API
// server sends now and then even when nothing changes; when neither an event nor a bookmark has come
// for the idle time (FERRY_KUBE_WATCH_IDLE_SECONDS), the watch is dropped and the Pods listed again.
import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "../lib/logger.ts";
import { kubeFailure, type Kube } from "./kube.ts";

export type PodEvent = { type: "upsert"; pod: V1Pod } | { type: "deleted"; pod: V1Pod } | { type: "resync"; namespace: string; pods: V1Pod[] };

export interface PodWatcherOptions {
  labelSelector: string;
  /** The namespace watched. @default kube.namespace */
  namespace?: string;
  /** Re-list at least this often even when the watch is healthy. @default 60000 */
  resyncMs?: number;
  /** Server-side bound on one watch request. @default 240 */
  watchTimeoutSeconds?: number;
  /** A watch silent (no event, no bookmark) this long is restarted with a re-list. @default kube.limits.watchIdleMs */
  idleMs?: number;
  /** Told each time the watch starts again, and why (for the metrics). */
  onRestart?: (reason: "ended" | "expired" | "silent" | "error") => void;
}

export class PodWatcher {
  private stopped = false;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private wakeSleep: (() => void) | null = null;

  constructor(
    private readonly kube: Kube,
    private readonly onEvent: (e: PodEvent) => void,
    private readonly log: Logger,
    private readonly opts: PodWatcherOptions,
  ) {}

  private get namespace(): string {
    return this.opts.namespace ?? this.kube.namespace;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wakeSleep?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleep = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleep = done;
    });
  }

  private async list(): Promise<string> {
    const pods: V1Pod[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.kube.core.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: this.opts.labelSelector,
        limit: 500,
        _continue: cont,
      });
      pods.push(...page.items);
      resourceVersion ||= page.metadata?.resourceVersion ?? "";
      cont = page.metadata?._continue || undefined;
    } while (cont);
    this.onEvent({ type: "resync", namespace: this.namespace, pods });
    return resourceVersion;
  }

  private async run(): Promise<void> {
    let backoffMs = 500;
    let resourceVersion: string | null = null;
    let listedAt = 0;
    const resyncMs = this.opts.resyncMs ?? 60_000;
    while (!this.stopped) {
      try {
        if (resourceVersion === null || Date.now() - listedAt > resyncMs) {
          resourceVersion = await this.list();
          listedAt = Date.now();
        }
        const outcome = await this.watchOnce(resourceVersion, (rv) => (resourceVersion = rv));
        // Events a silent watch held back are not coming: a list finds what changed meanwhile.
        if (outcome === "expired" || outcome === "silent") resourceVersion = null;
        if (!this.stopped) this.opts.onRestart?.(outcome);
        backoffMs = 500;
      } catch (err) {
        if (this.stopped) break;
        this.opts.onRestart?.("error");
        const f = kubeFailure(err);
        const waitMs = f.retryAfterMs ?? backoffMs;
        this.log.warn("pod list/watch failed; retrying", { code: f.code, message: f.message, retryInMs: waitMs });
        await this.sleep(waitMs);
        backoffMs = Math.min(backoffMs * 2, 30_000);
        resourceVersion = null;
      }
    }
  }

  /** One watch request; resolves when it ends for any reason, or when the watchdog gave up on it. */
  private watchOnce(fromVersion: string, onVersion: (rv: string) => void): Promise<"ended" | "expired" | "silent"> {
    return new Promise((resolve, reject) => {
      let expired = false;
      let silent = false;
      let settled = false;
      const idleMs = this.opts.idleMs ?? this.kube.limits.watchIdleMs;
      let watchdog: NodeJS.Timeout | undefined;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.abort = null;
        if (err && !expired && !silent && !this.stopped && !isAbort(err)) reject(err);
        else resolve(silent ? "silent" : expired ? "expired" : "ended");
      };
      const heardFrom = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          silent = true;
          this.log.warn("pod watch silent, not even a bookmark; restarting it with a list", { silentForMs: idleMs });
          // Not connected yet: the abort comes when the connection does (below), or its setup times out.
          const controller = this.abort;
          finish();
          controller?.abort();
        }, idleMs);
      };
      heardFrom();
      this.kube.watch
        .watch(
          `/api/v1/namespaces/${this.namespace}/pods`,
          {
            labelSelector: this.opts.labelSelector,
            resourceVersion: fromVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.opts.watchTimeoutSeconds ?? 240,
          },
          (type: string, obj: Record<string, unknown>) => {
            if (settled) return;
            heardFrom();
            if (type === "ERROR") {
              // 410 Expired (or Gone): our version fell out of the server's history; re-list.
              if ((obj as { code?: number }).code === 410) expired = true;
              this.abort?.abort();
              return;
            }
            // Bookmarks carry only a resourceVersion: where to resume from.
            const rv = (obj as V1Pod).metadata?.resourceVersion;
            if (rv) onVersion(rv);
            if (type === "ADDED" || type === "MODIFIED") this.onEvent({ type: "upsert", pod: obj as V1Pod });
            else if (type === "DELETED") this.onEvent({ type: "deleted", pod: obj as V1Pod });
          },
          (err: unknown) => finish(err),
        )
        .then((controller) => {
          this.abort = controller;
          if (this.stopped || settled) controller.abort();
        }, finish);
    });
  }
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || /aborted/i.test(err.message));
}
