// The "kubelet": binds new pods to the single local node, runs each pod's container as a host process,
// and writes every status transition back as its own store write, driven by real process events
// (spawn, exit) rather than timers. It also carries out graceful deletion and activeDeadlineSeconds.

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, readSync, closeSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { LogFile } from "./logs.ts";
import { markCreating, markPodFailed, markRunning, markScheduled, markTerminated, rfc3339, isTerminal, HOST_IP, NODE_NAME } from "./podstatus.ts";
import { ensureMountTarget, expandVars, killGroup, resolveExecutable, spawnContainer, type MessageIsolation, type SpawnSpec } from "./process.ts";
import type { KObject, Store, StoreEvent } from "./store.ts";

export interface RuntimeOptions {
  root: string; // <dataDir>/localkube
  workerImage: string;
  workerCommand: string[];
  isolation: MessageIsolation;
  log: (msg: string) => void;
}

interface Run {
  uid: string;
  namespace: string;
  name: string;
  dir: string;
  logs: LogFile;
  messageFile: string;
  child?: ChildProcess;
  containerID: string;
  startedAt?: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  finished: boolean; // stdio drained and final status written
  removed: boolean; // the API object is gone
  sigtermSent: boolean;
  killAt?: number;
  timers: Set<NodeJS.Timeout>;
}

const MAX_MESSAGE = 4096;

export class Runtime {
  private runs = new Map<string, Run>();
  private unsubscribe: () => void;
  private closed = false;
  private readonly shell = resolveExecutable("sh", process.env.PATH);

  constructor(private readonly store: Store, private readonly opts: RuntimeOptions) {
    mkdirSync(join(opts.root, "pods"), { recursive: true });
    this.unsubscribe = store.subscribe((ev) => ev.resource === "pods" && this.onEvent(ev));
  }

  /** The log of a pod's container, if the runtime has started (or tried to start) it. */
  logsFor(uid: string): LogFile | undefined {
    return this.runs.get(uid)?.logs;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
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
      rmSync(run.dir, { recursive: true, force: true });
    }
    this.runs.clear();
  }

  private onEvent(ev: StoreEvent): void {
    if (this.closed) return;
    const pod = ev.object;
    const uid: string = pod.metadata.uid;
    if (ev.type === "ADDED" && !pod.spec.nodeName) {
      // Deferred so the create's own ADDED reaches every watcher before the kubelet's first write.
      setImmediate(() => this.admit(pod));
      return;
    }
    const run = this.runs.get(uid);
    if (ev.type === "DELETED") {
      if (!run) return;
      run.removed = true;
      if (run.child && !run.exit) killGroup(run.child.pid, "SIGKILL");
      else if (run.finished) this.forget(run);
      return;
    }
    if (pod.metadata.deletionTimestamp) this.terminate(pod, run, Number(pod.metadata.deletionGracePeriodSeconds ?? 0));
  }

  private update(run: { uid: string; namespace: string; name: string }, fn: (o: KObject) => void): KObject | undefined {
    let hit = false;
    const out = this.store.update("pods", run.namespace, run.name, (o) => {
      if (o.metadata.uid !== run.uid) return false;
      hit = true;
      fn(o);
    });
    return hit ? out : undefined;
  }

  private admit(created: KObject): void {
    if (this.closed) return;
    const ref = { uid: String(created.metadata.uid), namespace: String(created.metadata.namespace), name: created.metadata.name };
    const current = this.store.get("pods", ref.namespace, ref.name);
    if (!current || current.metadata.uid !== ref.uid) return;
    if (current.metadata.deletionTimestamp) {
      this.store.remove("pods", ref.namespace, ref.name);
      return;
    }
    this.update(ref, markScheduled);
    const pod = this.update(ref, markCreating);
    if (pod) this.start(pod);
  }

  private start(pod: KObject): void {
    const c = pod.spec.containers[0];
    const uid: string = pod.metadata.uid;
    const dir = join(this.opts.root, "pods", `${pod.metadata.namespace}_${pod.metadata.name}_${uid}`);
    mkdirSync(join(dir, "work"), { recursive: true });
    const messageFile = join(dir, "termination-log");
    writeFileSync(messageFile, "");
    const run: Run = {
      uid,
      namespace: String(pod.metadata.namespace),
      name: pod.metadata.name,
      dir,
      logs: new LogFile(join(dir, `${c.name}.log`)),
      messageFile,
      containerID: `localkube://${randomBytes(32).toString("hex")}`,
      finished: false,
      removed: false,
      sigtermSent: false,
      timers: new Set(),
    };
    this.runs.set(uid, run);

    const env = this.buildEnv(pod, c);
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

    const spec: SpawnSpec = { argv, env, cwd: join(dir, "work") };
    const target: string = c.terminationMessagePath || "/dev/termination-log";
    const iso = this.opts.isolation;
    if (iso.mode === "mount-namespace" && ensureMountTarget(target)) spec.messageBind = { hostFile: messageFile, target, tools: iso };
    else {
      env.FERRY_TERMINATION_MESSAGE_PATH = messageFile;
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
      run.startedAt = rfc3339();
      const p = this.update(run, (o) => markRunning(o, run.containerID, run.startedAt!));
      if (p) this.armDeadline(run, p);
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

  private buildEnv(pod: KObject, c: any): Record<string, string> {
    const env: Record<string, string> = { HOSTNAME: pod.metadata.name };
    if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
    if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
    for (const e of c.env ?? []) {
      if (typeof e.value === "string") env[e.name] = expandVars(e.value, env);
      else if (e.valueFrom?.fieldRef?.fieldPath) {
        const v = fieldRef(pod, e.valueFrom.fieldRef.fieldPath);
        if (v !== undefined) env[e.name] = v;
      } else if (!e.valueFrom) env[e.name] = "";
    }
    return env;
  }

  private startError(run: Run, message: string): void {
    run.logs.end();
    run.finished = true;
    this.opts.log(`pod ${run.namespace}/${run.name}: ${message}`);
    const now = rfc3339();
    this.update(run, (o) => markTerminated(o, { exitCode: 128, reason: "StartError", message, startedAt: now, finishedAt: now }));
    this.afterFinish(run);
  }

  private armDeadline(run: Run, pod: KObject): void {
    const ads = pod.spec.activeDeadlineSeconds;
    if (!ads) return;
    const startMs = Date.parse(pod.status.startTime ?? rfc3339());
    const t = setTimeout(() => {
      if (run.exit || run.removed) return;
      const p = this.update(run, (o) => markPodFailed(o, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"));
      if (p) this.terminate(p, run, Number(p.spec.terminationGracePeriodSeconds ?? 30));
    }, Math.max(0, startMs + ads * 1000 - Date.now()));
    run.timers.add(t);
  }

  /** SIGTERM now, SIGKILL when the grace period ends; a later, shorter grace moves the SIGKILL earlier. */
  private terminate(pod: KObject, run: Run | undefined, graceSeconds: number): void {
    if (!run) {
      // Never started (or already gone from the runtime): nothing to stop, so finish the delete now.
      if (pod.metadata.deletionTimestamp && (isTerminal(pod) || !pod.spec.nodeName)) this.store.remove("pods", String(pod.metadata.namespace), pod.metadata.name);
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
    if (this.closed) return;
    if (run.removed) return this.forget(run);
    const { code, signal } = run.exit ?? { code: null, signal: null };
    const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 9) : 9);
    const pod = this.store.get("pods", run.namespace, run.name);
    const c = pod?.spec.containers[0];
    let message = readHead(run.messageFile, MAX_MESSAGE);
    if (!message && exitCode !== 0 && c?.terminationMessagePolicy === "FallbackToLogsOnError") message = run.logs.tailText(80, 2048);
    this.update(run, (o) =>
      markTerminated(o, {
        exitCode,
        reason: exitCode === 0 ? "Completed" : "Error",
        message: message || undefined,
        startedAt: run.startedAt,
        finishedAt: rfc3339(),
        containerID: run.containerID,
      }),
    );
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

function readHead(path: string, max: number): string {
  try {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(max);
      const n = readSync(fd, buf, 0, max, 0);
      return buf.subarray(0, n).toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
}

/** The downward-API fields a host process can meaningfully get. */
function fieldRef(pod: KObject, path: string): string | undefined {
  const m = path.match(/^metadata\.(labels|annotations)\['(.+)'\]$/);
  if (m) return pod.metadata[m[1]]?.[m[2]];
  const simple: Record<string, unknown> = {
    "metadata.name": pod.metadata.name,
    "metadata.namespace": pod.metadata.namespace,
    "metadata.uid": pod.metadata.uid,
    "spec.nodeName": NODE_NAME,
    "spec.serviceAccountName": pod.spec.serviceAccountName,
    "status.hostIP": HOST_IP,
    "status.podIP": HOST_IP,
  };
  const v = simple[path];
  return v === undefined ? undefined : String(v);
}
