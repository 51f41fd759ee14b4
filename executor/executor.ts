// The executor: claims scheduled tasks, creates one Pod per try, watches the Pods, ships their logs,
// records each outcome and only then deletes the Pod. Each try it holds is leased in Postgres; when an
// executor dies its leases run out and another executor adopts the tries, resuming log copies where the
// log store left off. The Kubernetes writes (create, delete) are all here.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import type { Db } from "../db/db.ts";
import { notifyWakeup, type Wakeup } from "../db/wakeup.ts";
import type { Logger } from "../lib/logger.ts";
import type { LogStore } from "../logstore/logstore.ts";
import type { TaskDefinition } from "../sdk/definition.ts";
import { DagDefinitionCache } from "../scheduler/dags.repository.ts";
import { workerTokenFor } from "../lib/tokens.ts";
import type { Kube } from "./kube.ts";
import { LogShipper, type ContainerState, type ShipResult } from "./log-shipper.ts";
import { POD_SELECTOR } from "./pod-names.ts";
import { assessPod, judgeTry } from "./pod-outcome.ts";
import { buildPod, TemplateRenderError } from "./pod-spec.ts";
import { PodControl } from "./pod-control.ts";
import { newHandle, observePod, type TryHandle } from "./try-handle.ts";
import { PodWatcher, type PodEvent } from "./pod-watcher.ts";
import { retryDelayMs } from "./retry-delay.ts";
import { TryAccount } from "./try-account.ts";
import { compileExecutorOptions, type CompiledExecutorOptions, type ExecutorOptions } from "./options.ts";
import {
  adoptTries,
  claimTasks,
  markLogDone,
  markReclaimed,
  markTryRunning,
  saveLogProgress,
  recordOutcome,
  releaseLeases,
  renewLeases,
  runResults,
  tryKey,
  unwantedTries,
  LeaseLostError,
  type ActiveTry,
  type TryOutcome,
} from "./tries.repository.ts";

export type { ExecutorOptions } from "./options.ts";

export class Executor {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  private readonly handles = new Map<string, TryHandle>();
  private readonly definitions: DagDefinitionCache;
  private readonly watcher: PodWatcher;
  private readonly pods: PodControl;
  private readonly account: TryAccount;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private lastRenew = 0;
  private readonly background = new Set<Promise<unknown>>();
  private readonly o: CompiledExecutorOptions;

  constructor(
    private readonly db: Db,
    private readonly kube: Kube,
    private readonly store: LogStore,
    private readonly wakeup: Wakeup,
    private readonly log: Logger,
    opts: ExecutorOptions,
  ) {
    this.o = compileExecutorOptions(opts);
    this.definitions = this.o.definitions;
    this.pods = new PodControl(kube, log);
    this.account = new TryAccount(db, kube, log, (p) => this.track(p));
    this.watcher = new PodWatcher(kube, (e) => this.onPodEvent(e), log.child("watch"), { labelSelector: POD_SELECTOR });
  }

  start(): void {
    this.watcher.start();
    this.loop ??= this.run();
  }

  /**
   * Stops work. The Pods keep running: what their logs printed so far is stored, and the tries are
   * handed back at once for the next executor to adopt (or, with releaseLeases false, left to expire
   * as if this process had died).
   */
  async stop(opts: { releaseLeases?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.wakeup.poke();
    await this.loop;
    await this.watcher.stop();
    for (const h of this.handles.values()) h.shipper?.stop();
    await this.settle();
    if (opts.releaseLeases === false) return;
    await releaseLeases(this.db, this.id).catch(() => {});
  }

  /** Waits for in-flight finalisations (tests and graceful shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  private track<T>(p: Promise<T>): void {
    const wrapped = p.catch((err) => {
      if (err instanceof LeaseLostError) {
        this.log.warn("another executor holds a try now; letting go of it", { err });
        const h = this.handles.get(err.podName);
        if (h) this.letGo(h);
        return;
      }
      this.log.error("executor step failed; it is retried", { err });
    });
    this.background.add(wrapped);
    void wrapped.finally(() => this.background.delete(wrapped));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.tick();
      } catch (err) {
        this.log.error("executor pass failed; retrying", { err });
      }
      if (!this.stopped) await this.wakeup.sleep(this.o.pollIntervalMs);
    }
  }

  async tick(): Promise<void> {
    const now = Date.now();
    if (now - this.lastRenew > this.o.leaseMs / 3) {
      let held: Set<string>;
      try {
        held = await renewLeases(this.db, this.id, this.o.leaseMs);
      } catch (err) {
        // Without a renewal our leases run out and another executor may adopt the tries: stop
        // touching them well before that, so two executors never ship one Pod's log.
        if (now - this.lastRenew > (this.o.leaseMs * 2) / 3) this.letGoOfAll("cannot renew leases");
        throw err;
      }
      this.lastRenew = now;
      for (const h of this.handles.values()) {
        // Our lease ran out and another executor took the try over: let go of it.
        if (!held.has(tryKey(h.t.taskInstanceId, h.t.tryNumber))) this.letGo(h);
      }
    }
    const room = () => this.o.maxRunningTasks - this.handles.size;
    for (const t of await adoptTries(this.db, this.id, Math.max(room(), 0), this.o.leaseMs)) {
      this.log.info("adopted try", { pod: t.podName, state: t.state });
      // A try that started has a Pod, or had one: look for it rather than create it again, so a Pod
      // that vanished is reported lost instead of silently running the task a second time.
      this.addHandle(t, t.state !== "queued");
      // Read its Pod now: the watch's listing came before this try was ours, and a Pod that has
      // finished sends no more events.
      if (t.state !== "queued") this.track(this.checkExists(this.handles.get(t.podName)!));
    }
    for (const t of await claimTasks(this.db, this.id, this.kube.namespace, Math.max(room(), 0), this.o.leaseMs)) {
      this.addHandle(t, false);
    }
    const live = [...this.handles.values()].filter((h) => !h.t.endedAt && !h.finalizing);
    const unwanted = await unwantedTries(this.db, live.map((h) => h.t));
    for (const h of live) {
      if (!unwanted.has(tryKey(h.t.taskInstanceId, h.t.tryNumber))) continue;
      if (!h.stopRequested) this.log.info("stopping try no longer wanted (cancelled or cleared)", { pod: h.t.podName });
      h.stopRequested = true;
      // Asked again on every pass until the API server has taken it.
      if (h.created && !h.stopIssued && !h.deleteIssued) this.track(this.pods.stop(h));
    }
    for (const h of this.handles.values()) this.track(this.progress(h));
  }

  private letGo(h: TryHandle): void {
    h.shipper?.stop();
    this.handles.delete(h.t.podName);
  }

  private letGoOfAll(why: string): void {
    if (this.handles.size > 0) this.log.warn(`letting go of every try: ${why}`, { tries: this.handles.size });
    for (const h of [...this.handles.values()]) this.letGo(h);
  }

  private addHandle(t: ActiveTry, created: boolean): void {
    if (!this.handles.has(t.podName)) this.handles.set(t.podName, newHandle(t, created));
  }

  private onPodEvent(e: PodEvent): void {
    if (e.type === "resync") {
      const names = new Set(e.pods.map((p) => p.metadata?.name));
      for (const pod of e.pods) this.onPodEvent({ type: "upsert", pod });
      // Pods we hold that the list no longer shows may have gone while no watch was open: check each.
      for (const h of this.handles.values()) {
        if (h.created && !names.has(h.t.podName)) this.track(this.checkExists(h));
      }
      return;
    }
    const h = this.handles.get(e.pod.metadata?.name ?? "");
    if (!h) return;
    observePod(h, e.pod);
    if (e.type === "deleted") h.gone = true;
    else h.created = true;
    h.shipper?.poke();
    this.track(this.progress(h));
  }

  private async checkExists(h: TryHandle): Promise<void> {
    await this.pods.read(h);
    await this.progress(h);
  }

  private containerState(h: TryHandle): ContainerState {
    if (h.gone) return "gone";
    if (!h.pod) return "waiting";
    const p = assessPod(h.pod, new Date(), this.o.pendingTimeoutMs);
    if (p.kind === "finished") return "finished";
    if (p.kind === "running") return "running";
    return "waiting";
  }

  private async taskOf(t: ActiveTry): Promise<TaskDefinition | null> {
    const def = await this.definitions.get(this.db, t.dagId, t.dagVersion);
    if (!def) return null;
    return def.tasks.find((x) => x.taskId === t.taskId) ?? null;
  }

  /** Moves one try along from what we know of its Pod. Safe to call any number of times. */
  private async progress(h: TryHandle): Promise<void> {
    if (this.stopped || h.finalizing || this.handles.get(h.t.podName) !== h) return;
    if (h.t.endedAt) return this.finishLog(h);
    if (!h.created && !h.pod && !h.gone) {
      if (!h.stopRequested) return this.ensurePod(h);
      if (h.creating) return; // the create's answer decides (ensurePod deletes the Pod if it was made)
      if (h.createAttempted && !(await this.pods.delete(h, 10))) return; // a lost answer: a Pod may exist
      if (h.deleteIssued) {
        h.created = true; // it did exist and is now stopping; its events finish the try
        return;
      }
      return this.finishWithoutPod(h, "cancelled", "Cancelled", "the task was cancelled before its Pod was created", false);
    }
    if (h.gone) return this.finalize(h);
    if (!h.pod) return;
    const progress = assessPod(h.pod, new Date(), this.o.pendingTimeoutMs);
    if (progress.kind === "running" || progress.kind === "finished") {
      this.startShipping(h);
      if (!h.markedRunning) {
        h.markedRunning = true;
        const startedAt = progress.kind === "running" ? progress.startedAt : progress.outcome.startedAt;
        try {
          if (await markTryRunning(this.db, this.id, h.t, startedAt ?? new Date())) await notifyWakeup(this.db, "tasks");
        } catch (err) {
          h.markedRunning = false; // try again on the next pass
          throw err;
        }
      }
    }
    if (progress.kind === "finished") return this.finalize(h);
    if (progress.kind === "stuck" && !h.stuck) {
      h.stuck = { reason: progress.reason, message: progress.message };
      this.log.warn("pod cannot start; failing its try", { pod: h.t.podName, ...h.stuck });
      await this.account.captureEvents(h);
    }
    // Its DELETED event then finalises the try with the reason it could not start.
    if (h.stuck && !h.deleteIssued) await this.pods.delete(h, 0);
  }

  private startShipping(h: TryHandle): void {
    if (h.shipping) return;
    h.shipper = new LogShipper(
      this.kube,
      this.store,
      { dagId: h.t.dagId, runId: h.t.runId, taskId: h.t.taskId, tryNumber: h.t.tryNumber },
      { namespace: h.t.namespace, podName: h.t.podName },
      () => this.containerState(h),
      this.log.child("logs"),
      {
        flushIntervalMs: this.o.logFlushIntervalMs,
        chunkBytes: this.o.logChunkBytes,
        drainTimeoutMs: this.o.logDrainTimeoutMs,
        checkpoint: h.t.logCheckpoint,
        saveProgress: (p) => saveLogProgress(this.db, this.id, h.t, p.bytes, p.checkpoint),
        note: (n) => this.account.note(h, n.type, n.reason, n.message),
      },
    );
    const shipping = h.shipper.run();
    h.shipping = shipping;
    // A failed start (the log store unreachable) must not wedge the try: the next pass starts anew.
    shipping.catch(() => {
      if (h.shipping === shipping) {
        h.shipping = null;
        h.shipper = null;
      }
    });
    this.track(shipping);
  }

  /** Creates the try's Pod (first time, or after adopting a try whose Pod was never created). */
  private async ensurePod(h: TryHandle): Promise<void> {
    if (Date.now() < h.nextCreateAt || h.stopRequested) return;
    h.nextCreateAt = Date.now() + 5000; // one attempt at a time; retried after a transient failure
    h.task ??= await this.taskOf(h.t);
    if (!h.task) return this.finishWithoutPod(h, "failed", "TaskNotFound", `task ${h.t.taskId} is not in DAG version ${h.t.dagVersion}`, false);
    let pod: V1Pod;
    try {
      const results = await runResults(this.db, h.t.runPk);
      pod = buildPod(
        h.task,
        {
          dagId: h.t.dagId,
          runId: h.t.runId,
          taskId: h.t.taskId,
          tryNumber: h.t.tryNumber,
          dagVersion: h.t.dagVersion,
          logicalDate: h.t.logicalDate.toISOString(),
          params: h.t.params,
          tasks: results,
        },
        {
          namespace: this.kube.namespace,
          workerImage: this.o.workerImage,
          workerApiUrl: this.o.workerApiUrl(),
          workerToken: workerTokenFor(this.o.workerSecret, h.t.dagId, h.t.dagVersion),
        },
      );
    } catch (err) {
      if (err instanceof TemplateRenderError) return this.finishWithoutPod(h, "failed", "TemplateError", err.message, false);
      throw err;
    }
    const created = await this.pods.create(h, pod);
    if (created.kind === "exists") return this.checkExists(h);
    if (created.kind === "retry") {
      h.nextCreateAt = Date.now() + created.afterMs;
      return;
    }
    if (created.kind === "refused") return this.finishWithoutPod(h, "failed", created.reason, created.message, true);
    // Cancelled while the create was on its way. Under load the Pod may have started (even finished)
    // before the answer came, so it is stopped like any other: deleted only if it never ran.
    if (h.stopRequested) await this.pods.stop(h);
    await this.progress(h);
  }

  private async finishWithoutPod(
    h: TryHandle,
    tryState: "failed" | "cancelled",
    reason: string,
    message: string,
    retryable: boolean,
  ): Promise<void> {
    if (h.finalizing) return;
    h.finalizing = true;
    try {
      if (!h.t.endedAt) {
        await this.record(h, { tryState, exitCode: null, reason, message, result: null, startedAt: null, logComplete: true, logBytes: 0, retryable });
      }
      await markReclaimed(this.db, this.id, h.t);
      this.handles.delete(h.t.podName);
    } finally {
      h.finalizing = false;
    }
  }

  private async record(h: TryHandle, o: Omit<TryOutcome, "retryAt">): Promise<void> {
    h.task ??= await this.taskOf(h.t);
    const retryAt = new Date(Date.now() + (h.task ? retryDelayMs(h.task, h.t.tryNumber) : 0));
    const state = await recordOutcome(this.db, this.id, h.t, { ...o, retryAt });
    h.t.endedAt = new Date();
    this.log.info(`try ended: ${o.tryState}`, { pod: h.t.podName, task: state, reason: o.reason, exitCode: o.exitCode });
    await notifyWakeup(this.db, "tasks");
  }

  /**
   * Once the Pod has finished (or is gone): records the outcome at once, so the run moves on, then
   * waits for the log copy to end and only then deletes the Pod.
   */
  private async finalize(h: TryHandle): Promise<void> {
    if (h.finalizing) return;
    h.finalizing = true;
    try {
      if (this.stopped) return; // shutting down: the adopting executor records the outcome
      const finished = h.pod && !h.stuck ? assessPod(h.pod, new Date(), this.o.pendingTimeoutMs) : null;
      const o = judgeTry({
        cancelled: h.stopRequested,
        pod: finished?.kind === "finished" ? finished.outcome : null,
        stuck: h.stuck,
        log: { complete: false, bytes: h.shipper?.bytesStored ?? 0 },
      });
      // Before the outcome: a reader sees the try end only once its Pod's own account is there.
      if (h.created || h.pod) await this.account.captureEvents(h);
      await this.record(h, o);
      this.account.ended(h, o);
    } finally {
      h.finalizing = false;
    }
    await this.finishLog(h);
  }

  /** Ends the try's log copy (resuming it if this executor adopted the try), then reclaims the Pod. */
  private async finishLog(h: TryHandle): Promise<void> {
    if (h.logDone) return this.reclaim(h);
    if (h.logFinishing) return;
    h.logFinishing = true;
    try {
      let shipped: ShipResult;
      if (h.t.logComplete) shipped = { complete: true, bytes: 0, problem: null };
      else if (!h.shipping && (h.gone || !this.ran(h) || h.stuck)) shipped = await this.storedSoFar(h);
      else {
        this.startShipping(h);
        shipped = await h.shipping!;
      }
      if (this.stopped || this.handles.get(h.t.podName) !== h) return;
      if (!h.t.logComplete) await markLogDone(this.db, this.id, h.t, shipped.complete, shipped.bytes);
      h.logDone = true;
    } finally {
      h.logFinishing = false;
    }
    await this.reclaim(h);
  }

  /** For a try whose copy never ran here: what earlier copies stored (its Pod never ran, or vanished). */
  private async storedSoFar(h: TryHandle): Promise<ShipResult> {
    const chunks = await this.store.listChunks({ dagId: h.t.dagId, runId: h.t.runId, taskId: h.t.taskId, tryNumber: h.t.tryNumber });
    const bytes = chunks.reduce((n, c) => n + c.bytes, 0);
    // A container that never ran printed nothing, so its (empty) log is whole.
    if (!this.ran(h) || h.stuck) return { complete: true, bytes, problem: null };
    const problem = "the Pod vanished before its log was copied to the end";
    this.account.note(h, "Warning", "LogIncomplete", `${problem}; ${bytes} bytes were stored`);
    return { complete: false, bytes, problem };
  }

  /** Whether the try's container started (seen here, or recorded by the executor before us). */
  private ran(h: TryHandle): boolean {
    return h.markedRunning || h.t.startedAt !== null;
  }

  /** Deletes a finished try's Pod (its log is safe by now) and lets go of the try. */
  private async reclaim(h: TryHandle): Promise<void> {
    if (h.finalizing) return;
    h.finalizing = true;
    try {
      if (!h.gone && !(await this.pods.delete(h, 0))) return; // retried on the next pass
      await markReclaimed(this.db, this.id, h.t);
      this.handles.delete(h.t.podName);
    } finally {
      h.finalizing = false;
    }
  }
}

