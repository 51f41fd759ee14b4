// The executor: claims scheduled tasks, creates one Pod per try, watches the Pods, ships their logs,
// records each outcome and only then deletes the Pod. Each try it holds is leased in Postgres; when an
// executor dies its leases run out and another executor adopts the tries, resuming log copies where the
// log store left off. The Kubernetes writes (create, delete) are all here.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import type { Db } from "../db/db.ts";
import { notifyWakeup, type Wakeup } from "../db/wakeup.ts";
import { Heartbeat, stuckAfterMsFor } from "../lib/heartbeat.ts";
import type { Logger } from "../lib/logger.ts";
import type { LogStore } from "../logstore/logstore.ts";
import type { TaskDefinition } from "../sdk/definition.ts";
import { DagDefinitionCache } from "../scheduler/dags.repository.ts";
import type { Kube } from "./kube.ts";
import { LogShipper, type ContainerState, type ShipResult } from "./log-shipper.ts";
import { POD_SELECTOR } from "./pod-names.ts";
import { assessPod, judgeTry, type TryVerdict } from "./pod-outcome.ts";
import { buildPod, TemplateRenderError } from "./pod-spec.ts";
import { PodControl, type CreateOutcome, type PodRef, type StopOutcome } from "./pod-control.ts";
import { newHandle, observePod, podGone, situationOf, timeoutOf, type TryHandle } from "./try-handle.ts";
import { nextStep, type TryStep } from "./try-step.ts";
import { PodSweeper } from "./pod-sweeper.ts";
import { PodWatcher, type PodEvent } from "./pod-watcher.ts";
import { DEFAULT_INFRA_RETRIES, retryDelayMs } from "./retry-policy.ts";
import { TryAccount } from "./try-account.ts";
import { WorkerBundles } from "./worker-bundle.ts";
import type { TryEventInput } from "./try-events.repository.ts";
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
  createInputs,
  tryKey,
  unwantedTries,
  LeaseLostError,
  type ActiveTry,
} from "./tries.repository.ts";

export type { ExecutorOptions } from "./options.ts";

export class Executor {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  private readonly handles = new Map<string, TryHandle>();
  private readonly definitions: DagDefinitionCache;
  /** One per namespace the executor runs Pods in. */
  private readonly watchers: PodWatcher[];
  private readonly pods: PodControl;
  private readonly account: TryAccount;
  private readonly sweeper: PodSweeper;
  private readonly bundles: WorkerBundles;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private lastRenew = 0;
  private readonly background = new Set<Promise<unknown>>();
  private readonly o: CompiledExecutorOptions;
  /** When the loop last completed a pass (app/ferry.ts hands it to /healthz). */
  readonly heartbeat: Heartbeat;

  constructor(
    private readonly db: Db,
    private readonly kube: Kube,
    private readonly store: LogStore,
    private readonly wakeup: Wakeup,
    private readonly log: Logger,
    opts: ExecutorOptions,
  ) {
    this.o = compileExecutorOptions(opts);
    this.heartbeat = new Heartbeat(stuckAfterMsFor(this.o.pollIntervalMs));
    this.definitions = this.o.definitions;
    this.bundles = new WorkerBundles({ inlineMaxBytes: this.o.inlineBundleMaxBytes, apiUrl: this.o.workerApiUrl, workerSecret: this.o.workerSecret });
    this.pods = new PodControl(kube, log);
    this.account = new TryAccount(db, kube, log, (p) => this.track(p));
    const namespaces = [...new Set([kube.namespace, ...this.o.extraNamespaces])];
    const onRestart = (reason: string) => this.o.metrics.watchRestarts.inc({ reason });
    this.watchers = namespaces.map((namespace) => new PodWatcher(kube, (e) => this.onPodEvent(e), log.child("watch"), { labelSelector: POD_SELECTOR, namespace, onRestart }));
    this.sweeper = new PodSweeper(db, kube, namespaces, log.child("sweeper"), this.o.sweepIntervalMs, this.o.metrics);
  }

  start(): void {
    for (const w of this.watchers) w.start();
    this.sweeper.start();
    this.heartbeat.started();
    this.loop ??= this.run();
  }

  /**
   * Stops work. The Pods keep running: what their logs printed so far is stored, and the tries are
   * handed back at once for the next executor to adopt (or, with releaseLeases false, left to expire
   * as if this process had died).
   */
  async stop(opts: { releaseLeases?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.heartbeat.stopped();
    this.wakeup.poke();
    await this.loop;
    await this.sweeper.stop();
    await Promise.all(this.watchers.map((w) => w.stop()));
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
      // A failed pass beats too: the loop is not stuck, it moves on (a Postgres outage is /readyz's).
      this.heartbeat.beat();
      // Leases are renewed in tick(): never sleep so long that they could run out meanwhile.
      if (!this.stopped) await this.wakeup.sleep(Math.min(this.o.pollIntervalMs, this.o.leaseMs / 3));
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
      this.o.metrics.adoptions.inc();
      this.addHandle(t, "adopted"); // its first step reads its Pod, if it has one
    }
    for (const t of await claimTasks(this.db, this.id, this.kube.namespace, Math.max(room(), 0), this.o.leaseMs, this.o.parallelism)) {
      if (t.scheduledAt && t.claimedAt) this.o.metrics.queueWait.observe(seconds(t.claimedAt.getTime() - t.scheduledAt.getTime()));
      this.addHandle(t, "claimed");
    }
    const live = [...this.handles.values()].filter((h) => h.phase !== "ended" && h.phase !== "logSafe");
    const unwanted = await unwantedTries(this.db, live.map((h) => h.t));
    for (const h of live) {
      if (!unwanted.has(tryKey(h.t.taskInstanceId, h.t.tryNumber)) || h.stopRequested) continue;
      this.log.info("stopping try no longer wanted (cancelled or cleared)", { pod: h.t.podName });
      h.stopRequested = true;
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

  private addHandle(t: ActiveTry, origin: "claimed" | "adopted"): void {
    if (!this.handles.has(t.podName)) this.handles.set(t.podName, newHandle(t, origin));
  }

  private onPodEvent(e: PodEvent): void {
    if (e.type === "resync") {
      const names = new Set(e.pods.map((p) => p.metadata?.name));
      for (const pod of e.pods) this.onPodEvent({ type: "upsert", pod });
      // Pods we hold that the list no longer shows may have gone while no watch was open: check each.
      for (const h of this.handles.values()) {
        if (h.t.namespace !== e.namespace || h.phase === "unborn" || h.phase === "createSent" || h.gone) continue;
        if (!names.has(h.t.podName)) this.track(this.checkExists(h));
      }
      return;
    }
    const h = this.handles.get(e.pod.metadata?.name ?? "");
    if (!h || h.t.namespace !== e.pod.metadata?.namespace) return;
    observePod(h, e.pod);
    if (e.type === "deleted") podGone(h);
    this.track(this.progress(h));
  }

  /** Reads a Pod a re-list no longer shows (it may have gone while no watch was open). */
  private async checkExists(h: TryHandle): Promise<void> {
    await this.readPod(h);
    await this.progress(h);
  }

  private async readPod(h: TryHandle): Promise<void> {
    const read = await this.pods.read(podRef(h));
    if (read.kind === "found") observePod(h, read.pod);
    if (read.kind === "absent") podGone(h);
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

  /**
   * Moves one try along: takes the steps nextStep names until it says wait. Safe to call any number of
   * times from anywhere; the steps of one try never overlap, and a call made while a step is being
   * taken decides again once it is done.
   */
  private async progress(h: TryHandle): Promise<void> {
    if (h.busy) {
      h.again = true;
      return;
    }
    h.busy = true;
    try {
      // A step that could not be taken now (the API server busy, the store down) is not retried in
      // this call: the next event or pass asks again.
      const taken = new Set<TryStep["kind"]>();
      for (;;) {
        h.again = false;
        if (this.stopped || this.handles.get(h.t.podName) !== h) return;
        const step = nextStep(situationOf(h, new Date(), this.o));
        if (step.kind === "wait" || taken.has(step.kind)) return;
        taken.add(step.kind);
        await this.take(h, step);
      }
    } finally {
      h.busy = false;
      if (h.again) this.track(this.progress(h));
    }
  }

  private async take(h: TryHandle, step: TryStep): Promise<void> {
    switch (step.kind) {
      case "wait":
        return;
      case "create":
        return this.create(h);
      case "endCancelledUnborn":
        return this.endWithoutPod(h, "cancelled", "Cancelled", "the task was cancelled before its Pod was created", false);
      case "endRefused": {
        const refusal = h.createRefusal!;
        return this.endWithoutPod(h, "failed", refusal.reason, refusal.message, true);
      }
      case "deleteUnseen": {
        const deleted = await this.pods.delete(podRef(h), 10);
        if (deleted === "later" || h.phase !== "createSent") return;
        if (deleted === "deleted") {
          // It did exist and is now stopping: its events finish the try.
          h.deleteIssued = true;
          h.phase = "live";
        } else h.phase = "unborn"; // there was none: the try ends without one
        return;
      }
      case "readPod":
        h.task ??= await this.taskOf(h.t); // an adopted try: its timeout is the task's
        return this.readPod(h);
      case "startLogCopy":
        return this.startLogCopy(h);
      case "recordRunning": {
        const p = assessPod(h.pod!, new Date(), this.o.pendingTimeoutMs);
        const startedAt = p.kind === "running" ? p.startedAt : p.kind === "finished" ? p.outcome.startedAt : null;
        if (await markTryRunning(this.db, this.id, h.t, startedAt ?? new Date())) await notifyWakeup(this.db, "tasks");
        h.runningRecorded = true;
        if (h.t.claimedAt) this.o.metrics.podStart.observe(seconds((startedAt ?? new Date()).getTime() - h.t.claimedAt.getTime()));
        return;
      }
      case "stopPod":
        return this.applyDelete(h, await this.pods.stop(podRef(h), h.pod!));
      case "stopOverdue": {
        const timeoutMs = timeoutOf(h) ?? 0;
        this.log.warn("pod ran past its timeout and the cluster did not end it; stopping it", { pod: h.t.podName, timeoutMs });
        const stopped = await this.pods.stop(podRef(h), h.pod!);
        if (stopped === "later") return;
        h.timedOut = { atMs: Date.now(), timeoutMs };
        this.account.note(h, "Warning", "DeadlineExceeded", `the container ran past its timeout of ${Math.round(timeoutMs / 1000)} s; Ferry stopped it`);
        return this.applyDelete(h, stopped);
      }
      case "killOverdue":
        this.log.warn("pod still running after Ferry stopped it for its timeout; deleting it", { pod: h.t.podName });
        return this.applyDelete(h, await this.pods.delete(podRef(h), 10));
      case "noteStuck": {
        const p = assessPod(h.pod!, new Date(), this.o.pendingTimeoutMs);
        if (p.kind !== "stuck") return;
        h.stuck = { reason: p.reason, message: p.message, fatal: p.fatal };
        this.log.warn("pod cannot start; failing its try", { pod: h.t.podName, ...h.stuck });
        return this.account.captureEvents(h);
      }
      case "deleteStuck":
        return this.applyDelete(h, await this.pods.delete(podRef(h), 0));
      case "recordOutcome":
        return this.recordOutcome(h);
      case "countStoredLog":
        h.shipped = await this.storedSoFar(h);
        return;
      case "recordLogDone":
        if (!h.t.logComplete) await markLogDone(this.db, this.id, h.t, h.shipped!.complete, h.shipped!.bytes);
        if (h.t.endedAt) this.o.metrics.logLag.observe(seconds(Date.now() - h.t.endedAt.getTime()));
        h.phase = "logSafe";
        return;
      case "reclaim":
        return this.reclaim(h);
    }
  }

  /** What the API server's answer to a stop or delete tells about the try's Pod. */
  private applyDelete(h: TryHandle, outcome: StopOutcome): void {
    if (outcome === "deleted") h.deleteIssued = true;
    if (outcome === "deadlineLowered" || outcome === "alreadyEnded") h.stopIssued = true;
    if (outcome === "absent") podGone(h);
  }

  private startLogCopy(h: TryHandle): void {
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
        metrics: this.o.metrics,
        note: (n) => this.account.note(h, n.type, n.reason, n.message),
      },
    );
    const shipping = h.shipper.run();
    h.shipping = shipping;
    shipping.then(
      (result) => {
        if (h.shipping !== shipping) return;
        h.shipped = result;
        this.track(this.progress(h));
      },
      // A failed start (the log store unreachable) must not wedge the try: a later pass starts anew.
      () => {
        if (h.shipping !== shipping) return;
        h.shipping = null;
        h.shipper = null;
      },
    );
    this.track(shipping);
  }

  /**
   * Builds the try's Pod and sends its create. The answer is applied when it comes, while the try goes
   * on: under load the watch often shows the Pod running, even finished, before the create is answered.
   */
  private async create(h: TryHandle): Promise<void> {
    h.nextCreateAt = Date.now() + 5000; // one attempt at a time; retried after a transient failure
    h.task ??= await this.taskOf(h.t);
    if (!h.task) return this.endWithoutPod(h, "failed", "TaskNotFound", `task ${h.t.taskId} is not in DAG version ${h.t.dagVersion}`, false);
    const { results, upstreamEnd } = await createInputs(this.db, h.t.runPk, h.task.dependsOn);
    const { taskInstanceId, tryNumber, dagId, dagVersion } = h.t;
    const workerBundle = h.task.kind === "function" ? await this.bundles.for(this.db, { taskInstanceId, tryNumber, dagId, dagVersion }) : undefined;
    let pod: V1Pod;
    try {
      pod = buildPod(
        h.task,
        {
          dagId: h.t.dagId,
          runId: h.t.runId,
          taskId: h.t.taskId,
          tryNumber: h.t.tryNumber,
          dagVersion: h.t.dagVersion,
          logicalDate: h.t.logicalDate.toISOString(),
          dataIntervalStart: (h.t.dataIntervalStart ?? h.t.logicalDate).toISOString(),
          dataIntervalEnd: (h.t.dataIntervalEnd ?? h.t.logicalDate).toISOString(),
          params: h.t.params,
          tasks: results,
        },
        {
          namespace: h.t.namespace,
          workerImage: this.o.workerImage,
          workerBundle,
          template: this.o.podTemplate,
        },
      );
    } catch (err) {
      if (err instanceof TemplateRenderError) return this.endWithoutPod(h, "failed", "TemplateError", err.message, false);
      throw err;
    }
    if (upstreamEnd) this.o.metrics.dependencyHop.observe(seconds(Date.now() - upstreamEnd.getTime()));
    h.creating = true;
    if (h.phase === "unborn") h.phase = "createSent";
    this.track(this.sendCreate(h, pod));
  }

  private async sendCreate(h: TryHandle, pod: V1Pod): Promise<void> {
    let answer: CreateOutcome;
    try {
      answer = await this.pods.create(podRef(h), pod);
    } finally {
      h.creating = false;
    }
    if (answer.kind === "created") {
      observePod(h, answer.pod);
      this.o.metrics.podsCreated.inc();
    }
    if (answer.kind === "exists" && h.phase === "createSent") h.phase = "live"; // and it is read
    if (answer.kind === "retry") h.nextCreateAt = Date.now() + answer.afterMs;
    if (answer.kind === "refused") h.createRefusal = { reason: answer.reason, message: answer.message };
    await this.progress(h);
  }

  private async endWithoutPod(
    h: TryHandle,
    tryState: "failed" | "cancelled",
    reason: string,
    message: string,
    retryable: boolean,
  ): Promise<void> {
    if (!h.t.endedAt) {
      await this.record(h, { tryState, exitCode: null, reason, message, result: null, startedAt: null, logComplete: true, logBytes: 0, retryable, infra: false });
    }
    await markReclaimed(this.db, this.id, h.t);
    this.handles.delete(h.t.podName);
  }

  private async record(h: TryHandle, o: TryVerdict, endNote?: TryEventInput): Promise<void> {
    h.task ??= await this.taskOf(h.t);
    const rules = {
      retryDelayMs: h.task ? retryDelayMs(h.task, h.t.tryNumber) : 0,
      infraRetries: h.task?.infraRetries ?? DEFAULT_INFRA_RETRIES,
      infraRetryDelayMs: this.o.infraRetryDelayMs,
    };
    const state = await recordOutcome(this.db, this.id, h.t, o, rules, endNote);
    h.t.endedAt = new Date();
    h.t.state = o.tryState;
    if (o.startedAt) this.o.metrics.tryDuration.observe({ state: o.tryState }, seconds(h.t.endedAt.getTime() - o.startedAt.getTime()));
    if (o.tryState === "failed") this.o.metrics.triesFailed.inc({ reason: o.reason ?? "Unknown", infra: String(o.infra) });
    this.log.info(`try ended: ${o.tryState}`, { pod: h.t.podName, task: state, reason: o.reason, exitCode: o.exitCode, infra: o.infra });
    await notifyWakeup(this.db, "tasks");
  }

  /**
   * The Pod finished or is gone: records the outcome at once, so the run moves on; the log copy is
   * finished after, and the Pod deleted only then.
   */
  private async recordOutcome(h: TryHandle): Promise<void> {
    const seen = h.pod ? assessPod(h.pod, new Date(), this.o.pendingTimeoutMs) : null;
    const o = judgeTry({
      cancelled: h.stopRequested,
      pod: seen?.kind === "finished" ? seen.outcome : null,
      stuck: h.stuck,
      timedOut: h.timedOut,
      log: { complete: false, bytes: h.shipper?.bytesStored ?? 0 },
    });
    // Before the outcome: a reader sees the try end only once its Pod's own account is there.
    await this.account.captureEvents(h);
    await this.record(h, o, TryAccount.endNote(o));
    h.phase = "ended";
  }

  /** For a try whose copy never ran here: what earlier copies stored (its Pod never ran, or vanished). */
  private async storedSoFar(h: TryHandle): Promise<ShipResult> {
    const chunks = await this.store.listChunks({ dagId: h.t.dagId, runId: h.t.runId, taskId: h.t.taskId, tryNumber: h.t.tryNumber });
    const bytes = chunks.reduce((n, c) => n + c.bytes, 0);
    // A container that never ran printed nothing, so its (empty) log is whole.
    if (!h.runningRecorded) return { complete: true, bytes, problem: null };
    const problem = "the Pod vanished before its log was copied to the end";
    this.account.note(h, "Warning", "LogIncomplete", `${problem}; ${bytes} bytes were stored`);
    return { complete: false, bytes, problem };
  }

  /**
   * Deletes a finished try's Pod (its log is safe by now) and lets go of the try; under keepFailed a
   * failed try's Pod is kept for debugging instead, and swept once its time is up.
   */
  private async reclaim(h: TryHandle): Promise<void> {
    const policy = (await this.definitions.get(this.db, h.t.dagId, h.t.dagVersion))?.podDeletion ?? this.o.podDeletion;
    const keep = !h.gone && policy === "keepFailed" && h.t.state === "failed";
    if (!h.gone && !keep) {
      const deleted = await this.pods.delete(podRef(h), 0);
      if (deleted === "later") return; // asked again on the next pass
    }
    const keptUntil = keep ? new Date(Date.now() + this.o.keepFailedPodsMs) : null;
    await markReclaimed(this.db, this.id, h.t, keptUntil);
    if (keptUntil) {
      this.account.note(h, "Normal", "PodKept", `the failed try's Pod ${h.t.namespace}/${h.t.podName} is kept for debugging until ${keptUntil.toISOString()} (podDeletion: keepFailed)`);
    }
    this.handles.delete(h.t.podName);
  }
}

const seconds = (ms: number) => Math.max(0, ms) / 1000;

function podRef(h: TryHandle): PodRef {
  return { namespace: h.t.namespace, name: h.t.podName };
}
