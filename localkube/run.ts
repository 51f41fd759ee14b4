// One pod's run on the node (its directory, its containers' processes, log files and termination-message
// files, timers), shared by the kubelet (runtime.ts) and the node faults (disruption.ts).

import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LogFile, type LogLimits } from "./logs.ts";
import type { KObject, Store } from "./store.ts";

export const MAX_MESSAGE = 4096;

export type Ref = { uid: string; namespace: string; name: string };

/** Updates the pod `ref` names, only if it is still that pod (same uid); undefined when it is gone. */
export function updatePodRef(store: Store, ref: Ref, fn: (o: KObject) => void): KObject | undefined {
  let hit = false;
  const out = store.update("pods", ref.namespace, ref.name, (o) => {
    if (o.metadata.uid !== ref.uid) return false;
    hit = true;
    fn(o);
  });
  return hit ? out : undefined;
}

/** The main container, an init container (runs to completion, in order) or a sidecar (an init container with restartPolicy Always). */
export type ContainerRole = "main" | "init" | "sidecar";

/** One container that started (or tried to): its process, log and termination-message file. */
export interface ContainerRun {
  name: string;
  role: ContainerRole;
  logs: LogFile;
  messageFile: string;
  containerID: string;
  child?: ChildProcess;
  startedAt?: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** Its stdio drained and its terminated status written: nothing more comes of it. */
  closed: boolean;
  /** It could not start: the StartError message. */
  startError?: string;
  sigtermSent: boolean;
  /** Why it was killed when it is not the command's own doing (OOMKilled). */
  override?: { reason: string; message?: string };
  stopMemoryWatch?: () => void;
}

export interface Run extends Ref {
  dir: string;
  /** Containers in the order they started; the main one last. */
  containers: Map<string, ContainerRun>;
  /** The next of spec.initContainers to start; past the end, the main container is next. */
  nextInit: number;
  /** Timers of the container being made ready (image pull loop, start delay, config retries). */
  prep: Set<NodeJS.Timeout>;
  /** Stop asked (deletion, deadline, disruption): nothing more starts; what runs is signalled. */
  stopping: boolean;
  killAt?: number;
  deadlineArmed: boolean;
  finished: boolean; // every container closed and the final status written
  removed: boolean; // the API object is gone
  timers: Set<NodeJS.Timeout>;
  /** Why every container was killed, for the whole pod (node loss): overrides each container's own reason. */
  override?: { reason: string; message?: string };
  done: Promise<void>; // resolves once the final status is written
  resolveDone: () => void;
}

/** A fresh run for a pod: its own directory with a work dir. Containers are added as they start. */
export function createRun(root: string, pod: KObject): Run {
  const uid: string = pod.metadata.uid;
  const dir = join(root, "pods", `${pod.metadata.namespace}_${pod.metadata.name}_${uid}`);
  mkdirSync(join(dir, "work"), { recursive: true });
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  return {
    ...refOf(pod),
    dir,
    containers: new Map(),
    nextInit: 0,
    prep: new Set(),
    stopping: false,
    deadlineArmed: false,
    finished: false,
    removed: false,
    timers: new Set(),
    done,
    resolveDone,
  };
}

/** A container's run: `<name>.log` in CRI format and an empty termination-message file beside it. */
export function createContainerRun(run: Run, name: string, role: ContainerRole, logLimits: LogLimits): ContainerRun {
  const messageFile = join(run.dir, role === "main" ? "termination-log" : `termination-log.${name}`);
  writeFileSync(messageFile, "");
  const c: ContainerRun = {
    name,
    role,
    logs: new LogFile(join(run.dir, `${name}.log`), logLimits),
    messageFile,
    containerID: `localkube://${randomBytes(32).toString("hex")}`,
    closed: false,
    sigtermSent: false,
  };
  run.containers.set(name, c);
  return c;
}

export const refOf = (pod: KObject): Ref => ({ uid: String(pod.metadata.uid), namespace: String(pod.metadata.namespace), name: pod.metadata.name });

export function readHead(path: string, max: number): string {
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
