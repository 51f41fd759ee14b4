// Runs a container's command as a host process. Each process leads its own process group so that
// killing the pod also kills what it forked (`sh -c` children), the way a container's cgroup would.
// When we can, the process runs in a private mount namespace where a per-pod file is bind-mounted over
// terminationMessagePath, so two pods writing /dev/termination-log at once don't collide.

import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync, mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

/** How each pod gets its own termination-message file; tools are absolute so a pod's PATH can't matter. */
export type MessageIsolation = { mode: "mount-namespace"; unshare: string; mount: string; sh: string } | { mode: "env" };

// Bind-mounts $1 over $2, then execs the rest: after `exec` the pid is the user's command, so signals
// and exit codes are its own. Exit 128 marks a setup failure, like a runtime's StartError.
// stderr joins stdout's pipe so the log keeps the exact order of writes (two pipes race each other).
const WRAPPER = 'm="$1"; shift; "$m" --bind "$1" "$2" || { echo "localkube: cannot bind the termination message file over $2" >&2; exit 128; }; shift 2; exec "$@" 2>&1';
const MERGE_ONLY = 'exec "$@" 2>&1';

/** Checks once whether `unshare --mount` + bind mounts work here (root, unshare, mount present). */
export async function detectIsolation(): Promise<MessageIsolation> {
  const env: MessageIsolation = { mode: "env" };
  if (process.platform !== "linux" || process.getuid?.() !== 0) return env;
  const unshare = resolveExecutable("unshare", process.env.PATH);
  const mount = resolveExecutable("mount", process.env.PATH);
  const sh = resolveExecutable("sh", process.env.PATH);
  if (!unshare || !mount || !sh) return env;
  const dir = mkdtempSync(join(tmpdir(), "localkube-probe-"));
  try {
    const src = join(dir, "src");
    const dst = join(dir, "dst");
    writeFileSync(src, "inside");
    writeFileSync(dst, "outside");
    const ok = await new Promise<boolean>((resolve) => {
      const p = spawn(unshare, ["--mount", "--propagation", "private", "--", sh, "-c", WRAPPER, "sh", mount, src, dst, "cat", dst], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.on("error", () => resolve(false));
      p.on("close", (code) => resolve(code === 0 && out === "inside"));
    });
    // The bind must not have leaked into our own namespace.
    return ok && readFileSync(dst, "utf8") === "outside" ? { mode: "mount-namespace", unshare, mount, sh } : env;
  } catch {
    return env;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves a command like execvp would, so "not found" becomes a clear StartError instead of exit 127. */
export function resolveExecutable(cmd: string, pathEnv: string | undefined): string | undefined {
  const ok = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (cmd.includes("/")) return ok(cmd) ? cmd : undefined;
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    if (ok(p)) return p;
  }
  return undefined;
}

/** Kubernetes `$(VAR)` expansion in command/args/env values; `$$(VAR)` escapes; unknown refs stay as is. */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)/g, (m, name?: string) => {
    if (m === "$$") return "$";
    return name !== undefined && Object.prototype.hasOwnProperty.call(env, name) ? env[name] : m;
  });
}

/**
 * Makes sure the mount target exists (a bind mount needs one). Creating an empty file at e.g.
 * /dev/termination-log on the host is harmless: nothing outside a pod's namespace writes it.
 */
export function ensureMountTarget(path: string): boolean {
  try {
    if (existsSync(path)) return statSync(path).isFile();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, "", { flag: "wx" });
    return true;
  } catch {
    return existsSync(path);
  }
}

export interface SpawnSpec {
  argv: string[]; // resolved executable first
  env: Record<string, string>;
  cwd: string;
  /** A shell used to merge stderr into stdout when there is no bind wrapper. */
  sh?: string;
  /** Bind this host file over `target` inside a private mount namespace. */
  messageBind?: { hostFile: string; target: string; tools: Extract<MessageIsolation, { mode: "mount-namespace" }> };
}

export function spawnContainer(spec: SpawnSpec): ChildProcess {
  const b = spec.messageBind;
  const [file, ...args] = b
    ? [b.tools.unshare, "--mount", "--propagation", "private", "--", b.tools.sh, "-c", WRAPPER, "sh", b.tools.mount, b.hostFile, b.target, ...spec.argv]
    : spec.sh
      ? [spec.sh, "-c", MERGE_ONLY, "sh", ...spec.argv]
      : spec.argv;
  return spawn(file, args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Signals the whole process group (the child leads it: spawned detached). Never falls back to the bare
 * pid: once the group is gone that pid may already belong to someone else.
 */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
