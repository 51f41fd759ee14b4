// What a kubelet refuses before it pulls an image or starts a container, with the waiting reason and
// message it reports. These never resolve without a change to the Pod's spec, so the Pod stays Pending
// with the container waiting, and the kubelet keeps reporting the same reason.
import type { KObject } from "./store.ts";

export interface ContainerRefusal {
  reason: "InvalidImageName" | "ErrImageNeverPull" | "CreateContainerConfigError";
  message: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

/** Whether a container image reference parses as the container runtime reads it (distribution/reference). */
export function isValidImageReference(image: string): boolean {
  let rest = image;
  const at = rest.indexOf("@");
  if (at >= 0) {
    if (!DIGEST.test(rest.slice(at + 1))) return false;
    rest = rest.slice(0, at);
  }
  const parts = rest.split("/");
  const last = parts[parts.length - 1]!;
  const colon = last.indexOf(":");
  if (colon >= 0) {
    if (!TAG.test(last.slice(colon + 1))) return false;
    parts[parts.length - 1] = last.slice(0, colon);
  }
  // The first part is a registry host when it looks like one (a dot, a port, or localhost).
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === "localhost")) {
    if (!HOST.test(parts.shift()!)) return false;
  }
  return parts.length > 0 && parts.every((p) => COMPONENT.test(p));
}

/**
 * Why the kubelet would refuse to start the Pod's container, or null. `present(image)` says whether the
 * node has the image (for imagePullPolicy Never).
 */
export function containerRefusal(pod: KObject, present: (image: string) => boolean): ContainerRefusal | null {
  const c = pod.spec.containers[0];
  const image: string = c.image;
  if (!isValidImageReference(image)) {
    return { reason: "InvalidImageName", message: `Failed to apply default image tag "${image}": couldn't parse image reference "${image}": invalid reference format` };
  }
  if (c.imagePullPolicy === "Never" && !present(image)) {
    return { reason: "ErrImageNeverPull", message: `Container image "${image}" is not present with pull policy of Never` };
  }
  const runAsNonRoot = c.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
  const runAsUser = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  if (runAsNonRoot === true && runAsUser === 0) {
    const who = `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
    return { reason: "CreateContainerConfigError", message: `container's runAsUser breaks non-root policy (pod: "${who}", container: ${c.name})` };
  }
  return null;
}
