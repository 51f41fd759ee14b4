// What a kubelet refuses before it pulls a container's image (a reference that does not parse, an absent
// image with imagePullPolicy Never) or when it makes the container's config (an environment that does
// not resolve, a security context it cannot honour), with the waiting reason and message it reports.
// The image refusals never resolve without a change to the Pod's spec; a config refusal may (a Secret
// created later), and the runtime tries it again.
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
 * Why the kubelet would refuse to pull container `c`'s image, or null: a reference that does not parse,
 * or an image the node does not have (`present(image)`) with imagePullPolicy Never.
 */
export function imageRefusal(c: any, present: (image: string) => boolean): ContainerRefusal | null {
  const image: string = c.image;
  if (!isValidImageReference(image)) {
    return { reason: "InvalidImageName", message: `Failed to apply default image tag "${image}": couldn't parse image reference "${image}": invalid reference format` };
  }
  if (c.imagePullPolicy === "Never" && !present(image)) {
    return { reason: "ErrImageNeverPull", message: `Container image "${image}" is not present with pull policy of Never` };
  }
  return null;
}

/**
 * Why the kubelet cannot make container `c`'s config once its image is there (CreateContainerConfigError),
 * or null: its environment did not resolve (`envError`, a missing Secret, ConfigMap or key), or it would
 * run as root under runAsNonRoot. localkube knows no image's USER, so only an explicit runAsUser 0 is
 * refused; a kubelet also refuses an image whose USER is root or not numeric.
 */
export function configRefusal(pod: KObject, c: any, envError?: string): ContainerRefusal | null {
  if (envError) return { reason: "CreateContainerConfigError", message: envError };
  const runAsNonRoot = c.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
  const runAsUser = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  if (runAsNonRoot === true && runAsUser === 0) {
    const who = `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
    return { reason: "CreateContainerConfigError", message: `container's runAsUser breaks non-root policy (pod: "${who}", container: ${c.name})` };
  }
  return null;
}
