// The "kubelet": takes pods the scheduler bound to the node, "pulls" the image, runs the container as a
// host process (or, in instant mode, as a scripted result), and writes every status transition back
// as its own store write, driven by real process events (spawn, exit) rather than timers. It also
// carries out graceful deletion, activeDeadlineSeconds, memory limits, and the node-level faults
// (eviction, node loss; see disruption.ts for their status shapes).

import type { ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { containerRefusal } from "./container-checks.ts";
import { containerPath, type EventRecorder, type EventSource, type PodEventSpec } from "./events.ts";
import type { Faults } from "./faults.ts";
import { pullLoop } from "./imagepull.ts";
import { instantScript } from "./instant.ts";
import type { LogFile, LogLimits } from "./logs.ts";
import { MemoryWatcher } from "./oom.ts";
import { containerEnv } from "./podenv.ts";
import { markCreating, markPodFailed, markRunning, markTerminated, markWaiting, rfc3339, isTerminal, NODE_NAME } from "./podstatus.ts";
import { ensureMountTarget, expandVars, killGroup, resolveExecutable, spawnContainer, type MessageIsolation, type SpawnSpec } from "./process.ts";
import { parseQuantity, quantityBytes } from "./quantity.ts";
import { createRun, readHead, refOf, updatePodRef, MAX_MESSAGE, type Ref, type Run } from "./run.ts";
import { Scheduler } from "./scheduler.ts";
import type { KObject, Store, StoreEvent } from "./store.ts";

export { refOf, type Ref, type Run } from "./run.ts";

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
  /** Bound pods whose container has not started yet (image pull loop, start delay). */
  readonly waiting = new Map<string, { ref: Ref; timers: Set<NodeJS.Timeout> }>();
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

  /** The log of a pod's container, if the runtime has started (or tried to start) it. */
  logsFor(uid: string): LogFile | undefined {
    return this.runs.get(uid)?.logs;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.scheduler.close();
    this.memory.close();
    for (const uid of [...this.waiting.keys()]) this.cancelWaiting(uid);
    const waits: Promise<void>[] = [];
    for (const run of this.runs.values()) {
      run.timers.forEach(clearTimeout);
      if (run.child && !run.finished) {
        const child = run.child;
        waits.push(new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("close", () => resolve()))));
        killGroup(child.pid, "SIGKILL");
      }
    }
    await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000).unref())]);
    for (const run of this.runs.values()) {
      run.logs.end();
      run.resolveDone();
      rmSync(run.dir, { recursive: true, force: true });
    }
    this.runs.clear();
  }

  event(pod: KObject, e: Omit<PodEventSpec, "source" | "fieldPath">, container = true, source: EventSource = "kubelet"): void {
    this.opts.events.record(pod, { ...e, source, fieldPath: container ? containerPath(pod) : undefined });
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
      this.cancelWaiting(uid);
      if (!run) return;
      run.removed = true;
      if (run.child && !run.exit) killGroup(run.child.pid, "SIGKILL");
      else if (run.finished) this.forget(run);
      return;
    }
    if (pod.metadata.deletionTimestamp) this.terminate(pod, run, Number(pod.metadata.deletionGracePeriodSeconds ?? 0));
    // A running pod's activeDeadlineSeconds may be lowered (clients use it to stop a pod but keep it):
    // arm the new deadline; the earlier one, now later, finds the pod already stopped.
    else if (run?.startedAt && ev.prev && ev.prev.spec?.activeDeadlineSeconds !== pod.spec.activeDeadlineSeconds) this.armDeadline(run, pod);
  }

  current(ref: Ref): KObject | undefined {
    const pod = this.store.get("pods", ref.namespace, ref.name);
    return pod?.metadata.uid === ref.uid ? pod : undefined;
  }

  update(ref: Ref, fn: (o: KObject) => void): KObject | undefined {
    return updatePodRef(this.store, ref, fn);
  }

  /** Stops a not-yet-started pod's pull loop or start delay; true if it was waiting. */
  cancelWaiting(uid: string): boolean {
    const w = this.waiting.get(uid);
    if (!w) return false;
    w.timers.forEach(clearTimeout);
    this.waiting.delete(uid);
    return true;
  }

  /** The kubelet has the pod: ContainerCreating, then the image, then (after any start delay) the container. */
  private accept(ref: Ref): void {
    if (this.closed) return;
    const cur = this.current(ref);
    if (!cur || this.runs.has(ref.uid) || this.waiting.has(ref.uid)) return;
    if (cur.metadata.deletionTimestamp) {
      this.store.remove("pods", ref.namespace, ref.name);
      return;
    }
    const pod = this.update(ref, markCreating);
    if (!pod) return;
    const w = { ref, timers: new Set<NodeJS.Timeout>() };
    this.waiting.set(ref.uid, w);
    const image: string = pod.spec.containers[0].image;
    const refusal = containerRefusal(pod, (img) => !this.opts.faults.imagePullFails(img));
    if (refusal) {
      // It waits as the kubelet leaves it: the same reason until the Pod is deleted.
      this.update(ref, (o) => markWaiting(o, refusal.reason, refusal.message));
      this.event(pod, { type: "Warning", reason: refusal.reason === "CreateContainerConfigError" ? "Failed" : refusal.reason, message: `Error: ${refusal.message}` });
      return;
    }
    const proceed = () => {
      const go = () => {
        if (!this.cancelWaiting(ref.uid)) return;
        const p = this.current(ref);
        if (p) this.launch(p);
      };
      const delay = this.opts.faults.podStartDelayMs;
      if (delay > 0) w.timers.add(setTimeout(go, delay));
      else go();
    };
    if (this.opts.faults.imagePullFails(image) || pod.spec.containers[0].imagePullPolicy === "Always") {
      pullLoop(image, {
        fails: () => this.opts.faults.imagePullFails(image),
        waiting: (reason, message) => this.waiting.has(ref.uid) && !!this.update(ref, (o) => markWaiting(o, reason, message)),
        event: (e) => {
          const p = this.current(ref);
          if (p) this.event(p, e);
        },
        pulled: proceed,
        timer: (t) => w.timers.add(t),
      });
    } else {
      this.event(pod, { type: "Normal", reason: "Pulled", message: `Container image "${image}" already present on machine` });
      proceed();
    }
  }

  private launch(pod: KObject): void {
    const c = pod.spec.containers[0];
    const run = createRun(this.opts.root, pod, this.opts.logLimits);
    this.runs.set(run.uid, run);
    if (this.opts.instant) return this.launchInstant(run, pod);

    const env = containerEnv(pod, c);
    const isWorker = c.image === this.opts.workerImage;
    const expand = (xs: unknown) => (Array.isArray(xs) ? xs.map((x) => expandVars(String(x), env)) : []);
    let argv: string[];
    if (isWorker) argv = [...this.opts.workerCommand, ...expand(c.args)];
    else if (!Array.isArray(c.command) || c.command.length === 0)
      return this.startError(run, `localkube runs containers as host processes and cannot run image "${c.image}" by itself: container "${c.name}" needs a "command" (the image's entrypoint is not used)`);
    else argv = [...expand(c.command), ...expand(c.args)];
    const exe = resolveExecutable(argv[0], env.PATH);
    if (!exe)
      return this.startError(run, `failed to create containerd task: exec: "${argv[0]}": executable file not found in $PATH (localkube runs container commands on the host)`);
    argv[0] = exe;

    const spec: SpawnSpec = { argv, env, cwd: join(run.dir, "work") };
    const target: string = c.terminationMessagePath || "/dev/termination-log";
    const iso = this.opts.isolation;
    if (iso.mode === "mount-namespace" && ensureMountTarget(target)) spec.messageBind = { hostFile: run.messageFile, target, tools: iso };
    else {
      env.FERRY_TERMINATION_MESSAGE_PATH = run.messageFile;
      spec.sh = this.shell;
    }

    let child: ChildProcess;
    try {
      child = spawnContainer(spec);
    } catch (err) {
      return this.startError(run, `failed to start container process: ${(err as Error).message}`);
    }
    run.child = child;
    child.stdout!.on("data", (d: Buffer) => run.logs.write("stdout", d));
    child.stderr!.on("data", (d: Buffer) => run.logs.write("stderr", d));
    child.once("spawn", () => {
      this.started(run, pod);
      const limit = parseQuantity(c.resources?.limits?.memory);
      if (limit && child.pid)
        run.stopMemoryWatch = this.memory.watch(child.pid, quantityBytes(limit), () => {
          run.override = { reason: "OOMKilled" };
          killGroup(child.pid, "SIGKILL");
        });
      // A delete that arrived while we were starting still has to stop the process.
      const cur = this.store.get("pods", run.namespace, run.name);
      if (run.removed) killGroup(child.pid, "SIGKILL");
      else if (cur?.metadata.deletionTimestamp) this.terminate(cur, run, Number(cur.metadata.deletionGracePeriodSeconds ?? 0));
    });
    child.once("error", (err) => {
      if (!run.startedAt && !run.exit) {
        run.exit = { code: null, signal: null };
        this.startError(run, `failed to start container process: ${err.message}`);
      }
    });
    child.once("exit", (code, signal) => {
      run.exit = { code, signal };
      run.stopMemoryWatch?.();
      // Like a container whose init died: everything left in the group goes too, so the pipes close.
      killGroup(child.pid, "SIGKILL");
      const t = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, 2000);
      run.timers.add(t);
    });
    child.once("close", () => this.finish(run));
  }

  /** Created + Started events and the Running write, shared by processes and instant mode. */
  private started(run: Run, pod: KObject): void {
    run.startedAt = rfc3339();
    const name = pod.spec.containers[0].name;
    this.event(pod, { type: "Normal", reason: "Created", message: `Created container ${name}` });
    this.event(pod, { type: "Normal", reason: "Started", message: `Started container ${name}` });
    const p = this.update(run, (o) => markRunning(o, run.containerID, run.startedAt!));
    if (p) this.armDeadline(run, p);
  }

  private launchInstant(run: Run, pod: KObject): void {
    const script = instantScript(pod);
    if ("error" in script) return this.startError(run, script.error);
    writeFileSync(run.messageFile, script.message);
    this.started(run, pod);
    if (script.output) run.logs.write("stdout", Buffer.from(script.output));
    // The exit is its own step, so Running and the terminal phase are separate watch events.
    setImmediate(() => {
      if (run.finished) return;
      run.exit = { code: script.exitCode, signal: null };
      this.finish(run);
    });
  }

  private startError(run: Run, message: string): void {
    run.logs.end();
    run.finished = true;
    this.opts.log(`pod ${run.namespace}/${run.name}: ${message}`);
    const now = rfc3339();
    const p = this.update(run, (o) => markTerminated(o, { exitCode: 128, reason: "StartError", message, startedAt: now, finishedAt: now }));
    if (p) this.event(p, { type: "Warning", reason: "Failed", message: `Error: ${message}` });
    run.resolveDone();
    this.afterFinish(run);
  }

  private armDeadline(run: Run, pod: KObject): void {
    const ads = pod.spec.activeDeadlineSeconds;
    if (!ads) return;
    const startMs = Date.parse(pod.status.startTime ?? rfc3339());
    const t = setTimeout(() => {
      if (run.exit || run.removed || this.opts.faults.deadlinesIgnored) return;
      const msg = "Pod was active on the node longer than the specified deadline";
      const p = this.update(run, (o) => markPodFailed(o, "DeadlineExceeded", msg));
      if (!p) return;
      this.event(p, { type: "Warning", reason: "DeadlineExceeded", message: msg }, false);
      this.terminate(p, run, Number(p.spec.terminationGracePeriodSeconds ?? 30));
    }, Math.max(0, startMs + ads * 1000 - Date.now()));
    run.timers.add(t);
  }

  /** SIGTERM now, SIGKILL when the grace period ends; a later, shorter grace moves the SIGKILL earlier. */
  terminate(pod: KObject, run: Run | undefined, graceSeconds: number): void {
    if (!run) {
      // Nothing runs yet (never scheduled, image still pulling, start delayed): finish the delete now.
      const waited = this.cancelWaiting(String(pod.metadata.uid));
      if (pod.metadata.deletionTimestamp && (waited || isTerminal(pod) || !pod.spec.nodeName)) this.store.remove("pods", String(pod.metadata.namespace), pod.metadata.name);
      return;
    }
    if (run.finished) {
      if (pod.metadata.deletionTimestamp) this.removeObject(run);
      return;
    }
    if (!run.child || run.exit || !run.startedAt) return;
    const killAt = Date.now() + graceSeconds * 1000;
    if (run.killAt !== undefined && run.killAt <= killAt) return;
    run.killAt = killAt;
    if (!run.sigtermSent) {
      run.sigtermSent = true;
      this.event(pod, { type: "Normal", reason: "Killing", message: `Stopping container ${pod.spec.containers[0].name}` });
      killGroup(run.child.pid, graceSeconds === 0 ? "SIGKILL" : "SIGTERM");
    }
    const pid = run.child.pid;
    const t = setTimeout(() => !run.exit && killGroup(pid, "SIGKILL"), graceSeconds * 1000);
    run.timers.add(t);
  }

  private finish(run: Run): void {
    run.timers.forEach(clearTimeout);
    run.timers.clear();
    run.logs.end();
    run.finished = true;
    if (this.closed) return run.resolveDone();
    if (run.removed) {
      run.resolveDone();
      return this.forget(run);
    }
    const { code, signal } = run.exit ?? { code: null, signal: null };
    const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 9);
    const pod = this.store.get("pods", run.namespace, run.name);
    const c = pod?.spec.containers[0];
    let message = readHead(run.messageFile, MAX_MESSAGE);
    if (!message && exitCode !== 0 && c?.terminationMessagePolicy === "FallbackToLogsOnError") message = run.logs.tailText(80, 2048);
    this.update(run, (o) =>
      markTerminated(o, {
        exitCode,
        reason: run.override?.reason ?? (exitCode === 0 ? "Completed" : "Error"),
        message: run.override?.message ?? (message || undefined),
        startedAt: run.startedAt,
        finishedAt: rfc3339(),
        containerID: run.containerID,
      }),
    );
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

  /** The object is gone and the process has ended: drop the working dir and log file. */
  private forget(run: Run): void {
    this.runs.delete(run.uid);
    rmSync(run.dir, { recursive: true, force: true });
  }
}
