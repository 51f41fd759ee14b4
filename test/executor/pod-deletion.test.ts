// What happens to Pods once their tries are done: deleted once the log is safe, or (keepFailed) a
// failed try's Pod kept for debugging and swept when its time is up; and Pods with Ferry's labels that no
// live try owns are removed, while every other Pod is left alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../../executor/pod-names.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, waitFor, type TestFerry } from "../support/ferry.ts";

describe("pod deletion and the sweeper", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, executor: { podDeletion: "keepFailed", keepFailedPodsMs: 3000, sweepIntervalMs: 300 } });
  });
  after(async () => {
    await f?.close();
  });
  const core = () => f.ferry.kube.core;
  const podNames = async () => (await core().listNamespacedPod({ namespace: "default" })).items.map((p) => p.metadata!.name!);
  const podOf = async (dagId: string) => {
    const [row] = await f.testDb.db.query<{ pod_name: string; pod_reclaimed: boolean; pod_kept_until: Date | null }>(
      `SELECT t.pod_name, t.pod_reclaimed, t.pod_kept_until FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
         JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = $1`,
      [dagId],
    );
    return row!;
  };
  async function run(dagId: string, command: string): Promise<any> {
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile(dagId, `  podTask("t", { image: "busybox", command: ["sh", "-c", ${JSON.stringify(command)}] });`))).status, 201);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
    return f.waitForRun(dagId, "r1");
  }

  it("keeps a failed try's Pod for debugging, done and never adopted, then sweeps it", async () => {
    const failed = await run("keeps", "echo oops; exit 3");
    assert.equal(failed.state, "failed");
    const kept = await waitFor("the try to be reclaimed", async () => {
      const t = await podOf("keeps");
      return t.pod_reclaimed ? t : null;
    });
    assert.ok(kept.pod_kept_until, "kept until a time");
    assert.ok((await podNames()).includes(kept.pod_name), "the failed Pod is still there to inspect");
    const pod = await core().readNamespacedPod({ name: kept.pod_name, namespace: "default" });
    assert.equal(pod.status?.phase, "Failed");
    const events = (await f.api("GET", "/api/v1/dags/keeps/runs/r1/tasks/t/events?try=1")).body.events as any[];
    assert.ok(events.some((e) => e.reason === "PodKept"), JSON.stringify(events));
    await waitFor("the kept Pod to be swept once its time is up", async () => !(await podNames()).includes(kept.pod_name), 20_000);
  });

  it("a DAG's podDeletion overrides the server's: its failed Pods are deleted at once", async () => {
    const pushed = await f.api("POST", "/api/v1/dags", dagFile("tidy", `  podTask("t", { image: "busybox", command: ["sh", "-c", "exit 4"] });`, `schedule: null, podDeletion: "always"`));
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await f.api("POST", "/api/v1/dags/tidy/runs", { runId: "r1" })).status, 201);
    assert.equal((await f.waitForRun("tidy", "r1")).state, "failed");
    const t = await podOf("tidy");
    assert.equal(t.pod_kept_until, null);
    await waitFor("the failed Pod to be gone", async () => !(await podNames()).includes(t.pod_name), 10_000);
  });

  it("deletes a succeeded try's Pod at once under keepFailed", async () => {
    assert.equal((await run("deletes", "echo fine")).state, "success");
    const t = await podOf("deletes");
    assert.equal(t.pod_kept_until, null);
    await waitFor("the Pod to be gone", async () => !(await podNames()).includes(t.pod_name), 10_000);
  });

  it("removes Ferry-labelled Pods no try owns, and leaves other Pods and live tries' Pods alone", async () => {
    const pod = (name: string, labels: Record<string, string>): V1Pod => ({
      metadata: { name, labels },
      spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["sleep", "30"] }] },
    });
    await core().createNamespacedPod({ namespace: "default", body: pod("stray-ferry-pod", { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE }) });
    await core().createNamespacedPod({ namespace: "default", body: pod("someone-elses", { app: "theirs" }) });
    assert.equal((await f.api("POST", "/api/v1/dags", dagFile("live", `  podTask("t", { image: "busybox", command: ["sh", "-c", "sleep 2; echo done"] });`))).status, 201);
    assert.equal((await f.api("POST", "/api/v1/dags/live/runs", { runId: "r1" })).status, 201);
    await waitFor("the stray Pod to be removed", async () => !(await podNames()).includes("stray-ferry-pod"), 15_000);
    assert.ok((await podNames()).includes("someone-elses"), "a Pod without Ferry's label is never touched");
    const done = await f.waitForRun("live", "r1");
    assert.equal(done.state, "success", "the live try's Pod was not swept from under it");
    await core().deleteNamespacedPod({ name: "someone-elses", namespace: "default", gracePeriodSeconds: 0 });
  });
});
