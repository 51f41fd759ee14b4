// Shared setup for localkube tests: one server per test file, driven only through client-node.
// The behaviour a real cluster shares is tested in test/conformance/ (its own target helper, target.ts,
// runs those tests against localkube or a real cluster); these helpers are for tests that need
// localkube itself: its options, the worker image, host processes.

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException, CoreV1Api, KubeConfig, Watch, type V1Pod } from "@kubernetes/client-node";
import { startLocalKube, type LocalKube, type LocalKubeOptions } from "../../localkube/index.ts";

export const WORKER_IMAGE = "ferry/worker:test";
export const WORKER_COMMAND = [process.execPath, "-e", "console.log('worker', process.argv.slice(1).join(' '))"];
/** Container logs rotate at this size in tests (a kubelet's default is 10 MiB), so every test reads through rotation. */
export const TEST_LOG_MAX_BYTES = 64 * 1024;

export interface Env {
  lk: LocalKube;
  kc: KubeConfig;
  core: CoreV1Api;
  dir: string;
  close(): Promise<void>;
}

export async function setup(extra: Partial<LocalKubeOptions> = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), "localkube-test-"));
  const lk = await startLocalKube({ dataDir: dir, workerImage: WORKER_IMAGE, workerCommand: WORKER_COMMAND, logMaxBytes: TEST_LOG_MAX_BYTES, ...extra });
  const kc = new KubeConfig();
  kc.loadFromString(lk.kubeconfig());
  return {
    lk,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    dir,
    async close() {
      await lk.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function podSpec(name: string, command: string[], extra: Partial<V1Pod["spec"]> = {}, image = "alpine:3.20"): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "test" } },
    spec: { restartPolicy: "Never", containers: [{ name: "main", image, command }], ...extra },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `pred` holds for the pod; generous timeout because the machine is small and shared. */
export async function waitForPod(core: CoreV1Api, name: string, pred: (p: V1Pod) => boolean, ns = "default", timeoutMs = 30_000): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  let last: V1Pod | undefined;
  while (Date.now() < deadline) {
    try {
      last = await core.readNamespacedPod({ name, namespace: ns });
      if (pred(last)) return last;
    } catch (e) {
      if (!(e instanceof ApiException) || e.code !== 404) throw e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for pod ${ns}/${name}; last status: ${JSON.stringify(last?.status)}`);
}

export async function waitForGone(core: CoreV1Api, name: string, ns = "default", timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await core.readNamespacedPod({ name, namespace: ns });
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return;
      throw e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for pod ${ns}/${name} to be deleted`);
}

export const terminal = (p: V1Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
export const terminated = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;

/** Runs `fn`, expecting an ApiException; returns its code and parsed Status body. */
export async function apiError(fn: () => Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiException) return { code: e.code, body: typeof e.body === "string" ? JSON.parse(e.body) : e.body };
    throw e;
  }
  throw new Error("expected the call to fail");
}

/** True while a process with this pid exists and is not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Waits (bounded) for a process to be gone; reaping by init can lag the kill a little. */
export async function waitDead(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  return !alive(pid);
}

export type WatchEvent = { type: string; obj: any };

/**
 * Runs a watch until `until` holds for the events so far (then aborts it) or the server ends it;
 * `ended` says which, with the error the client reported. Rejects if neither happens in time.
 */
export function watchEvents(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  until: (evs: WatchEvent[]) => boolean = () => false,
  timeoutMs = 30_000,
): { evs: WatchEvent[]; ended: Promise<{ by: "server" | "until"; err: unknown }> } {
  const evs: WatchEvent[] = [];
  let ctl: AbortController | undefined;
  const ended = new Promise<{ by: "server" | "until"; err: unknown }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watch neither ended nor matched; got ${JSON.stringify(evs.map((e) => e.type))}`)), timeoutMs);
    void new Watch(kc)
      .watch(
        path,
        query,
        (type, obj) => {
          evs.push({ type, obj });
          if (until(evs)) {
            clearTimeout(timer);
            resolve({ by: "until", err: undefined });
          }
        },
        (err) => {
          clearTimeout(timer);
          resolve({ by: "server", err });
        },
      )
      .then((c) => (ctl = c), reject);
  }).finally(() => ctl?.abort());
  return { evs, ended };
}
