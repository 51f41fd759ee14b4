// The JSON shapes of the public API (README.md, "REST API"). Times are ISO-8601 UTC strings or null.
import type { DagRow } from "../scheduler/dags.repository.ts";
import type { RunRow, TaskInstanceView } from "../scheduler/runs.repository.ts";
import type { DagDefinition } from "../sdk/definition.ts";
import type { TryView } from "../executor/tries.repository.ts";
import type { TryEvent, TryEventsSummary } from "../executor/try-events.repository.ts";

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function taskSummaries(def: DagDefinition) {
  return def.tasks.map((t) => ({ taskId: t.taskId, kind: t.kind, dependsOn: t.dependsOn }));
}

export function dagBody(d: DagRow) {
  const def = d.definition;
  return {
    dagId: d.dagId,
    version: d.latestVersion,
    paused: d.paused,
    schedule: def.schedule,
    timezone: def.timezone,
    start: def.start,
    end: def.end ?? null,
    catchup: def.catchup,
    overlap: def.overlap ?? "allow",
    maxActiveRuns: def.maxActiveRuns,
    nextRunAt: def.schedule && !d.paused ? iso(d.nextRunAt) : null,
    skippedTicks: d.skippedTicks,
    lastSkippedTick: d.lastSkippedTick && { tick: iso(d.lastSkippedTick.tick), reason: d.lastSkippedTick.reason },
    description: def.description,
    tags: def.tags,
    params: def.params,
    tasks: taskSummaries(def),
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}

export function runBody(r: RunRow) {
  return {
    runId: r.runId,
    dagId: r.dagId,
    state: r.state,
    runType: r.runType,
    logicalDate: iso(r.logicalDate),
    dataIntervalStart: iso(r.dataIntervalStart),
    dataIntervalEnd: iso(r.dataIntervalEnd),
    dagVersion: r.dagVersion,
    params: r.params,
    createdAt: iso(r.createdAt),
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
    backfillId: r.backfillId === null ? null : Number(r.backfillId),
    replacedBy: r.replacedBy,
  };
}

export function taskBody(t: TaskInstanceView) {
  return {
    taskId: t.taskId,
    state: t.state,
    tryNumber: t.tryNumber,
    maxTries: t.maxTries,
    podName: t.podName,
    startedAt: iso(t.startedAt),
    endedAt: iso(t.endedAt),
    exitCode: t.exitCode,
    reason: t.reason,
    message: t.message,
    retryAt: iso(t.retryAt),
    result: t.result,
  };
}

export function encodeCursor(parts: unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

export function decodeCursor(cursor: string): unknown[] | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export function tryBody(t: TryView, events: TryEventsSummary) {
  return {
    tryNumber: t.tryNumber,
    state: t.state,
    podName: t.podName,
    queuedAt: iso(t.createdAt),
    startedAt: iso(t.startedAt),
    endedAt: iso(t.endedAt),
    exitCode: t.exitCode,
    reason: t.reason,
    message: t.message,
    logComplete: t.logComplete,
    logBytes: t.logBytes,
    logFinishedAt: iso(t.logFinishedAt),
    counted: t.counted,
    events: {
      count: events.count,
      warnings: events.warnings,
      lastWarning: events.lastWarning && { ...events.lastWarning, at: iso(events.lastWarning.at) },
    },
  };
}

export function tryEventBody(e: TryEvent) {
  return { at: iso(e.at), source: e.source, type: e.type, reason: e.reason, message: e.message, count: e.count, lastAt: iso(e.lastAt) };
}
