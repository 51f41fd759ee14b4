// What the executor does next for a try, for every ordering of what it can hear: the pure rule in
// executor/try-step.ts, walked through whole lives and checked over every situation it can be in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { nextStep, type TryPhase, type TrySituation, type TryStep } from "../../executor/try-step.ts";
import { newHandle, observePod, podGone, situationOf } from "../../executor/try-handle.ts";
import type { PodProgress } from "../../executor/pod-outcome.ts";
import type { ActiveTry } from "../../executor/tries.repository.ts";

const pending: PodProgress = { kind: "pending" };
const running: PodProgress = { kind: "running", startedAt: new Date() };
const finished: PodProgress = {
  kind: "finished",
  outcome: { succeeded: true, exitCode: 0, reason: "Completed", message: null, terminationMessage: null, startedAt: null, finishedAt: null, disrupted: false },
};
const stuck: PodProgress = { kind: "stuck", reason: "InvalidImageName", message: "bad image", fatal: true };

function fresh(over: Partial<TrySituation> = {}): TrySituation {
  return {
    phase: "unborn",
    creating: false,
    createDue: true,
    createRefused: false,
    pod: null,
    gone: false,
    stopRequested: false,
    stopIssued: false,
    deleteIssued: false,
    stuckNoted: false,
    runningRecorded: false,
    overdue: false,
    timedOut: false,
    log: "none",
    ...over,
  };
}

/** Applies to `s` what taking `step` does when every request succeeds at once. */
function taken(s: TrySituation, step: TryStep): void {
  switch (step.kind) {
    case "create":
      s.phase = "createSent";
      s.creating = true;
      break;
    case "deleteUnseen":
      s.phase = "live";
      s.deleteIssued = true;
      break;
    case "readPod":
      s.pod = s.phase === "ended" ? finished : pending;
      break;
    case "startLogCopy":
      s.log = "copying";
      break;
    case "recordRunning":
      s.runningRecorded = true;
      break;
    case "recordOutcome":
      s.phase = "ended";
      break;
    case "countStoredLog":
      s.log = "copied";
      break;
    case "recordLogDone":
      s.phase = "logSafe";
      break;
    case "noteStuck":
      s.stuckNoted = true;
      break;
    case "stopOverdue":
      s.timedOut = true;
      s.overdue = false;
      break;
    case "killOverdue":
      s.deleteIssued = true;
      break;
    case "deleteStuck":
      s.deleteIssued = true;
      break;
    case "stopPod":
      if (s.pod?.kind === "running") s.stopIssued = true;
      else s.deleteIssued = true;
      break;
    default:
      break;
  }
}

/** Takes steps until nextStep says wait (or lets go of the try); returns their kinds. */
function steps(s: TrySituation): string[] {
  const kinds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const step = nextStep(s);
    if (step.kind === "wait") return kinds;
    kinds.push(step.kind);
    if (step.kind === "reclaim" || step.kind === "endCancelledUnborn" || step.kind === "endRefused") return kinds;
    taken(s, step);
  }
  throw new Error(`no end to the steps: ${kinds.join(", ")}`);
}

describe("nextStep through a try's life", () => {
  it("runs a Pod, copies its log while it runs, records the outcome before the log ends, deletes the Pod last", () => {
    const s = fresh();
    assert.deepEqual(steps(s), ["create"]);
    s.creating = false; // answered: created, as Pending
    s.phase = "live";
    s.pod = pending;
    assert.deepEqual(steps(s), []);
    s.pod = running;
    assert.deepEqual(steps(s), ["startLogCopy", "recordRunning"]);
    s.pod = finished;
    assert.deepEqual(steps(s), ["recordOutcome"], "the outcome does not wait for the log");
    s.log = "copied";
    assert.deepEqual(steps(s), ["recordLogDone", "reclaim"]);
  });

  it("follows a Pod the watch showed finished before the create was answered", () => {
    const s = fresh({ phase: "createSent", creating: true });
    s.phase = "live"; // observePod: a Pod seen is a Pod that exists
    s.pod = finished;
    assert.deepEqual(steps(s), ["startLogCopy", "recordRunning", "recordOutcome"]);
  });

  it("waits for a create on its way before acting on a cancel, then stops the Pod it made", () => {
    const s = fresh({ phase: "createSent", creating: true, stopRequested: true });
    assert.deepEqual(steps(s), []);
    s.creating = false;
    s.phase = "live";
    s.pod = pending;
    assert.equal(nextStep(s).kind, "stopPod");
  });

  it("stops a running cancelled Pod once and keeps it until it ended and its log is stored", () => {
    const s = fresh({ phase: "live", pod: running, log: "copying", runningRecorded: true, stopRequested: true });
    assert.deepEqual(steps(s), ["stopPod"]);
    assert.equal(s.stopIssued, true);
    assert.deepEqual(steps(s), [], "asked once; the kubelet ends it");
    s.pod = finished;
    assert.deepEqual(steps(s), ["recordOutcome"]);
    assert.deepEqual(steps(s), [], "the Pod stays while the copy drains");
  });

  it("stops a container the cluster let run past its timeout, then deletes it if it still runs", () => {
    const s = fresh({ phase: "live", pod: running, log: "copying", runningRecorded: true, overdue: true });
    assert.deepEqual(steps(s), ["stopOverdue"], "first as a cancel does: the log stays whole");
    s.overdue = true; // the grace has passed again and it still runs
    assert.deepEqual(steps(s), ["killOverdue"]);
    s.gone = true;
    assert.deepEqual(steps(s), ["recordOutcome"]);
  });

  it("ends a try cancelled before any create without a Pod", () => {
    assert.deepEqual(steps(fresh({ stopRequested: true })), ["endCancelledUnborn"]);
  });

  it("deletes the Pod a lost create answer may have made when the try is cancelled", () => {
    assert.deepEqual(steps(fresh({ phase: "createSent", stopRequested: true })), ["deleteUnseen", "readPod"], "then it is followed to its end");
  });

  it("sends a create again after a transient failure only when it is due", () => {
    assert.deepEqual(steps(fresh({ phase: "createSent", createDue: false })), []);
    assert.equal(nextStep(fresh({ phase: "createSent", createDue: true })).kind, "create");
  });

  it("fails a try whose create was refused for good", () => {
    assert.deepEqual(steps(fresh({ phase: "createSent", createRefused: true })), ["endRefused"]);
  });

  it("notes why a Pod cannot start, deletes it, and records the outcome when it is gone", () => {
    const s = fresh({ phase: "live", pod: stuck });
    assert.deepEqual(steps(s), ["noteStuck", "deleteStuck"]);
    s.gone = true;
    assert.deepEqual(steps(s), ["recordOutcome", "countStoredLog", "recordLogDone", "reclaim"]);
  });

  it("records a Pod that vanished as ended and keeps what earlier copies stored", () => {
    const s = fresh({ phase: "live", pod: running, runningRecorded: true, log: "copying", gone: true });
    assert.deepEqual(steps(s), ["recordOutcome"], "the copy still running drains what it can");
    const adopted = fresh({ phase: "ended", runningRecorded: true, gone: true });
    assert.deepEqual(steps(adopted), ["countStoredLog", "recordLogDone", "reclaim"]);
  });

  it("reads the Pod of an adopted ended try, then resumes its log copy", () => {
    assert.deepEqual(steps(fresh({ phase: "ended", runningRecorded: true })), ["readPod", "startLogCopy"]);
  });

  it("reads a Pod it holds but has not seen (adopted, or answered 409): a finished Pod sends no more events", () => {
    const s = fresh({ phase: "live", runningRecorded: true });
    assert.deepEqual(steps(s), ["readPod"]);
  });
});

describe("nextStep in every situation", () => {
  const phases: TryPhase[] = ["unborn", "createSent", "live", "ended", "logSafe"];
  const pods: (PodProgress | null)[] = [null, pending, running, finished, stuck];
  const logs: TrySituation["log"][] = ["none", "copying", "copied"];
  const flags = ["creating", "createDue", "createRefused", "gone", "stopRequested", "stopIssued", "deleteIssued", "stuckNoted", "runningRecorded", "overdue", "timedOut"] as const;

  function* every(): Generator<TrySituation> {
    for (const phase of phases)
      for (const pod of pods)
        for (const log of logs)
          for (let bits = 0; bits < 1 << flags.length; bits++) {
            const s = fresh({ phase, pod, log });
            flags.forEach((f, i) => (s[f] = (bits & (1 << i)) !== 0));
            yield s;
          }
  }

  it("deletes a Pod only once its log is safe, or when it never ran, or for a cancel or lost create", () => {
    let checked = 0;
    for (const s of every()) {
      const step = nextStep(s).kind;
      checked++;
      if (step === "reclaim") assert.equal(s.phase, "logSafe");
      if (step === "deleteStuck") assert.ok(s.pod?.kind !== "running" && s.pod?.kind !== "finished", "a started Pod is never deleted as stuck");
      if (step === "stopPod") assert.ok(s.stopRequested && s.pod && s.pod.kind !== "finished");
      if (step === "deleteUnseen") assert.ok(s.stopRequested && s.phase === "createSent" && !s.creating);
      if (step === "killOverdue") assert.ok(s.timedOut && s.overdue && s.pod?.kind === "running", "killed only after Ferry's own stop was ignored");
    }
    assert.equal(checked, phases.length * pods.length * logs.length * (1 << flags.length));
  });

  it("never creates a Pod for a cancelled try, nor twice at once", () => {
    for (const s of every()) {
      if (nextStep(s).kind !== "create") continue;
      assert.equal(s.stopRequested, false);
      assert.equal(s.creating, false);
      assert.ok(s.phase === "unborn" || s.phase === "createSent");
    }
  });

  it("does nothing but wait while a create is on its way", () => {
    for (const s of every()) if (s.phase === "createSent" && s.creating) assert.equal(nextStep(s).kind, "wait");
  });

  it("records an outcome only for a Pod that finished or is gone, and never a second time", () => {
    for (const s of every()) {
      if (nextStep(s).kind !== "recordOutcome") continue;
      assert.equal(s.phase, "live");
      assert.ok(s.gone || s.pod?.kind === "finished");
    }
  });

  it("starts a log copy only for a container that started, and never beside another", () => {
    for (const s of every()) {
      if (nextStep(s).kind !== "startLogCopy") continue;
      assert.equal(s.log, "none");
      assert.ok(s.pod?.kind === "running" || s.pod?.kind === "finished" || (s.phase === "ended" && s.runningRecorded && !s.gone));
    }
  });

  it("reaches the end of every life when each request succeeds", () => {
    for (const s of every()) {
      // Follow the world as a cluster would move it: a create is answered, a stuck or stopped Pod goes.
      const world = { ...s };
      let ended = false;
      for (let i = 0; i < 40 && !ended; i++) {
        const step = nextStep(world);
        if (step.kind === "reclaim" || step.kind === "endCancelledUnborn" || step.kind === "endRefused") ended = true;
        else if (step.kind !== "wait") taken(world, step);
        else if (world.creating) {
          world.creating = false; // answered: created, Pending
          world.phase = "live";
          world.pod = pending;
        }
        else if (!world.createDue) world.createDue = true;
        else if (world.phase === "createSent") world.phase = "live";
        else if (world.log === "copying") world.log = "copied";
        else if (world.deleteIssued && !world.gone) world.gone = true;
        else if (world.pod?.kind === "pending" || world.pod?.kind === "stuck" || world.pod?.kind === "running") world.pod = finished;
        else assert.fail(`stuck waiting in ${JSON.stringify(world)}`);
      }
      assert.ok(ended, `no end from ${JSON.stringify(s)}`);
    }
  });
});

describe("a try's handle", () => {
  const t = (over: Partial<ActiveTry>): ActiveTry => ({
    taskInstanceId: "1",
    tryNumber: 1,
    namespace: "ferry",
    podName: "p",
    runPk: "1",
    dagId: "d",
    runId: "r",
    taskId: "t",
    dagVersion: 1,
    logicalDate: new Date(),
    params: {},
    state: "queued",
    startedAt: null,
    endedAt: null,
    logComplete: false,
    logCheckpoint: null,
    ...over,
  });
  const at = (h: ReturnType<typeof newHandle>, now = new Date()) => situationOf(h, now, { pendingTimeoutMs: 60_000, timeoutGraceMs: 30_000 });

  it("starts in the phase Postgres implies", () => {
    assert.equal(newHandle(t({}), "claimed").phase, "unborn");
    assert.equal(newHandle(t({}), "adopted").phase, "createSent", "the executor before may have sent its create");
    assert.equal(newHandle(t({ state: "running", startedAt: new Date() }), "adopted").phase, "live");
    assert.equal(newHandle(t({ state: "success", endedAt: new Date() }), "adopted").phase, "ended");
    assert.equal(newHandle(t({ state: "success", endedAt: new Date(), logComplete: true }), "adopted").phase, "logSafe");
  });

  it("an adopted queued try that is cancelled deletes the Pod that may exist instead of forgetting it", () => {
    const h = newHandle(t({}), "adopted");
    h.stopRequested = true;
    assert.equal(nextStep(at(h)).kind, "deleteUnseen");
  });

  it("a sighting of the Pod moves a try whose create is unanswered to live; a late Pending never undoes Running", () => {
    const h = newHandle(t({}), "claimed");
    h.phase = "createSent";
    h.creating = true;
    observePod(h, { metadata: { name: "p", uid: "u", resourceVersion: "2" }, status: { phase: "Running" } });
    assert.equal(h.phase, "live");
    observePod(h, { metadata: { name: "p", uid: "u", resourceVersion: "1" }, status: { phase: "Pending" } });
    assert.equal(at(h).pod?.kind, "running");
    assert.equal(nextStep(at(h)).kind, "startLogCopy");
  });

  it("a running container is overdue once past its timeout and the grace, by the task's timeout or the Pod's deadline", () => {
    const started = new Date("2026-01-01T00:00:00Z");
    const runningPod = { metadata: { name: "p", uid: "u" }, spec: { containers: [], activeDeadlineSeconds: 60 }, status: { phase: "Running", startTime: started } };
    const h = newHandle(t({ state: "running", startedAt: started }), "adopted");
    observePod(h, runningPod);
    const after = (s: number) => new Date(started.getTime() + s * 1000);
    assert.equal(at(h, after(89)).overdue, false, "the Pod's own deadline (60 s) and 30 s of grace");
    assert.equal(at(h, after(91)).overdue, true);
    h.task = { taskId: "t", kind: "pod", pod: { image: "x" }, dependsOn: [], retries: 0, retryDelayMs: 0, retryBackoff: "fixed", timeoutMs: 120_000, triggerRule: "all_success" };
    assert.equal(at(h, after(91)).overdue, false, "the task's timeout when it is known");
    assert.equal(at(h, after(151)).overdue, true);
    h.timedOut = { atMs: after(151).getTime(), timeoutMs: 120_000 };
    assert.equal(at(h, after(170)).overdue, false, "Ferry's stop gets the grace again");
    assert.equal(at(h, after(182)).overdue, true);
  });

  it("a Pod deleted before its create was answered is followed to its end", () => {
    const h = newHandle(t({}), "claimed");
    h.phase = "createSent";
    podGone(h);
    assert.equal(h.phase, "live");
    assert.equal(nextStep(at(h)).kind, "recordOutcome");
  });
});
