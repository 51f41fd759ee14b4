// Checks the security contexts of a Pod (podSecurityContext) and of its containers (securityContext).
import {
  checkBoolean,
  checkFields,
  checkInt,
  checkKeyedList,
  checkObject,
  checkString,
  checkStringArray,
  describe,
  joinPath,
  passThroughObject,
  type Problems,
} from "./check.ts";
import type { SourcePosition } from "./types.ts";

const SECCOMP_TYPES = ["RuntimeDefault", "Localhost", "Unconfined"];

function checkSeccomp(problems: Problems, path: string, value: unknown, at?: SourcePosition): unknown {
  const profile = checkObject(problems, path, value, `{ type: "RuntimeDefault" }`, at);
  if (profile === undefined) return undefined;
  const out = checkFields(
    problems,
    path,
    profile,
    {
      type: (p, v) => (SECCOMP_TYPES.includes(v as string) ? v : problems.add(p, `must be one of ${SECCOMP_TYPES.join(", ")}, got ${describe(v)}`, at)),
      localhostProfile: (p, v) => checkString(problems, p, v, at),
    },
    "seccompProfile",
    at,
  );
  if (profile.type === undefined) problems.add(joinPath(path, "type"), `is required: ${SECCOMP_TYPES.join(", ")}`, at);
  else if ((profile.type === "Localhost") !== (profile.localhostProfile !== undefined)) {
    problems.add(joinPath(path, "localhostProfile"), 'is required with type "Localhost", and only then', at);
  }
  return out;
}

export function checkSecurityContext(problems: Problems, path: string, value: unknown, level: "container" | "pod", at?: SourcePosition): unknown {
  const sc = checkObject(problems, path, value, level === "pod" ? "{ runAsUser: 1000, fsGroup: 2000 }" : "{ runAsUser: 1000, readOnlyRootFilesystem: true }", at);
  if (sc === undefined) return undefined;
  const int = (p: string, v: unknown) => checkInt(problems, p, v, 0, at);
  const bool = (p: string, v: unknown) => checkBoolean(problems, p, v, at);
  const shared = {
    runAsUser: int,
    runAsGroup: int,
    runAsNonRoot: bool,
    seccompProfile: (p: string, v: unknown) => checkSeccomp(problems, p, v, at),
    seLinuxOptions: passThroughObject(problems, at),
    appArmorProfile: passThroughObject(problems, at),
    windowsOptions: passThroughObject(problems, at),
  };
  const checks =
    level === "container"
      ? {
          ...shared,
          readOnlyRootFilesystem: bool,
          allowPrivilegeEscalation: bool,
          privileged: bool,
          procMount: (p: string, v: unknown) => (v === "Default" || v === "Unmasked" ? v : problems.add(p, `must be "Default" or "Unmasked", got ${describe(v)}`, at)),
          capabilities: (p: string, v: unknown) => {
            const caps = checkObject(problems, p, v, `{ drop: ["ALL"], add: ["NET_BIND_SERVICE"] }`, at);
            if (caps === undefined) return undefined;
            const list = (q: string, x: unknown) => checkStringArray(problems, q, x, at);
            return checkFields(problems, p, caps, { add: list, drop: list }, "capabilities", at);
          },
        }
      : {
          ...shared,
          fsGroup: int,
          fsGroupChangePolicy: (p: string, v: unknown) => (v === "Always" || v === "OnRootMismatch" ? v : problems.add(p, `must be "Always" or "OnRootMismatch", got ${describe(v)}`, at)),
          supplementalGroups: (p: string, v: unknown) => {
            if (Array.isArray(v) && v.every((g) => typeof g === "number" && Number.isInteger(g) && g >= 0)) return v;
            return problems.add(p, `must be an array of group ids (non-negative integers), got ${describe(v)}`, at);
          },
          supplementalGroupsPolicy: (p: string, v: unknown) => (v === "Merge" || v === "Strict" ? v : problems.add(p, `must be "Merge" or "Strict", got ${describe(v)}`, at)),
          sysctls: (p: string, v: unknown) => checkKeyedList(problems, p, v, "name", `{ name: "net.ipv4.ip_local_port_range", value: "1024 65535" }`, at),
        };
  const out = checkFields(problems, path, sc, checks, level === "pod" ? "podSecurityContext" : "securityContext", at);
  if (sc.privileged === true && sc.allowPrivilegeEscalation === false) {
    problems.add(joinPath(path, "allowPrivilegeEscalation"), "cannot be false with privileged: true (Kubernetes refuses the Pod)", at);
  }
  return out;
}
