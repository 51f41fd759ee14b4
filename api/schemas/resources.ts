// The JSON bodies the API answers with, as schemas: each mirrors a function of api/serialize.ts (or of
// the route that builds it), and test/api/openapi.test.ts checks real answers against them.
import { Type, type TInteger } from "@sinclair/typebox";
import { ROLES } from "../tokens.repository.ts";
import { REPROCESS_MODES } from "../../scheduler/backfills.repository.ts";
import { RUN_STATES, TASK_STATES } from "../../scheduler/states.ts";
import { AnyJson, Instant, JsonObject, MaybeInstant, NextCursor, Nullable, StringEnum } from "./common.ts";

const Int = (description?: string) => Type.Integer(description ? { description } : {});
const Text = (description?: string) => Type.String(description ? { description } : {});
const MaybeText = (description?: string) => Nullable(Text(description));

export const RunState = StringEnum(RUN_STATES);
export const TaskState = StringEnum(TASK_STATES);

export const TaskSummary = Type.Object(
  {
    taskId: Text(),
    kind: StringEnum(["pod", "function"] as const),
    dependsOn: Type.Array(Text(), { description: "The ids of the tasks it runs after." }),
  },
  { additionalProperties: false },
);

export const DagPosted = Type.Object(
  {
    dagId: Text(),
    version: Int("The version the source is stored as."),
    created: Type.Boolean({ description: "false when the same source was posted before: the version is kept." }),
    tasks: Type.Array(TaskSummary),
  },
  { additionalProperties: false },
);

export const Dag = Type.Object(
  {
    dagId: Text(),
    version: Int("The latest version."),
    paused: Type.Boolean(),
    schedule: MaybeText("Cron expression or preset; null: manual runs only."),
    timezone: Text("IANA time zone of the schedule."),
    start: MaybeText(),
    end: MaybeText(),
    catchup: Type.Boolean(),
    overlap: StringEnum(["allow", "forbid", "replace"] as const),
    maxActiveRuns: Int(),
    nextRunAt: MaybeInstant("When the next scheduled run is due; null when paused, manual or past its end."),
    skippedTicks: Int("Ticks the overlap policy forbid skipped."),
    lastSkippedTick: Nullable(Type.Object({ tick: MaybeInstant(), reason: Text() }, { additionalProperties: false })),
    description: MaybeText(),
    tags: Type.Array(Text()),
    params: JsonObject("The DAG's default params."),
    tasks: Type.Array(TaskSummary),
    createdAt: MaybeInstant(),
    updatedAt: MaybeInstant(),
  },
  { additionalProperties: false },
);

export const DagList = Type.Object({ dags: Type.Array(Dag), nextCursor: NextCursor }, { additionalProperties: false });

export const Run = Type.Object(
  {
    runId: Text(),
    dagId: Text(),
    state: RunState,
    runType: StringEnum(["scheduled", "manual", "backfill"] as const),
    logicalDate: MaybeInstant(),
    dataIntervalStart: MaybeInstant(),
    dataIntervalEnd: MaybeInstant(),
    dagVersion: Int("The DAG version the run runs."),
    params: JsonObject("The run's params."),
    createdAt: MaybeInstant(),
    startedAt: MaybeInstant(),
    endedAt: MaybeInstant(),
    backfillId: Nullable(Int("The backfill that made or last reprocessed the run.")),
    replacedBy: MaybeText("The run that replaced this one (overlap \"replace\")."),
  },
  { additionalProperties: false },
);

export const RunList = Type.Object({ runs: Type.Array(Run), nextCursor: NextCursor }, { additionalProperties: false });

const taskFields = {
  taskId: Text(),
  state: TaskState,
  tryNumber: Int("Its latest try (0: none yet)."),
  maxTries: Int(),
  podName: MaybeText(),
  startedAt: MaybeInstant(),
  endedAt: MaybeInstant(),
  exitCode: Nullable(Int()),
  reason: MaybeText(),
  message: MaybeText(),
  retryAt: MaybeInstant(),
  result: AnyJson("What the task returned (a function task) or its termination message (a pod task)."),
};

export const TaskInRun = Type.Object(taskFields, { additionalProperties: false });

export const RunWithTasks = Type.Object({ ...Run.properties, tasks: Type.Array(TaskInRun) }, { additionalProperties: false });

const EventsSummary = Type.Object(
  {
    count: Int(),
    warnings: Int(),
    lastWarning: Nullable(
      Type.Object({ at: MaybeInstant(), source: StringEnum(["ferry", "kubernetes"] as const), reason: Text(), message: Text() }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false, description: "A summary of the try's events." },
);

export const Try = Type.Object(
  {
    tryNumber: Int(),
    state: Text(),
    podName: Text(),
    queuedAt: MaybeInstant(),
    startedAt: MaybeInstant(),
    endedAt: MaybeInstant(),
    exitCode: Nullable(Int()),
    reason: MaybeText(),
    message: MaybeText(),
    logComplete: Type.Boolean(),
    logBytes: Int(),
    logFinishedAt: MaybeInstant(),
    counted: Type.Boolean({ description: "false when the try did not use up one of the task's retries." }),
    events: EventsSummary,
  },
  { additionalProperties: false },
);

export const TaskWithTries = Type.Object(
  { dagId: Text(), runId: Text(), ...taskFields, tries: Type.Array(Try) },
  { additionalProperties: false },
);

export const RunCancelled = Type.Object({ runId: Text(), dagId: Text(), state: Type.Literal("cancelled") }, { additionalProperties: false });

export const TaskCleared = Type.Object(
  { runId: Text(), dagId: Text(), state: RunState, cleared: Type.Array(Text(), { description: "The task and everything downstream of it." }) },
  { additionalProperties: false },
);

export const RunCleared = Type.Object(
  {
    runId: Text(),
    dagId: Text(),
    state: RunState,
    cleared: Type.Array(Text(), {
      description: "The tasks cleared, in the DAG's order: the failed, upstream_failed and cancelled ones and everything downstream of them, or (onlyFailed: false) every task.",
    }),
  },
  { additionalProperties: false },
);

export const TryEvent = Type.Object(
  {
    at: MaybeInstant(),
    source: StringEnum(["ferry", "kubernetes"] as const),
    type: StringEnum(["Normal", "Warning"] as const),
    reason: Text(),
    message: Text(),
    count: Int("How often it was seen."),
    lastAt: MaybeInstant(),
  },
  { additionalProperties: false },
);

export const TryEvents = Type.Object(
  { tryNumber: Int(), state: Text(), endedAt: MaybeInstant(), events: Type.Array(TryEvent), nextCursor: NextCursor },
  { additionalProperties: false },
);

const BackfillFields = {
  backfillId: Int(),
  dagId: Text(),
  from: Instant(),
  to: Instant(),
  maxActiveRuns: Int(),
  reprocess: StringEnum(REPROCESS_MODES),
};

export const BackfillCreated = Type.Object(
  {
    ...BackfillFields,
    runs: Type.Array(
      Type.Object({ runId: Text(), logicalDate: Instant(), action: StringEnum(["created", "reprocessed"] as const) }, { additionalProperties: false }),
    ),
    leftAlone: Type.Array(Type.Object({ runId: Text(), logicalDate: Instant(), reason: Text() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const Backfill = Type.Object(
  {
    ...BackfillFields,
    dagVersion: Int(),
    state: StringEnum(["running", "completed", "cancelled"] as const),
    createdAt: Instant(),
    cancelledAt: MaybeInstant(),
    endedAt: MaybeInstant(),
    counts: Type.Object(
      { total: Int(), ...(Object.fromEntries(RUN_STATES.map((s) => [s, Int()])) as Record<(typeof RUN_STATES)[number], TInteger>) },
      { additionalProperties: false, description: "Its runs by state." },
    ),
    runs: Type.Array(
      Type.Object({ runId: Text(), logicalDate: Instant(), state: RunState, startedAt: MaybeInstant(), endedAt: MaybeInstant() }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

export const Pool = Type.Object(
  {
    name: Text(),
    slots: Int(),
    description: MaybeText(),
    occupied: Int("Tries of its tasks queued or running now."),
    open: Int("Slots free now."),
    waiting: Int("Its tasks waiting for a slot."),
    createdAt: Instant(),
    updatedAt: Instant(),
  },
  { additionalProperties: false },
);

export const PoolList = Type.Object({ pools: Type.Array(Pool), nextCursor: NextCursor }, { additionalProperties: false });

const tokenFields = {
  id: Int(),
  name: Text(),
  role: StringEnum(ROLES),
  expiresAt: MaybeInstant(),
  createdAt: Instant(),
};

export const Token = Type.Object({ ...tokenFields, lastUsedAt: MaybeInstant() }, { additionalProperties: false });
export const TokenCreated = Type.Object(
  { ...tokenFields, token: Text("The token's secret, shown this once.") },
  { additionalProperties: false },
);
export const TokenList = Type.Object({ tokens: Type.Array(Token), nextCursor: NextCursor }, { additionalProperties: false });

const LoopHealth = Type.Object(
  {
    lastPassAt: MaybeInstant("When the loop last completed a pass; null before its first."),
    lastPassAgeSeconds: Type.Number({ description: "Seconds since then (since the loop started, before its first pass)." }),
    stuckAfterSeconds: Type.Number({ description: "The loop is stuck once that age is past this." }),
    stuck: Type.Boolean(),
  },
  { additionalProperties: false },
);

/** /healthz: the state of the loops this process runs (none for an API-only process), as 200 and 503 alike. */
export const Liveness = <S extends "ok" | "stuck">(status: S, description: string) =>
  Type.Object(
    {
      status: Type.Literal(status),
      components: Type.Object(
        { scheduler: Type.Optional(LoopHealth), executor: Type.Optional(LoopHealth) },
        { additionalProperties: false, description: "The loops this process runs (FERRY_COMPONENTS)." },
      ),
    },
    { additionalProperties: false, description },
  );
