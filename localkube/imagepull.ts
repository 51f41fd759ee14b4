// The `imagePullFailures` fault: the kubelet's image pull loop for an image that cannot be pulled.
// Each attempt emits Pulling, then Failed, and sets the container waiting with ErrImagePull; between
// attempts the container shows ImagePullBackOff (BackOff event). The back-off doubles per attempt.
// A kubelet starts at 10 s and caps at 5 min; localkube compresses that to 1 s .. 30 s so tests can see
// the alternation. If the fault is cleared, the next attempt succeeds and the pod goes on to start.

import type { PodEventSpec } from "./events.ts";

export const PULL_BACKOFF_START_MS = 1000;
export const PULL_BACKOFF_MAX_MS = 30_000;

/** The CRI error text containerd gives for an image that does not exist. */
export function pullError(image: string): string {
  const ref = normalizeImage(image);
  return `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
}

/** docker.io/library/x:latest, the way containerd names what it failed to resolve. */
export function normalizeImage(image: string): string {
  let ref = image;
  const first = ref.split("/")[0];
  if (!ref.includes("/")) ref = `docker.io/library/${ref}`;
  else if (!first.includes(".") && !first.includes(":") && first !== "localhost") ref = `docker.io/${ref}`;
  const last = ref.split("/").pop() ?? "";
  if (!last.includes(":") && !last.includes("@")) ref += ":latest";
  return ref;
}

export interface PullLoopHooks {
  /** Is the image still failing (the fault may have been cleared)? */
  fails(): boolean;
  waiting(reason: "ErrImagePull" | "ImagePullBackOff", message: string): boolean; // false: pod gone, stop
  event(e: Omit<PodEventSpec, "source" | "fieldPath">): void;
  pulled(): void; // the image "arrived": continue starting the container
  timer(t: NodeJS.Timeout): void; // registered so deletion / close can cancel it
}

/** Runs one attempt now and schedules the next; stops when a hook says the pod is gone. */
export function pullLoop(image: string, hooks: PullLoopHooks, backoffMs = PULL_BACKOFF_START_MS): void {
  hooks.event({ type: "Normal", reason: "Pulling", message: `Pulling image "${image}"` });
  if (!hooks.fails()) {
    hooks.event({ type: "Normal", reason: "Pulled", message: `Successfully pulled image "${image}" in 0s (0s including waiting). Image size: 0 bytes.` });
    hooks.pulled();
    return;
  }
  const err = pullError(image);
  if (!hooks.waiting("ErrImagePull", err)) return;
  hooks.event({ type: "Warning", reason: "Failed", message: `Failed to pull image "${image}": ${err}` });
  hooks.event({ type: "Warning", reason: "Failed", message: "Error: ErrImagePull" });
  hooks.timer(
    setTimeout(() => {
      const message = `Back-off pulling image "${image}"`;
      if (!hooks.waiting("ImagePullBackOff", message)) return;
      hooks.event({ type: "Normal", reason: "BackOff", message });
      hooks.event({ type: "Warning", reason: "Failed", message: "Error: ImagePullBackOff" });
      hooks.timer(setTimeout(() => pullLoop(image, hooks, Math.min(backoffMs * 2, PULL_BACKOFF_MAX_MS)), backoffMs / 2));
    }, backoffMs / 2),
  );
}
