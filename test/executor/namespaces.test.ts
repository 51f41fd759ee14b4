// Task Pods run in the task namespace (FERRY_TASK_NAMESPACE), or in one the operator allows
// (FERRY_ALLOWED_NAMESPACES) when a task asks; a DAG asking for any other is refused when pushed. What a
// task names (a Secret) is looked up in its own namespace, so a DAG cannot reach Ferry's own credentials.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readTryLog } from "../../logstore/index.ts";
import { dagFile } from "../support/api.ts";
import { startTestFerry, type TestFerry } from "../support/ferry.ts";

describe("namespaces", { timeout: 120_000 }, () => {
  let f: TestFerry;
  before(async () => {
    f = await startTestFerry({ s3: false, env: { FERRY_TASK_NAMESPACE: "ferry-tasks", FERRY_ALLOWED_NAMESPACES: "team-a" } });
  });
  after(async () => {
    await f?.close();
  });

  async function run(dagId: string, task: string, options?: string): Promise<{ run: any; namespace: string }> {
    const pushed = await f.api("POST", "/api/v1/dags", dagFile(dagId, task, options));
    assert.equal(pushed.status, 201, pushed.text);
    assert.equal((await f.api("POST", `/api/v1/dags/${dagId}/runs`, { runId: "r1" })).status, 201);
    const done = await f.waitForRun(dagId, "r1");
    const [t] = await f.testDb.db.query<{ namespace: string }>(
      `SELECT t.namespace FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id JOIN dag_runs r ON r.id = ti.run_pk WHERE r.dag_id = $1`,
      [dagId],
    );
    return { run: done, namespace: t!.namespace };
  }
  const log = async (dagId: string) => (await readTryLog(f.ferry.logStore, { dagId, runId: "r1", taskId: "t", tryNumber: 1 })).toString();

  it("runs a task in the task namespace by default", async () => {
    const { run: done, namespace } = await run("plain", `  podTask("t", { image: "busybox", command: ["sh", "-c", "echo here"] });`);
    assert.equal(done.state, "success");
    assert.equal(namespace, "ferry-tasks");
    assert.equal(await log("plain"), "here\n");
  });

  it("runs a task in an allowed namespace it asks for, by task or by the DAG's defaults, and reclaims its Pod there", async () => {
    const { run: done, namespace } = await run("team", `  podTask("t", { image: "busybox", namespace: "team-a", command: ["sh", "-c", "echo team"] });`);
    assert.equal(done.state, "success");
    assert.equal(namespace, "team-a");
    assert.equal(await log("team"), "team\n");
    const left = await f.ferry.kube.core.listNamespacedPod({ namespace: "team-a" });
    assert.deepEqual(left.items.map((p) => p.metadata?.name), [], "its Pod is deleted there once its log is safe");
    const byDefault = await run("team_default", `  podTask("t", { image: "busybox", command: ["true"] });`, `schedule: null, defaults: { namespace: "team-a" }`);
    assert.equal(byDefault.namespace, "team-a");
  });

  it("refuses a DAG that asks for a namespace the operator did not allow", async () => {
    const byTask = await f.api("POST", "/api/v1/dags", dagFile("sneaky", `  podTask("t", { image: "busybox", namespace: "kube-system", command: ["true"] });`));
    assert.equal(byTask.status, 422);
    assert.equal(byTask.body.error.code, "invalid_dag");
    assert.deepEqual(byTask.body.error.details.problems.map((p: any) => p.path), ["tasks.t.namespace"]);
    assert.match(byTask.body.error.details.problems[0].message, /namespace "kube-system" is not allowed here: tasks may run in "ferry-tasks", "team-a"/);
    const byDefault = await f.api("POST", "/api/v1/dags", dagFile("sneaky2", `  podTask("t", { image: "busybox", command: ["true"] });`, `schedule: null, defaults: { namespace: "default" }`));
    assert.equal(byDefault.status, 422);
    assert.deepEqual(byDefault.body.error.details.problems.map((p: any) => p.path), ["defaults.namespace"]);
    const bad = await f.api("POST", "/api/v1/dags", dagFile("badname", `  podTask("t", { image: "busybox", namespace: "Not_A_Namespace", command: ["true"] });`));
    assert.equal(bad.status, 422);
  });

  it("looks up a Secret a task names in the task's own namespace, not Ferry's", async () => {
    // A credential in Ferry's own namespace ("default" here), as a real install keeps its Secret.
    await f.ferry.kube.core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "ferry-credentials" }, stringData: { token: "s3cret" } } });
    const { run: done } = await run(
      "steal",
      `  podTask("t", { image: "busybox", infraRetries: 0, command: ["sh", "-c", "echo $T"], env: { T: { valueFrom: { secretKeyRef: { name: "ferry-credentials", key: "token" } } } } });`,
    );
    assert.equal(done.state, "failed");
    const t = (await f.api("GET", "/api/v1/dags/steal/runs/r1/tasks/t")).body.tries[0];
    assert.equal(t.reason, "CreateContainerConfigError");
    assert.match(t.message, /secret "ferry-credentials" not found/);
    assert.equal(await log("steal"), "", "it printed nothing: the secret was never handed over");
  });
});
