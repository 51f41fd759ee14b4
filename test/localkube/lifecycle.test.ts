// Pod lifecycle driven by real processes: phases, exit codes, watch events, deletion, deadlines,
// termination messages, start errors and the worker image mapping.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Watch, type V1Pod } from "@kubernetes/client-node";
import { alive, waitDead, podSpec, setup, sleep, terminal, waitForGone, waitForPod, WORKER_IMAGE, type Env } from "./helpers.ts";

let env: Env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

const create = (body: V1Pod) => env.core.createNamespacedPod({ namespace: "default", body });
const term = (p: V1Pod) => p.status?.containerStatuses?.[0]?.state?.terminated;
const cond = (p: V1Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);

/** Collects watch events until `until` returns true (or the timeout passes). */
async function collect(path: string, query: Record<string, string | number | boolean | undefined>, until: (evs: { type: string; obj: any }[]) => boolean, timeoutMs = 30_000) {
  const evs: { type: string; obj: any }[] = [];
  let ctl: AbortController | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watch timed out; got ${JSON.stringify(evs.map((e) => [e.type, e.obj?.status?.phase]))}`)), timeoutMs);
    void new Watch(env.kc)
      .watch(
        path,
        query,
        (type, obj) => {
          evs.push({ type, obj });
          if (until(evs)) {
            clearTimeout(timer);
            resolve();
          }
        },
        (err) => {
          clearTimeout(timer);
          if (until(evs)) resolve();
          else reject(err ?? new Error("watch ended early"));
        },
      )
      .then((c) => (ctl = c));
  });
  return {
    evs,
    done: finished.finally(() => ctl?.abort()),
  };
}

describe("pod lifecycle", () => {
  it("a failing command ends Failed with its exit code and reason Error", async () => {
    await create(podSpec("fail-3", ["sh", "-c", "echo hello; echo err >&2; exit 3"]));
    const p = await waitForPod(env.core, "fail-3", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(term(p)?.exitCode, 3);
    assert.equal(term(p)?.reason, "Error");
    assert.equal(cond(p, "Ready")?.status, "False");
    assert.equal(cond(p, "ContainersReady")?.reason, "PodFailed");
    assert.equal(cond(p, "PodScheduled")?.status, "True");
    assert.ok(p.status?.startTime);
  });

  it("a successful command ends Succeeded with reason Completed", async () => {
    await create(podSpec("ok-0", ["sh", "-c", "exit 0"]));
    const p = await waitForPod(env.core, "ok-0", terminal);
    assert.equal(p.status?.phase, "Succeeded");
    assert.equal(term(p)?.exitCode, 0);
    assert.equal(term(p)?.reason, "Completed");
    assert.equal(cond(p, "Ready")?.reason, "PodCompleted");
  });

  it("watch from a list's resourceVersion sees ADDED, Running, Succeeded, DELETED in order", async () => {
    const list = await env.core.listNamespacedPod({ namespace: "default" });
    const w = await collect(
      "/api/v1/namespaces/default/pods",
      { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=watched" },
      (evs) => evs.some((e) => e.type === "DELETED"),
    );
    await create(podSpec("watched", ["sh", "-c", "sleep 0.3"]));
    await waitForPod(env.core, "watched", terminal);
    await env.core.deleteNamespacedPod({ name: "watched", namespace: "default" });
    await w.done;
    const seq = w.evs.map((e) => `${e.type}:${e.obj.status?.phase}`);
    assert.equal(seq[0], "ADDED:Pending");
    const running = seq.indexOf("MODIFIED:Running");
    const succeeded = seq.indexOf("MODIFIED:Succeeded");
    assert.ok(running > 0 && succeeded > running, `unexpected order: ${seq.join(" ")}`);
    assert.equal(seq[seq.length - 1], "DELETED:Succeeded");
    const rvs = w.evs.map((e) => Number(e.obj.metadata.resourceVersion));
    assert.deepEqual(rvs, [...rvs].sort((a, b) => a - b));
    assert.equal(new Set(rvs).size, rvs.length);
  });

  it("a watch without resourceVersion starts with synthetic ADDED events", async () => {
    await create(podSpec("synthetic", ["true"]));
    await waitForPod(env.core, "synthetic", terminal);
    const w = await collect("/api/v1/namespaces/default/pods", { fieldSelector: "metadata.name=synthetic", timeoutSeconds: 1 }, () => false, 30_000).catch(() => undefined);
    assert.ok(w);
    await w.done.catch(() => undefined);
    assert.deepEqual(w.evs.map((e) => e.type), ["ADDED"]);
    assert.equal(w.evs[0].obj.status.phase, "Succeeded");
  });

  it("graceful delete: deletionTimestamp first, SIGTERM to the process group, then the object goes", async () => {
    await create(podSpec("sleeper", ["sh", "-c", "sleep 60 & echo $!; wait"], { terminationGracePeriodSeconds: 20 }));
    await waitForPod(env.core, "sleeper", (p) => p.status?.phase === "Running");
    let childPid = 0;
    for (let i = 0; i < 200 && !childPid; i++) {
      childPid = Number((await env.core.readNamespacedPodLog({ name: "sleeper", namespace: "default" })).trim());
      if (!childPid) await sleep(50);
    }
    assert.ok(childPid > 0 && alive(childPid));
    const list = await env.core.listNamespacedPod({ namespace: "default", fieldSelector: "metadata.name=sleeper" });
    const w = await collect(
      "/api/v1/namespaces/default/pods",
      { resourceVersion: list.metadata?.resourceVersion, fieldSelector: "metadata.name=sleeper" },
      (evs) => evs.some((e) => e.type === "DELETED"),
    );
    const resp = await env.core.deleteNamespacedPod({ name: "sleeper", namespace: "default" });
    assert.ok(resp.metadata?.deletionTimestamp);
    assert.equal(resp.metadata?.deletionGracePeriodSeconds, 20);
    await w.done;
    assert.equal(w.evs[0].type, "MODIFIED");
    assert.ok(w.evs[0].obj.metadata.deletionTimestamp);
    const final = w.evs[w.evs.length - 1].obj;
    assert.equal(final.status.phase, "Failed");
    assert.equal(final.status.containerStatuses[0].state.terminated.exitCode, 143);
    assert.equal(await waitDead(childPid), true, "the backgrounded child should have been killed with its group");
    await waitForGone(env.core, "sleeper");
  });

  it("gracePeriodSeconds=0 removes the pod at once and kills the process", async () => {
    await create(podSpec("instant", ["sleep", "60"]));
    await waitForPod(env.core, "instant", (p) => p.status?.phase === "Running");
    const resp = await env.core.deleteNamespacedPod({ name: "instant", namespace: "default", gracePeriodSeconds: 0 });
    assert.equal(resp.metadata?.name, "instant");
    const r = await fetch(`${env.lk.url}/api/v1/namespaces/default/pods/instant`);
    assert.equal(r.status, 404);
  });

  it("activeDeadlineSeconds fails the pod with DeadlineExceeded", async () => {
    await create(podSpec("deadline", ["sleep", "60"], { activeDeadlineSeconds: 1, terminationGracePeriodSeconds: 5 }));
    const p = await waitForPod(env.core, "deadline", (p) => terminal(p) && !!term(p));
    assert.equal(p.status?.phase, "Failed");
    assert.equal(p.status?.reason, "DeadlineExceeded");
    assert.equal(p.status?.message, "Pod was active on the node longer than the specified deadline");
    assert.equal(term(p)?.exitCode, 143);
  });

  it("each pod gets its own termination message file", async () => {
    await create(podSpec("msg-a", ["sh", "-c", `echo '{"rows":42}' > /dev/termination-log; sleep 0.2`]));
    await create(podSpec("msg-b", ["sh", "-c", `echo '{"rows":7}' > /dev/termination-log; sleep 0.2`]));
    const a = await waitForPod(env.core, "msg-a", terminal);
    const b = await waitForPod(env.core, "msg-b", terminal);
    assert.equal(term(a)?.message, '{"rows":42}\n');
    assert.equal(term(b)?.message, '{"rows":7}\n');
  });

  it("FallbackToLogsOnError uses the log tail when the file is empty and the exit is non-zero", async () => {
    const body = podSpec("fallback", ["sh", "-c", "echo one; echo two >&2; exit 1"]);
    body.spec!.containers[0].terminationMessagePolicy = "FallbackToLogsOnError";
    await create(body);
    const p = await waitForPod(env.core, "fallback", terminal);
    assert.equal(term(p)?.message, "one\ntwo\n");
  });

  it("a command missing from PATH is a StartError with exit 128", async () => {
    await create(podSpec("no-such", ["definitely-not-a-command-xyz"]));
    const p = await waitForPod(env.core, "no-such", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(term(p)?.reason, "StartError");
    assert.equal(term(p)?.exitCode, 128);
    assert.match(term(p)?.message ?? "", /executable file not found in \$PATH/);
  });

  it("a non-worker image without command cannot run and says why", async () => {
    const body = podSpec("no-cmd", []);
    delete body.spec!.containers[0].command;
    await create(body);
    const p = await waitForPod(env.core, "no-cmd", terminal);
    assert.equal(p.status?.phase, "Failed");
    assert.equal(term(p)?.reason, "StartError");
    assert.match(term(p)?.message ?? "", /host processes.*command/);
  });

  it("the worker image runs workerCommand with the container's args (command ignored)", async () => {
    const body = podSpec("worker", ["ignored-entrypoint"], {}, WORKER_IMAGE);
    body.spec!.containers[0].args = ["run", "$(TASK)"];
    body.spec!.containers[0].env = [{ name: "TASK", value: "count" }];
    await create(body);
    const p = await waitForPod(env.core, "worker", terminal);
    assert.equal(p.status?.phase, "Succeeded");
    const log = await env.core.readNamespacedPodLog({ name: "worker", namespace: "default" });
    assert.equal(log, "worker run count\n");
  });

  it("passes the pod's env and runs in a fresh working directory", async () => {
    const body = podSpec("envcheck", ["sh", "-c", 'echo "$GREETING"; ls -A | wc -l']);
    body.spec!.containers[0].env = [{ name: "GREETING", value: "hi there" }];
    await create(body);
    await waitForPod(env.core, "envcheck", terminal);
    const log = await env.core.readNamespacedPodLog({ name: "envcheck", namespace: "default" });
    assert.deepEqual(log.split("\n").map((s) => s.trim()), ["hi there", "0", ""]);
  });
});

describe("watch history", () => {
  it("a resourceVersion older than the history window gets 200 then an ERROR 410 Expired event", async () => {
    const small = await setup({ watchHistorySeconds: 1 });
    try {
      const list = await small.core.listNamespacedPod({ namespace: "default" });
      await small.core.createNamespacedPod({ namespace: "default", body: podSpec("old", ["true"]) });
      await waitForPod(small.core, "old", terminal);
      await sleep(1500);
      const evs: { type: string; obj: any }[] = [];
      const err = await new Promise<unknown>((resolve) => {
        void new Watch(small.kc).watch(
          "/api/v1/namespaces/default/pods",
          { resourceVersion: list.metadata?.resourceVersion },
          (type, obj) => evs.push({ type, obj }),
          resolve,
        );
      });
      assert.equal(err ?? null, null);
      assert.equal(evs.length, 1);
      assert.equal(evs[0].type, "ERROR");
      assert.equal(evs[0].obj.code, 410);
      assert.equal(evs[0].obj.reason, "Expired");
      assert.match(evs[0].obj.message, /^too old resource version: \d+ \(\d+\)$/);
    } finally {
      await small.close();
    }
  });
});
