// The DAG options of the scheduling rules as a DAG file declares them (end, overlap), and a run's data
// interval on its way to a pod task's templates: accepted by the compiler, read with the try the executor
// claims, rendered into the Pod (README.md, "Scheduling rules").
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileDagFile, type DagFileError } from "../../dagfile/index.ts";
import { buildPod } from "../../executor/pod-spec.ts";
import { claimTasks } from "../../executor/tries.repository.ts";
import { saveDagVersion } from "../../scheduler/dags.repository.ts";
import { createRun } from "../../scheduler/runs.repository.ts";
import { createTestDb, type TestDb } from "../support/db.ts";
import { at, definition } from "./support.ts";

const file = (options: string, body = `podTask("t", { image: "alpine:3.20", command: ["true"] });`) =>
  `import { dag, task, podTask } from "ferry";\nexport default dag("opts", { ${options} }, () => {\n  ${body}\n});\n`;

async function problems(options: string, body?: string): Promise<{ path: string; message: string }[]> {
  const result = await compileDagFile(file(options, body));
  assert.equal(result.ok, false, "expected the DAG to be refused");
  const error = (result as { ok: false; error: DagFileError }).error;
  assert.equal(error.code, "invalid_dag", error.message);
  return error.problems!;
}

describe("DAG options end and overlap", () => {
  it("compiles end (read in the DAG's timezone without an offset) and overlap into the definition", async () => {
    const result = await compileDagFile(file(`schedule: "@daily", timezone: "Europe/Berlin", start: "2026-01-01", end: "2026-06-30T18:00", overlap: "forbid"`));
    assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
    assert.equal(result.definition.end, "2026-06-30T16:00:00.000Z");
    assert.equal(result.definition.overlap, "forbid");
  });

  it("leaves them out when not given, so a definition means the same as one stored before they existed", async () => {
    const result = await compileDagFile(file(`schedule: "@daily"`));
    assert.ok(result.ok);
    assert.ok(!("end" in result.definition) && !("overlap" in result.definition), JSON.stringify(result.definition));
  });

  it("refuses an end before start, an end that is not a date and an unknown overlap policy", async () => {
    const found = await problems(`schedule: "@daily", start: "2026-02-01T00:00:00Z", end: "2026-01-01T00:00:00Z", overlap: "sometimes"`);
    assert.match(found.find((p) => p.path === "end")!.message, /before start/);
    assert.match(found.find((p) => p.path === "overlap")!.message, /"allow", "forbid", "replace", got "sometimes"/);
    const notDate = await problems(`end: "next tuesday"`);
    assert.match(notDate.find((p) => p.path === "end")!.message, /not an ISO-8601 date/);
  });
});

describe("a run's data interval in pod task templates", { timeout: 60_000 }, () => {
  let t: TestDb;
  before(async () => {
    t = await createTestDb();
  });
  after(async () => {
    await t?.close();
  });

  it("is a name templates may use (and, like logicalDate, a plain value)", async () => {
    const ok = await compileDagFile(file(`schedule: "@daily"`, `podTask("t", { image: "x", command: ["echo", "{{ dataIntervalStart }}..{{ dataIntervalEnd }}"] });`));
    assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.error));
    const found = await problems(`schedule: "@daily"`, `podTask("t", { image: "x", command: ["echo", "{{ dataIntervalStart.day }}"] });`);
    assert.match(found[0]!.message, /"dataIntervalStart" is a plain value/);
  });

  it("comes with each try the executor claims, and renders into the Pod", async () => {
    const base = definition("interval_pod", { schedule: "@daily" });
    const task = { ...base.tasks[0]!, kind: "pod" as const, pod: { image: "alpine:3.20", command: ["sh", "-c", "echo {{ dataIntervalStart }} {{ dataIntervalEnd }} {{ logicalDate }}"] } };
    const def = { ...base, tasks: [task] };
    await saveDagVersion(t.db, { definition: def, source: "v1", bundle: "" }, at("2026-01-01T00:00:00Z"));
    await t.db.transaction((tx) =>
      createRun(tx, {
        dagId: "interval_pod",
        runId: "r1",
        runType: "scheduled",
        logicalDate: at("2026-01-02T00:00:00Z"),
        dataInterval: { start: at("2026-01-01T00:00:00Z"), end: at("2026-01-02T00:00:00Z") },
        params: {},
        dagVersion: 1,
        definition: def,
      }),
    );
    await t.db.query(`UPDATE dag_runs SET state = 'running'`);
    await t.db.query(`UPDATE task_instances SET state = 'scheduled'`);
    const [claimed] = await claimTasks(t.db, "exec-1", "default", 10, 30_000);
    assert.ok(claimed);
    assert.deepEqual([claimed.dataIntervalStart, claimed.dataIntervalEnd], [at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")]);
    const pod = buildPod(
      task,
      {
        dagId: claimed.dagId,
        runId: claimed.runId,
        taskId: claimed.taskId,
        tryNumber: claimed.tryNumber,
        dagVersion: claimed.dagVersion,
        logicalDate: claimed.logicalDate.toISOString(),
        dataIntervalStart: claimed.dataIntervalStart!.toISOString(),
        dataIntervalEnd: claimed.dataIntervalEnd!.toISOString(),
        params: claimed.params,
        tasks: {},
      },
      { namespace: "default", workerImage: "w" },
    );
    assert.deepEqual(pod.spec!.containers[0]!.command, ["sh", "-c", "echo 2026-01-01T00:00:00.000Z 2026-01-02T00:00:00.000Z 2026-01-02T00:00:00.000Z"]);
  });
});
