// The "kubelet": takes pods the scheduler bound to the node and runs their containers as host processes
// (or, in instant mode, as scripted results): the init containers in order, each to completion, the
// sidecars (init containers with restartPolicy Always) beside what follows them, then the main
// container; once it ends, the sidecars are stopped. Before each container it "pulls" the image and
// makes the container's config (its environment, from the Secrets and ConfigMaps stored here). Every
// status transition is its own store write, driven by real process events (spawn, exit) rather than
// timers. It also carries out graceful deletion, activeDeadlineSeconds, memory limits, and the
// node-level faults (eviction, node loss; see disruption.ts for their status shapes).

import type { ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { configRefusal, imageRefusal } from "./container-checks.ts";
import type { EventRecorder, EventSource, PodEventSpec } from "./events.ts";
import type { Faults } from "./faults.ts";
import { pullLoop } from "./imagepull.ts";
import { instantScript } from "./instant.ts";
import type { LogFile, LogLimits } from "./logs.ts";
import { MemoryWatcher } from "./oom.ts";
import { containerEnv } from "./podenv.ts";
import {
  initContainers,
  isSidecar,
  isTerminal,
  markCreating,
  markFinished,
  markInitFailed,
  markInitRunning,
  markInitTerminated,
  markPodFailed,
  markRunning,
  markTerminated,
  markWaiting,
  rfc3339,
  NODE_NAME,
  type Termination,
} from "./podstatus.ts";
import { ensureMountTarget, expandVars, killGroup, resolveExecutable, spawnContainer, type MessageIsolation, type SpawnSpec } from "./process.ts";
import { parseQuantity, quantityBytes } from "./quantity.ts";
import { createContainerRun, createRun, readHead, refOf, updatePodRef, MAX_MESSAGE, type ContainerRole, type ContainerRun, type Ref, type Run } from "./run.ts";
import { Scheduler } from "./scheduler.ts";
import type { KObject, Store, StoreEvent } from "./store.ts";

export { refOf, type Ref, type Run } from "./run.ts";

const CONFIG_RETRY_MAX_MS = 30_000;

export interface RuntimeOptions {
  root: string; // <dataDir>/localkube
  workerImage: string;
  workerCommand: string[];
  isolation: MessageIsolation;
  log: (msg: string) => void;
  faults: Faults;
  events: EventRecorder;
  instant: boolean;
  logLimits: LogLimits;
}

export class Runtime {
  readonly runs = new Map<string, Run>();
  readonly scheduler: Scheduler;
  private unsubscribe: () => void;
  private closed = false;
  private readonly shell = resolveExecutable("sh", process.env.PATH);
  private readonly memory = new MemoryWatcher();

  constructor(readonly store: Store, private readonly opts: RuntimeOptions) {
    mkdirSync(join(opts.root, "pods"), { recursive: true });
    this.scheduler = new Scheduler(store, opts.faults, opts.events, (pod) => this.accept(refOf(pod)));
    this.unsubscribe = store.subscribe((ev) => ev.resource === "pods" && this.onEvent(ev));
  }

  get memoryLimitsEnforced(): boolean {
    return this.memory.enabled;
  }

  /** The log of one of a pod's containers, if the runtime has started (or tried to start) it. */
  logsFor(uid: string, container: string): LogFile | undefined {
    return this.runs.get(uid)?.containers.get(container)?.logs;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.scheduler.close();
    this.memory.close();
    const waits: Promise<void>[] = [];
    for (const run of this.runs.values()) {
      this.clearPrep(run);
      run.timers.forEach(clearTimeout);
      for (const c of run.containers.values()) {
        const child = c.child;
        if (!child || c.closed) continue;
        waits.push(new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("close", () => resolve()))));
        killGroup(child.pid, "SIGKILL");
      }
    }
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const run of this.runs.values()) {
      for (const c of run.containers.values()) c.logs.end();
      run.resolveDone();
      rmSync(run.dir, { recursive: true, force: true });
    }
    this.runs.clear();
  }

  /** An event about the pod; `container` names the container it is about (true: the main one; false: none). */
  event(pod: KObject, e: Omit<PodEventSpec, "source" | "fieldPath">, container: boolean | string = true, source: EventSource = "kubelet"): void {
    const name = container === true ? pod.spec.containers[0].name : container;
    const field = name === false ? undefined : initContainers(pod).some((c) => c.name === name) ? `spec.initContainers{${name}}` : `spec.containers{${name}}`;
    this.opts.events.record(pod, { ...e, source, fieldPath: field });
  }

  private onEvent(ev: StoreEvent): void {
    if (this.closed) return;
    const pod = ev.object;
    const uid: string = pod.metadata.uid;
    if (ev.type === "ADDED") {
      // Deferred so the create's own ADDED reaches every watcher before the first status write.
      // A pod created with spec.nodeName skips the scheduler, as on a real cluster; one naming
      // another node stays Pending forever (no kubelet of that name exists).
      if (!pod.spec.nodeName) setImmediate(() => !this.closed && this.scheduler.schedule(refOf(pod)));
      else if (pod.spec.nodeName === NODE_NAME) setImmediate(() => this.accept(refOf(pod)));
      return;
    }
    const run = this.runs.get(uid);
    if (ev.type === "DELETED") {
      if (!run) return;
      run.removed = true;
      run.stopping = true;
      this.clearPrep(run);
      if (this.pending(run).length > 0) this.killAll(run, "SIGKILL");
      else this.forget(run);
      return;
    }
    if (pod.metadata.deletionTimestamp) this.terminate(pod, run, Number(pod.metadata.deletionGracePeriodSeconds ?? 0));
    // A running pod's activeDeadlineSeconds may be lowered (clients use it to stop a pod but keep it):
    // arm the new deadline; the earlier one, now later, finds the pod already stopped.
    else if (run?.deadlineArmed && ev.prev && ev.prev.spec?.activeDeadlineSeconds !== pod.spec.activeDeadlineSeconds) this.armDeadline(run, pod);
  }

  current(ref: Ref): KObject | undefined {
    const pod = this.store.get("pods", ref.namespace, ref.name);
    return pod?.metadata.uid === ref.uid ? pod : undefined;
  }

  update(ref: Ref, fn: (o: KObject) => void): KObject | undefined {
    return updatePodRef(this.store, ref, fn);
  }

  /** Containers whose process (or scripted run) has not closed yet. */
  pending(run: Run): ContainerRun[] {
    return [...run.containers.values()].filter((c) => !c.closed);
  }

  /** Stops everything the pod runs now (node faults): nothing more starts, every process is signalled. */
  killAll(run: Run, signal: NodeJS.Signals): void {
    run.stopping = true;
    this.clearPrep(run);
    for (const c of run.containers.values()) if (!c.exit) this.signal(run, c, signal);
  }

  /** Gives up on a pod that runs nothing (its first container was still being made ready): no status is written. */
  abandon(run: Run): void {
    run.stopping = true;
    this.clearPrep(run);
    run.finished = true;
    run.resolveDone();
  }

  private clearPrep(run: Run): void {
    run.prep.forEach(clearTimeout);
    run.prep.clear();
  }

  /** The kubelet has the pod: it makes its containers ready and starts them, one after another. */
  private accept(ref: Ref): void {
    if (this.closed) return;
    const cur = this.current(ref);
    if (!cur || this.runs.has(ref.uid)) return;
    if (cur.metadata.deletionTimestamp) {
      this.store.remove("pods", ref.namespace, ref.name);
      return;
    }
    const pod = this.update(ref, markCreating);
    if (!pod) return;
    const run = createRun(this.opts.root, pod);
    this.runs.set(ref.uid, run);
    this.prepareNext(run, this.opts.faults.podStartDelayMs);
  }

  /** Whether this run may still start containers. */
  private active(run: Run): boolean {
    return !this.closed && !run.stopping && !run.removed && !run.finished && this.runs.get(run.uid) === run;
  }

  /**
   * The next container, as the kubelet takes it: its image (refused, or pulled), then, after the start
   * delay (the first container only), its config, then the process.
   */
  private prepareNext(run: Run, delayMs: number): void {
    const pod = this.current(run);
    if (!pod || !this.active(run)) return;
    const init = initContainers(pod);
    const inInit = run.nextInit < init.length;
    const spec = inInit ? init[run.nextInit] : pod.spec.containers[0];
    const role: ContainerRole = inInit ? (isSidecar(spec) ? "sidecar" : "init") : "main";
    const image: string = spec.image;
    const refusal = imageRefusal(spec, (img) => !this.opts.faults.imagePullFails(img));
    if (refusal) {
      // It waits as the kubelet leaves it: the same reason until the Pod is deleted.
      this.update(run, (o) => markWaiting(o, refusal.reason, refusal.message, spec.name));
      this.event(pod, { type: "Warning", reason: refusal.reason, message: `Error: ${refusal.message}` }, spec.name);
      return;
    }
    const proceed = () => {
      const go = () => this.active(run) && this.configure(run, spec, role, 1000);
      if (delayMs > 0) run.prep.add(setTimeout(go, delayMs));
      else go();
    };
    if (this.opts.faults.imagePullFails(image) || spec.imagePullPolicy === "Always") {
      pullLoop(image, {
        fails: () => this.opts.faults.imagePullFails(image),
        waiting: (reason, message) => this.active(run) && !!this.update(run, (o) => markWaiting(o, reason, message, spec.name)),
        event: (e) => {
          const p = this.current(run);
          if (p) this.event(p, e, spec.name);
        },
        pulled: proceed,
        timer: (t) => run.prep.add(t),
      });
    } else {
      this.event(pod, { type: "Normal", reason: "Pulled", message: `Container image "${image}" already present on machine` }, spec.name);
      proceed();
    }
  }

  /**
   * Makes the container's config (its environment; its user). What the kubelet cannot make waits as
   * CreateContainerConfigError and is tried again, with back-off: a Secret created meanwhile lets it start.
   */
  private configure(run: Run, spec: any, role: ContainerRole, retryMs: number): void {
    const pod = this.current(run);
    if (!pod || !this.active(run)) return;
    const env = containerEnv(pod, spec, (resource, name) => this.store.get(resource, run.namespace, name));
    const refusal = configRefusal(pod, spec, "error" in env ? env.error : undefined);
    if (refusal) {
      const { reason, message } = refusal;
      const status = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])].find((cs: any) => cs.name === spec.name);
      const w = status?.state?.waiting;
      if (w?.reason !== reason || w?.message !== message) this.update(run, (o) => markWaiting(o, reason, message, spec.name));
      this.event(pod, { type: "Warning", reason: "Failed", message: `Error: ${message}` }, spec.name);
      run.prep.add(setTimeout(() => this.configure(run, spec, role, Math.min(retryMs * 2, CONFIG_RETRY_MAX_MS)), retryMs));
      return;
    }
    if ("error" in env) return; // reported above: configRefusal turns every env error into a refusal
    this.start(run, pod, spec, role, env.env);
  }

  private start(run: Run, pod: KObject, spec: any, role: ContainerRole, env: Record<string, string>): void {
    const c = createContainerRun(run, spec.name, role, this.opts.logLimits);
    if (this.opts.instant) return this.startInstant(run, pod, c);

    const isWorker = spec.image === this.opts.workerImage;
    const expand = (xs: unknown) => (Array.isArray(xs) ? xs.map((x) => expandVars(String(x), env)) : []);
    let argv: string[];
    if (isWorker) argv = [...this.opts.workerCommand, ...expand(spec.args)];
    else if (!Array.isArray(spec.command) || spec.command.length === 0)
      return this.startError(run, c, `localkube runs containers as host processes and cannot run image "${spec.image}" by itself: container "${spec.name}" needs a "command" (the image's entrypoint is not used)`);
    else argv = [...expand(spec.command), ...expand(spec.args)];
    const exe = resolveExecutable(argv[0], env.PATH);
    if (!exe)
      return this.startError(run, c, `failed to create containerd task: exec: "${argv[0]}": executable file not found in $PATH (localkube runs container commands on the host)`);
    argv[0] = exe;

    const proc: SpawnSpec = { argv, env, cwd: join(run.dir, "work") };
    const target: string = spec.terminationMessagePath || "/dev/termination-log";
    const iso = this.opts.isolation;
    if (iso.mode === "mount-namespace" && ensureMountTarget(target)) proc.messageBind = { hostFile: c.messageFile, target, tools: iso };
    else {
      env.FERRY_TERMINATION_MESSAGE_PATH = c.messageFile;
      proc.sh = this.shell;
    }

    let child: ChildProcess;
    try {
      child = spawnContainer(proc);
    } catch (err) {
      return this.startError(run, c, `failed to start container process: ${(err as Error).message}`);
    }
    c.child = child;
    child.stdout!.on("data", (d: Buffer) => c.logs.write("stdout", d));
    child.stderr!.on("data", (d: Buffer) => c.logs.write("stderr", d));
    child.once("spawn", () => {
      this.started(run, pod, c);
      const limit = parseQuantity(spec.resources?.limits?.memory);
      if (limit && child.pid)
        c.stopMemoryWatch = this.memory.watch(child.pid, quantityBytes(limit), () => {
          c.override = { reason: "OOMKilled" };
          killGroup(child.pid, "SIGKILL");
        });
      // A delete or stop that arrived while we were starting still has to stop the process.
      const cur = this.store.get("pods", run.namespace, run.name);
      if (run.removed) killGroup(child.pid, "SIGKILL");
      else if (run.stopping) this.sigterm(run, cur ?? pod, c);
      else if (cur?.metadata.deletionTimestamp) this.terminate(cur, run, Number(cur.metadata.deletionGracePeriodSeconds ?? 0));
    });
    child.once("error", (err) => {
      if (!c.startedAt && !c.exit) this.startError(run, c, `failed to start container process: ${err.message}`);
    });
    child.once("exit", (code, signal) => {
      c.exit = { code, signal };
      c.stopMemoryWatch?.();
      // Like a container whose init died: everything left in the group goes too, so the pipes close.
      killGroup(child.pid, "SIGKILL");
      const t = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 2000);
      run.timers.add(t);
    });
    child.once("close", () => this.closedContainer(run, c));
  }

  /** Created + Started events and the running write, shared by processes and instant mode. */
  private started(run: Run, pod: KObject, c: ContainerRun): void {
    c.startedAt = rfc3339();
    this.event(pod, { type: "Normal", reason: "Created", message: `Created container ${c.name}` }, c.name);
    this.event(pod, { type: "Normal", reason: "Started", message: `Started container ${c.name}` }, c.name);
    const p =
      c.role === "main"
        ? this.update(run, (o) => markRunning(o, c.containerID, c.startedAt!))
        : this.update(run, (o) => markInitRunning(o, c.name, c.containerID, c.startedAt!));
    // activeDeadlineSeconds counts from the pod's start, init containers included.
    if (p && !run.deadlineArmed) {
      run.deadlineArmed = true;
      this.armDeadline(run, p);
    }
    // A sidecar runs on beside what comes next (it has no startup probe here: it is started at once).
    if (c.role === "sidecar") {
      run.nextInit += 1;
      this.prepareNext(run, 0);
    }
  }

  private startInstant(run: Run, pod: KObject, c: ContainerRun): void {
    if (c.role !== "main") {
      // Init containers complete at once; sidecars run until they are stopped.
      this.started(run, pod, c);
      if (c.role === "init") setImmediate(() => this.instantExit(run, c, 0));
      return;
    }
    const script = instantScript(pod);
    if ("error" in script) return this.startError(run, c, script.error);
    writeFileSync(c.messageFile, script.message);
    this.started(run, pod, c);
    if (script.output) c.logs.write("stdout", Buffer.from(script.output));
    // The exit is its own step, so Running and the terminal phase are separate watch events.
    setImmediate(() => this.instantExit(run, c, script.exitCode));
  }

  private instantExit(run: Run, c: ContainerRun, code: number): void {
    if (c.exit || c.closed) return;
    c.exit = { code, signal: null };
    this.closedContainer(run, c);
  }

  private startError(run: Run, c: ContainerRun, message: string): void {
    c.startError = message;
    c.exit ??= { code: 128, signal: null };
    this.opts.log(`pod ${run.namespace}/${run.name}: container ${c.name}: ${message}`);
    this.closedContainer(run, c);
  }

  private armDeadline(run: Run, pod: KObject): void {
    const ads = pod.spec.activeDeadlineSeconds;
    if (!ads) return;
    const startMs = Date.parse(pod.status.startTime ?? rfc3339());
    const t = setTimeout(() => {
      const main = run.containers.get(pod.spec.containers[0].name);
      if (run.finished || run.removed || main?.exit || this.opts.faults.deadlinesIgnored) return;
      const msg = "Pod was active on the node longer than the specified deadline";
      const p = this.update(run, (o) => markPodFailed(o, "DeadlineExceeded", msg));
      if (!p) return;
      this.event(p, { type: "Warning", reason: "DeadlineExceeded", message: msg }, false);
      this.terminate(p, run, Number(p.spec.terminationGracePeriodSeconds ?? 30));
    }, Math.max(0, startMs + ads * 1000 - Date.now()));
    run.timers.add(t);
  }

  /**
   * Stops the pod (a graceful delete, a deadline): nothing more starts; the main container (or the init
   * container running) gets SIGTERM now, the sidecars once it has gone, and whatever is left SIGKILL when
   * the grace period ends. A later, shorter grace moves the SIGKILL earlier.
   */
  terminate(pod: KObject, run: Run | undefined, graceSeconds: number): void {
    if (!run) {
      // Not accepted by the kubelet yet (never scheduled): the delete finishes now.
      if (pod.metadata.deletionTimestamp && (isTerminal(pod) || !pod.spec.nodeName)) this.store.remove("pods", String(pod.metadata.namespace), pod.metadata.name);
      return;
    }
    if (run.finished) {
      if (pod.metadata.deletionTimestamp) this.removeObject(run);
      return;
    }
    run.stopping = true;
    this.clearPrep(run);
    const live = this.pending(run);
    if (live.length === 0) {
      // Nothing runs: its first container is still being made ready (image pull, start delay, config),
      // or it is between two. A delete of a pod that never ran anything finishes at once.
      if (pod.metadata.deletionTimestamp && run.containers.size === 0) {
        this.abandon(run);
        this.removeObject(run);
      } else this.wrapUp(run);
      return;
    }
    this.armKill(run, graceSeconds);
    const first = live.filter((c) => c.role !== "sidecar");
    if (first.length > 0) for (const c of first) this.sigterm(run, pod, c);
    else this.stopSidecars(run, graceSeconds);
  }

  /** SIGKILL for whatever is left of the pod when its grace period ends. */
  private armKill(run: Run, graceSeconds: number): void {
    const killAt = Date.now() + graceSeconds * 1000;
    if (run.killAt !== undefined && run.killAt <= killAt) return;
    run.killAt = killAt;
    const t = setTimeout(() => {
      for (const c of run.containers.values()) if (!c.exit) this.signal(run, c, "SIGKILL");
    }, graceSeconds * 1000);
    run.timers.add(t);
  }

  /** The Killing event and SIGTERM (SIGKILL when the grace period is already over), once per container. */
  private sigterm(run: Run, pod: KObject, c: ContainerRun): void {
    if (c.sigtermSent || c.exit || !c.startedAt) return;
    c.sigtermSent = true;
    this.event(pod, { type: "Normal", reason: "Killing", message: `Stopping container ${c.name}` }, c.name);
    this.signal(run, c, run.killAt !== undefined && run.killAt <= Date.now() ? "SIGKILL" : "SIGTERM");
  }

  private signal(run: Run, c: ContainerRun, signal: NodeJS.Signals): void {
    if (c.child) killGroup(c.child.pid, signal);
    // Instant mode: a scripted container that runs on (a sidecar) ends when signalled.
    else if (this.opts.instant && c.startedAt) setImmediate(() => this.instantExit(run, c, 128 + (constants.signals[signal] ?? 9)));
  }

  /** The main container ended or the init containers failed: the sidecars are stopped (last started, first stopped). */
  private stopSidecars(run: Run, graceSeconds?: number): void {
    const pod = this.current(run);
    const alive = [...run.containers.values()].filter((c) => c.role === "sidecar" && !c.exit).reverse();
    if (!pod || alive.length === 0) return;
    this.armKill(run, graceSeconds ?? Number(pod.spec.terminationGracePeriodSeconds ?? 30));
    for (const c of alive) this.sigterm(run, pod, c);
  }

  /** What a container's end looks like in its terminated state. */
  private termination(run: Run, c: ContainerRun, pod: KObject | undefined): Termination {
    if (c.startError) {
      const now = rfc3339();
      return { exitCode: 128, reason: "StartError", message: c.startError, startedAt: now, finishedAt: now };
    }
    const { code, signal } = c.exit ?? { code: null, signal: null };
    const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 9);
    const spec = [...(pod?.spec.initContainers ?? []), ...(pod?.spec.containers ?? [])].find((x: any) => x.name === c.name);
    let message = readHead(c.messageFile, MAX_MESSAGE);
    if (!message && exitCode !== 0 && spec?.terminationMessagePolicy === "FallbackToLogsOnError") message = c.logs.tailText(80, 2048);
    const override = c.override ?? run.override;
    return {
      exitCode,
      reason: override?.reason ?? (exitCode === 0 ? "Completed" : "Error"),
      message: override?.message ?? (message || undefined),
      startedAt: c.startedAt,
      finishedAt: rfc3339(),
      containerID: c.containerID,
    };
  }

  /** A container's process has ended and its output is drained: its terminated status, then what follows. */
  private closedContainer(run: Run, c: ContainerRun): void {
    if (c.closed) return;
    c.closed = true;
    c.stopMemoryWatch?.();
    c.logs.end();
    if (this.closed) {
      if (this.pending(run).length === 0) run.resolveDone();
      return;
    }
    if (run.removed) {
      if (this.pending(run).length === 0) {
        run.finished = true;
        run.resolveDone();
        this.forget(run);
      }
      return;
    }
    const pod = this.store.get("pods", run.namespace, run.name);
    const t = this.termination(run, c, pod);
    if (c.role === "main") {
      const sidecarsLeft = this.pending(run).some((x) => x.role === "sidecar");
      const p = this.update(run, (o) => markTerminated(o, t, sidecarsLeft));
      if (c.startError && p) this.event(p, { type: "Warning", reason: "Failed", message: `Error: ${c.startError}` }, c.name);
      // The Pod runs on, not ready, while its sidecars stop; it ends once they have.
      if (sidecarsLeft) this.stopSidecars(run);
      else this.finishRun(run);
      return;
    }
    const failed = t.exitCode !== 0;
    const p = this.update(run, (o) => {
      markInitTerminated(o, c.name, t);
      // With restartPolicy Never, an init container that failed fails the Pod (a sidecar's end does not).
      if (c.role === "init" && failed && !isTerminal(o)) markInitFailed(o);
    });
    if (c.startError && p) this.event(p, { type: "Warning", reason: "Failed", message: `Error: ${c.startError}` }, c.name);
    if (c.role === "init" && !failed && this.active(run)) {
      run.nextInit += 1;
      this.prepareNext(run, 0);
      return;
    }
    // An init container failed or was stopped, or a sidecar ended (localkube restarts nothing).
    if (c.role === "init" || run.stopping || run.containers.get(pod?.spec.containers[0].name)?.closed) this.wrapUp(run);
  }

  /** The pod's work is over: once the sidecars have stopped too, its final phase. */
  private wrapUp(run: Run): void {
    run.stopping = true;
    this.clearPrep(run);
    if (this.pending(run).length > 0) return this.stopSidecars(run);
    // The final write, unless the pod ended already (a deadline that came while nothing had started).
    const cur = this.current(run);
    const over = cur && isTerminal(cur) && cur.status.conditions?.some((x: any) => x.type === "PodReadyToStartContainers" && x.status === "False");
    if (cur && !over) this.update(run, (o) => markFinished(o, o.status.containerStatuses?.[0]?.state?.terminated?.exitCode === 0));
    this.finishRun(run);
  }

  private finishRun(run: Run): void {
    run.finished = true;
    run.timers.forEach(clearTimeout);
    run.timers.clear();
    run.resolveDone();
    this.afterFinish(run);
  }

  private afterFinish(run: Run): void {
    const pod = this.store.get("pods", run.namespace, run.name);
    if (pod?.metadata.uid === run.uid && pod.metadata.deletionTimestamp) this.removeObject(run);
  }

  private removeObject(run: Run): void {
    const pod = this.store.get("pods", run.namespace, run.name);
    if (pod?.metadata.uid === run.uid) this.store.remove("pods", run.namespace, run.name);
  }

  /** The object is gone and every process has ended: drop the working dir and log files. */
  private forget(run: Run): void {
    this.clearPrep(run);
    run.timers.forEach(clearTimeout);
    if (!run.finished) {
      run.finished = true;
      run.resolveDone();
    }
    for (const c of run.containers.values()) c.logs.end();
    this.runs.delete(run.uid);
    rmSync(run.dir, { recursive: true, force: true });
  }
}
