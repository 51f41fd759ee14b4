// Memory limits. A real container's cgroup makes the kernel OOM-kill it the moment it exceeds
// `resources.limits.memory`; host processes have no such cgroup here, so localkube approximates it:
// every POLL_MS it sums the resident set size (VmRSS) of every process in each watched pod's process
// group and SIGKILLs the group once the sum is over the limit. Approximate because a short spike
// between two polls goes unseen, RSS is not the cgroup's accounting (no page cache, shared pages
// counted per process), and a process that leaves its group (setsid) escapes. Only on hosts with a
// readable /proc (Linux); elsewhere limits are not enforced.

import { readdirSync, readFileSync } from "node:fs";

const POLL_MS = 100;

interface Watched {
  limitBytes: number;
  onExceeded: (usedBytes: number) => void;
}

/** True when /proc exposes per-process RSS the way this watcher reads it. */
export function canMeasureMemory(): boolean {
  try {
    return /VmRSS:\s+\d+ kB/.test(readFileSync(`/proc/${process.pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** Bytes of resident memory per process group id, for the groups asked about. */
function rssByGroup(groups: Set<number>): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // comm may contain spaces and parens: the fields after the last ')' are fixed; pgrp is the 3rd.
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      if (!groups.has(pgrp)) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) out.set(pgrp, (out.get(pgrp) ?? 0) + Number(m[1]) * 1024);
    } catch {
      // the process exited between readdir and read
    }
  }
  return out;
}

export class MemoryWatcher {
  private watched = new Map<number, Watched>();
  private timer: NodeJS.Timeout | undefined;
  readonly enabled = canMeasureMemory();

  /** Watches a process group (its leader's pid); returns the function that stops watching. */
  watch(pgid: number, limitBytes: number, onExceeded: (usedBytes: number) => void): () => void {
    if (!this.enabled) return () => {};
    this.watched.set(pgid, { limitBytes, onExceeded });
    this.timer ??= setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    return () => this.unwatch(pgid);
  }

  close(): void {
    this.watched.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private unwatch(pgid: number): void {
    this.watched.delete(pgid);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private poll(): void {
    const usage = rssByGroup(new Set(this.watched.keys()));
    for (const [pgid, w] of [...this.watched]) {
      const used = usage.get(pgid) ?? 0;
      if (used > w.limitBytes) {
        this.unwatch(pgid);
        w.onExceeded(used);
      }
    }
  }
}
