// The pure parts of a try's events: how core/v1 Events become try events (times, order, counts, repeats),
// how a try's events are summed up for its JSON, and how the CLI prints one on a line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CoreV1Event } from "@kubernetes/client-node";
import { podEventsToInputs } from "../../executor/pod-events.ts";
import { summarizeTryEvents, type TryEvent } from "../../executor/try-events.repository.ts";
import { formatTryEvent } from "../../cli/commands.ts";

const event = (name: string, uid: string, fields: Partial<CoreV1Event>): CoreV1Event => ({
  metadata: { name, uid, namespace: "default", creationTimestamp: new Date("2026-03-01T00:00:09Z") },
  involvedObject: { kind: "Pod", name: "p" },
  ...fields,
});

describe("podEventsToInputs", () => {
  it("maps each Event's fields and orders them by time, then by name within the same second", () => {
    const at = new Date("2026-03-01T00:00:01Z");
    const inputs = podEventsToInputs([
      event("p.00b", "u-started", { type: "Normal", reason: "Started", message: "Started container main", firstTimestamp: at, lastTimestamp: at, count: 1 }),
      event("p.00a", "u-created", { type: "Normal", reason: "Created", message: "Created container main", firstTimestamp: at, lastTimestamp: at, count: 1 }),
      event("p.001", "u-backoff", {
        type: "Warning",
        reason: "BackOff",
        message: 'Back-off pulling image "x"',
        firstTimestamp: new Date("2026-03-01T00:00:00Z"),
        lastTimestamp: new Date("2026-03-01T00:00:05Z"),
        count: 7,
      }),
    ]);
    assert.deepEqual(
      inputs.map((e) => [e.reason, e.type, e.count, e.ref]),
      [
        ["BackOff", "Warning", 7, "u-backoff"],
        ["Created", "Normal", 1, "u-created"],
        ["Started", "Normal", 1, "u-started"],
      ],
    );
    assert.equal(inputs[0]!.source, "kubernetes");
    assert.deepEqual(inputs[0]!.at, new Date("2026-03-01T00:00:00Z"));
    assert.deepEqual(inputs[0]!.lastAt, new Date("2026-03-01T00:00:05Z"));
  });

  it("falls back to eventTime, then creationTimestamp; reads series; keeps a repeated Event once", () => {
    const inputs = podEventsToInputs([
      event("p.1", "u1", { type: "Warning", reason: "Evicted", message: "m", eventTime: new Date("2026-03-01T00:00:03.250Z"), series: { count: 3, lastObservedTime: new Date("2026-03-01T00:00:04Z") } }),
      event("p.2", "u2", { reason: "Odd", message: "no time, an unknown type" }),
      event("p.1", "u1", { type: "Warning", reason: "Evicted", message: "m", eventTime: new Date("2026-03-01T00:00:03.250Z"), series: { count: 3, lastObservedTime: new Date("2026-03-01T00:00:04Z") } }),
    ]);
    assert.equal(inputs.length, 2);
    assert.deepEqual(inputs[0]!.at, new Date("2026-03-01T00:00:03.250Z"));
    assert.equal(inputs[0]!.count, 3);
    assert.deepEqual(inputs[0]!.lastAt, new Date("2026-03-01T00:00:04Z"));
    assert.deepEqual(inputs[1]!.at, new Date("2026-03-01T00:00:09Z"), "creationTimestamp when nothing else says when");
    assert.equal(inputs[1]!.type, "Normal");
    assert.equal(inputs[1]!.lastAt, null);
  });
});

describe("summarizeTryEvents", () => {
  const ev = (reason: string, type: TryEvent["type"], at: string, lastAt: string | null = null): TryEvent => ({
    at: new Date(at),
    source: reason === "Cancelled" ? "ferry" : "kubernetes",
    type,
    reason,
    message: `${reason} message`,
    count: 1,
    lastAt: lastAt === null ? null : new Date(lastAt),
  });

  it("counts events and Warnings, and names the Warning seen last (by lastAt when it repeats)", () => {
    const s = summarizeTryEvents([
      ev("BackOff", "Warning", "2026-03-01T00:00:00Z", "2026-03-01T00:00:30Z"),
      ev("Scheduled", "Normal", "2026-03-01T00:00:01Z"),
      ev("Failed", "Warning", "2026-03-01T00:00:10Z"),
      ev("Killing", "Normal", "2026-03-01T00:00:40Z"),
    ]);
    assert.deepEqual(s, {
      count: 4,
      warnings: 2,
      lastWarning: { at: new Date("2026-03-01T00:00:30Z"), source: "kubernetes", reason: "BackOff", message: "BackOff message" },
    });
  });

  it("of two Warnings at the same moment picks the one listed later; none gives null", () => {
    const same = "2026-03-01T00:00:00Z";
    assert.equal(summarizeTryEvents([ev("Evicted", "Warning", same), ev("Cancelled", "Warning", same)]).lastWarning?.reason, "Cancelled");
    assert.deepEqual(summarizeTryEvents([ev("Scheduled", "Normal", same)]), { count: 1, warnings: 0, lastWarning: null });
    assert.deepEqual(summarizeTryEvents([]), { count: 0, warnings: 0, lastWarning: null });
  });
});

describe("formatTryEvent", () => {
  it("prints one line, with (xN) only for an Event seen more than once", () => {
    const at = "2026-03-01T00:00:00.000Z";
    assert.equal(formatTryEvent({ at, type: "Warning", reason: "Cancelled", message: "cancelled through the API by the admin token", count: 1 }), `${at} Warning Cancelled: cancelled through the API by the admin token`);
    assert.equal(formatTryEvent({ at, type: "Warning", reason: "BackOff", message: 'Back-off pulling image "x"', count: 12 }), `${at} Warning BackOff: Back-off pulling image "x" (x12)`);
    assert.equal(formatTryEvent({ at, type: "Normal", reason: "R", message: "two\n  lines\r\n", count: 1 }), `${at} Normal R: two lines`);
  });
});
