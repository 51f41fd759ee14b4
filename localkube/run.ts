// One container run's bookkeeping (process, log file, termination-message file, timers), shared by
// the kubelet (runtime.ts) and the node faults (disruption.ts).

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

export interface Run extends Ref {
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
  /** Why the process was killed when it is not the command's own doing (OOMKilled, node loss). */
  override?: { reason: string; message?: string };
  stopMemoryWatch?: () => void;
  done: Promise<void>; // resolves once the final status is written
  resolveDone: () => void;
}

/** A fresh run for a pod: its own directory with a work dir, an empty termination-log and the log file. */
export function createRun(root: string, pod: KObject, logLimits: LogLimits): Run {
  const c = pod.spec.containers[0];
  const uid: string = pod.metadata.uid;
  const dir = join(root, "pods", `${pod.metadata.namespace}_${pod.metadata.name}_${uid}`);
  mkdirSync(join(dir, "work"), { recursive: true });
  const messageFile = join(dir, "termination-log");
  writeFileSync(messageFile, "");
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const run: Run = {
    ...refOf(pod),
    dir,
    logs: new LogFile(join(dir, `${c.name}.log`), logLimits),
    messageFile,
    containerID: `localkube://${randomBytes(32).toString("hex")}`,
    finished: false,
    removed: false,
    sigtermSent: false,
    timers: new Set(),
    done,
    resolveDone,
  };
  return run;
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
