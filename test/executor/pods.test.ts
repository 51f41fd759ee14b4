// Pod names, labels and specs, and what a Pod's status means for its try: pure functions, no cluster.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { labelValue, podLabels, podNameFor } from "../../executor/pod-names.ts";
import { assessPod, judgeTry, parseResult, type PodOutcome } from "../../executor/pod-outcome.ts";
import { buildPod, TemplateRenderError } from "../../executor/pod-spec.ts";
import { afterFailure, infraRetryDelayMs } from "../../executor/retry-policy.ts";
import type { TaskDefinition } from "../../sdk/definition.ts";

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const id = { dagId: "Nightly_Report", runId: "manual__2026-01-01T00:00:00.000Z", taskId: "extract.v2", tryNumber: 3 };

describe("pod names and labels", () => {
  it("derives a DNS-1123 name of at most 63 characters from the try alone", () => {
    const name = podNameFor(id);
    assert.match(name, DNS1123);
    assert.ok(name.length <= 63);
    assert.equal(podNameFor(id), name, "deterministic");
    assert.notEqual(podNameFor({ ...id, tryNumber: 4 }), name);
    assert.notEqual(podNameFor({ ...id, runId: "other" }), name);
    const long = podNameFor({ dagId: "d".repeat(200), runId: "r", taskId: "t".repeat(200), tryNumber: 12 });
    assert.ok(long.length <= 63 && DNS1123.test(long));
  });

  it("makes label values label-safe, keeping distinct long ids distinct", () => {
    for (const v of Object.values(podLabels(id))) assert.match(v, LABEL_VALUE);
    assert.equal(labelValue("manual__2026-01-01T00:00:00.000Z"), "manual__2026-01-01T00_00_00.000Z");
    const a = labelValue("x".repeat(80) + "a");
    const b = labelValue("x".repeat(80) + "b");
    assert.ok(a.length <= 63 && b.length <= 63);
    assert.notEqual(a, b);
  });
});

const base = { dependsOn: [], retries: 0, retryDelayMs: 0, retryBackoff: "fixed" as const, timeoutMs: 120_000, triggerRule: "all_success" as const };
const settings = { namespace: "ferry", workerImage: "ferry/worker:1", workerBundle: { apiUrl: "http://api:8080", token: "fw_t" } };
const ctx = { ...id, dagVersion: 2, logicalDate: "2026-01-01T00:00:00.000Z", params: { region: "kr" }, tasks: { count: { result: { rows: 42 } } } };

describe("buildPod", () => {
  it("runs a pod task's own image with rendered templates, labels, and the timeout as activeDeadlineSeconds", () => {
    const task: TaskDefinition = {
      ...base,
      taskId: "extract.v2",
      kind: "pod",
      pod: { image: "alpine:3.20", command: ["sh", "-c", "echo {{ params.region }} {{ tasks.count.result.rows }} {{ logicalDate }}"], env: { TRY: "{{ tryNumber }}" } },
    };
    const pod = buildPod(task, ctx, settings);
    assert.equal(pod.metadata?.namespace, "ferry");
    assert.equal(pod.spec?.restartPolicy, "Never");
    assert.equal(pod.spec?.activeDeadlineSeconds, 120);
    assert.equal(pod.metadata?.labels?.["app.kubernetes.io/managed-by"], "ferry");
    assert.equal(pod.metadata?.annotations?.["ferry.dev/run"], id.runId);
    const c = pod.spec!.containers[0]!;
    assert.equal(c.image, "alpine:3.20");
    assert.deepEqual(c.command, ["sh", "-c", "echo kr 42 2026-01-01T00:00:00.000Z"]);
    assert.deepEqual(c.env, [{ name: "TRY", value: "3" }]);
  });

  it("runs a function task in the worker image with what it needs to fetch and run its bundle", () => {
    const task: TaskDefinition = { ...base, taskId: "count", kind: "function" };
    const pod = buildPod(task, { ...ctx, taskId: "count" }, settings);
    const c = pod.spec!.containers[0]!;
    assert.equal(c.image, "ferry/worker:1");
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.FERRY_API_URL, "http://api:8080");
    assert.equal(env.FERRY_WORKER_TOKEN, "fw_t");
    assert.equal(env.FERRY_BUNDLE, undefined);
    assert.equal(env.FERRY_DAG_VERSION, "2");
    assert.deepEqual(JSON.parse(env.FERRY_TASK_CONTEXT!).params, { region: "kr" });
  });

  it("hands a function task's small bundle to its worker inline, with no API address or token", () => {
    const task: TaskDefinition = { ...base, taskId: "count", kind: "function" };
    const pod = buildPod(task, { ...ctx, taskId: "count" }, { ...settings, workerBundle: { inline: "module.exports = 1;" } });
    const env = Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.FERRY_BUNDLE, "module.exports = 1;");
    assert.equal(env.FERRY_API_URL, undefined);
    assert.equal(env.FERRY_WORKER_TOKEN, undefined);
    assert.equal(env.FERRY_DAG_ID, id.dagId);
    assert.equal(env.FERRY_TASK_ID, "count");
  });

  it("refuses to build a function task's Pod without a way for its worker to get the bundle", () => {
    const task: TaskDefinition = { ...base, taskId: "count", kind: "function" };
    assert.throws(() => buildPod(task, { ...ctx, taskId: "count" }, { namespace: "ferry", workerImage: "w" }), /needs a way to get its bundle/);
  });

  it("fails clearly on a template that does not resolve", () => {
    const task: TaskDefinition = { ...base, taskId: "t", kind: "pod", pod: { image: "x", command: ["echo {{ tasks.nope.result }}"] } };
    assert.throws(() => buildPod(task, ctx, settings), TemplateRenderError);
  });
});

function pod(status: V1Pod["status"], created = new Date()): V1Pod {
  return { metadata: { name: "p", creationTimestamp: created }, status };
}

describe("assessPod", () => {
  const now = new Date();
  it("reads a success with its termination message", () => {
    const p = assessPod(
      pod({ phase: "Succeeded", containerStatuses: [{ name: "task", image: "x", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed", message: '{"rows":42}' } } }] }),
      now,
      60_000,
    );
    assert.equal(p.kind, "finished");
    assert.ok(p.kind === "finished" && p.outcome.succeeded && p.outcome.terminationMessage === '{"rows":42}');
  });

  it("prefers the Pod's reason (DeadlineExceeded) over the container's", () => {
    const p = assessPod(
      pod({
        phase: "Failed",
        reason: "DeadlineExceeded",
        message: "Pod was active on the node longer than the specified deadline",
        containerStatuses: [{ name: "task", image: "x", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: "Error" } } }],
      }),
      now,
      60_000,
    );
    assert.ok(p.kind === "finished" && p.outcome.reason === "DeadlineExceeded" && p.outcome.exitCode === 137 && !p.outcome.succeeded);
  });

  it("fails at once on a spec the kubelet can never start, as the task's own failure", () => {
    const waiting = (reason: string) => [{ name: "task", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message: `${reason}!` } } }];
    for (const reason of ["InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError"]) {
      const p = assessPod(pod({ phase: "Pending", containerStatuses: waiting(reason) }), now, 60_000);
      assert.deepEqual(p, { kind: "stuck", reason, message: `${reason}!`, fatal: true }, reason);
    }
  });

  it("fails after the start timeout on pull errors, no node, or a container never created, as the cluster's failure", () => {
    const waiting = (reason: string) => [{ name: "task", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason } } }];
    assert.equal(assessPod(pod({ phase: "Pending", containerStatuses: waiting("ImagePullBackOff") }), now, 60_000).kind, "pending");
    assert.equal(assessPod(pod({ phase: "Pending", containerStatuses: waiting("ContainerCreating") }), now, 60_000).kind, "pending");
    const old = new Date(now.getTime() - 120_000);
    const pull = assessPod(pod({ phase: "Pending", containerStatuses: waiting("ImagePullBackOff") }, old), now, 60_000);
    assert.ok(pull.kind === "stuck" && pull.reason === "ImagePullBackOff" && !pull.fatal);
    const unschedulable = pod({ phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available" }] }, old);
    const p = assessPod(unschedulable, now, 60_000);
    assert.ok(p.kind === "stuck" && p.reason === "Unschedulable" && !p.fatal);
    const creating = assessPod(pod({ phase: "Pending", containerStatuses: waiting("ContainerCreating") }, old), now, 60_000);
    assert.ok(creating.kind === "stuck" && creating.reason === "StartTimeout" && /within 60 s \(still ContainerCreating\)/.test(creating.message) && !creating.fatal);
    const notEvenAccepted = assessPod(pod({ phase: "Pending" }, old), now, 60_000);
    assert.ok(notEvenAccepted.kind === "stuck" && notEvenAccepted.reason === "StartTimeout");
  });

  it("tells a Pod the cluster ended (evicted, node lost, preempted, refused) from one whose task failed", () => {
    const failed = (status: Partial<NonNullable<V1Pod["status"]>>) => assessPod(pod({ phase: "Failed", ...status }), now, 60_000);
    const disrupted = (p: ReturnType<typeof assessPod>) => p.kind === "finished" && p.outcome.disrupted;
    assert.equal(disrupted(failed({ reason: "Evicted", message: "The node was low on resource: memory." })), true);
    assert.equal(disrupted(failed({ reason: "NodeLost" })), true);
    assert.equal(disrupted(failed({ reason: "OutOfcpu" })), true);
    assert.equal(disrupted(failed({ reason: "UnexpectedAdmissionError" })), true);
    assert.equal(disrupted(failed({ conditions: [{ type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler" }] })), true);
    assert.equal(disrupted(failed({ reason: "DeadlineExceeded" })), false);
    assert.equal(disrupted(failed({})), false);
    assert.equal(disrupted(failed({ conditions: [{ type: "DisruptionTarget", status: "False" }] })), false);
  });

  it("parses JSON results and keeps other text as a string", () => {
    assert.deepEqual(parseResult('{"rows":42}'), { rows: 42 });
    assert.equal(parseResult("done"), "done");
    assert.equal(parseResult(""), null);
    assert.equal(parseResult(null), null);
  });
});

describe("judgeTry", () => {
  const log = { complete: true, bytes: 12 };
  const ended = (over: Partial<PodOutcome>): PodOutcome => ({
    succeeded: true,
    exitCode: 0,
    reason: "Completed",
    message: null,
    terminationMessage: null,
    startedAt: null,
    finishedAt: null,
    disrupted: false,
    ...over,
  });
  const judge = (over: Partial<Parameters<typeof judgeTry>[0]>) => judgeTry({ cancelled: false, pod: null, stuck: null, timedOut: null, log, ...over });

  it("a succeeded Pod is a success with its termination message as the result", () => {
    const v = judge({ pod: ended({ terminationMessage: '{"rows":42}' }) });
    assert.equal(v.tryState, "success");
    assert.deepEqual(v.result, { rows: 42 });
    assert.equal(v.logBytes, 12);
  });

  it("a failed Pod is a retryable failure with its exit code and reason", () => {
    const v = judge({ pod: ended({ succeeded: false, exitCode: 3, reason: "Error" }) });
    assert.deepEqual([v.tryState, v.exitCode, v.reason, v.retryable, v.result, v.infra], ["failed", 3, "Error", true, null, false]);
  });

  it("a cancellation wins over how the Pod ended, and is not retried", () => {
    const v = judge({ cancelled: true, pod: ended({ succeeded: false, exitCode: 143 }), timedOut: { timeoutMs: 1000 } });
    assert.deepEqual([v.tryState, v.reason, v.retryable, v.exitCode], ["cancelled", "Cancelled", false, 143]);
  });

  it("a Pod that could not start fails with the reason it gave; one that vanished is PodLost", () => {
    assert.equal(judge({ stuck: { reason: "ImagePullBackOff", message: "x", fatal: false } }).reason, "ImagePullBackOff");
    const lost = judge({ log: { complete: false, bytes: 5 } });
    assert.deepEqual([lost.tryState, lost.reason, lost.logComplete], ["failed", "PodLost", false]);
  });

  it("failures outside the task are infrastructure failures; the task's own and a spec error are not", () => {
    assert.equal(judge({ pod: ended({ succeeded: false, reason: "Evicted", disrupted: true }) }).infra, true);
    assert.equal(judge({ stuck: { reason: "Unschedulable", message: "x", fatal: false } }).infra, true);
    assert.equal(judge({}).infra, true, "a Pod lost or deleted by someone else");
    assert.equal(judge({ stuck: { reason: "InvalidImageName", message: "x", fatal: true } }).infra, false);
    assert.equal(judge({ pod: ended({ succeeded: false, reason: "OOMKilled", exitCode: 137 }) }).infra, false);
    assert.equal(judge({ cancelled: true }).infra, false);
  });

  it("a Pod Ferry stopped for running past its timeout failed as DeadlineExceeded, counted", () => {
    const v = judge({ timedOut: { timeoutMs: 5000 }, pod: ended({ succeeded: false, exitCode: 137, reason: "Error" }) });
    assert.deepEqual([v.tryState, v.reason, v.infra, v.retryable], ["failed", "DeadlineExceeded", false, true]);
    assert.match(v.message!, /timeout of 5 s/);
    assert.equal(judge({ timedOut: { timeoutMs: 5000 } }).reason, "DeadlineExceeded", "also when it had to be deleted");
    assert.equal(judge({ timedOut: { timeoutMs: 5000 }, pod: ended({}) }).tryState, "success", "it finished just in time");
  });
});

describe("afterFailure", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const base = { now, tryNumber: 1, maxTries: 1, retryable: true, infra: false, infraUsed: 0, infraRetries: 3, retryDelayMs: 30_000 };

  it("retries while tries remain, after the task's delay, counting the try", () => {
    assert.deepEqual(afterFailure({ ...base, maxTries: 2 }), { state: "up_for_retry", retryAt: new Date(now.getTime() + 30_000), counted: true });
    assert.deepEqual(afterFailure(base), { state: "failed", retryAt: null, counted: true });
  });

  it("retries an infrastructure failure without counting it, with its own doubling delay, up to infraRetries", () => {
    const infra = { ...base, infra: true };
    assert.deepEqual(afterFailure(infra), { state: "up_for_retry", retryAt: new Date(now.getTime() + 10_000), counted: false });
    assert.equal(afterFailure({ ...infra, infraUsed: 2 }).retryAt?.getTime(), now.getTime() + 40_000);
    assert.deepEqual(afterFailure({ ...infra, infraUsed: 3 }), { state: "failed", retryAt: null, counted: true }, "its own retries used up, and no task retries");
    assert.equal(afterFailure({ ...infra, infraUsed: 3, maxTries: 2 }).counted, true, "then it uses a task retry");
    assert.equal(infraRetryDelayMs(20), 5 * 60_000, "capped");
  });

  it("never retries what a retry cannot change", () => {
    assert.deepEqual(afterFailure({ ...base, retryable: false, infra: true, maxTries: 5 }), { state: "failed", retryAt: null, counted: true });
  });
});
