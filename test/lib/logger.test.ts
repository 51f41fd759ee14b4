// Ferry's operational log (lib/logger.ts, on pino): JSON records with the component and the caller's
// fields, errors with their stack, children that extend the component path, the level threshold, and
// the readable one-line form for terminals.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, pinoOf, silentLogger, type LoggerOptions } from "../../lib/logger.ts";

function capture(opts: LoggerOptions = {}): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger("ferry", { ...opts, sink: (l) => lines.push(l) }) };
}

describe("the operational log", () => {
  it("writes one JSON record per event, with the component, level, time and the caller's fields", () => {
    const { lines, log } = capture();
    log.child("executor").child("logs").warn("log gap", { pod: "p-1", dagId: "d", runId: "r", taskId: "t", tryNumber: 2 });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes("\n"), "one line");
    const r = JSON.parse(lines[0]!);
    assert.equal(r.level, "warn");
    assert.equal(r.component, "ferry/executor/logs");
    assert.equal(r.msg, "log gap");
    assert.match(r.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.deepEqual([r.pod, r.dagId, r.runId, r.taskId, r.tryNumber], ["p-1", "d", "r", "t", 2]);
    assert.equal(lines[0]!.match(/"component"/g)!.length, 1, "a child replaces the component, never repeats it");
  });

  it("serialises an err field with its type, message and stack", () => {
    const { lines, log } = capture();
    log.error("pass failed", { err: new TypeError("boom") });
    const r = JSON.parse(lines[0]!);
    assert.equal(r.err.type, "TypeError");
    assert.equal(r.err.message, "boom");
    assert.match(r.err.stack, /TypeError: boom\n\s+at /);
  });

  it("drops records below its level (info by default)", () => {
    const info = capture();
    info.log.info("kept");
    assert.equal(info.lines.length, 1);
    const warn = capture({ level: "warn" });
    warn.log.info("dropped");
    warn.log.warn("kept");
    warn.log.error("kept too");
    assert.deepEqual(warn.lines.map((l) => JSON.parse(l).msg), ["kept", "kept too"]);
    const silent = capture({ level: "silent" });
    silent.log.error("dropped");
    assert.deepEqual(silent.lines, []);
    silentLogger.error("nowhere"); // and does not throw
  });

  it("in pretty form writes `time level component message {fields}`, an error's stack below error records", () => {
    const { lines, log } = capture({ format: "pretty" });
    log.child("retention").warn("could not delete run d/r", { dagId: "d", err: new Error("AccessDenied") });
    assert.match(lines[0]!, /^\S+Z warn ferry\/retention could not delete run d\/r \{"dagId":"d","err":"AccessDenied"\}$/);
    log.error("step failed", { err: new Error("down") });
    const [first, ...stack] = lines[1]!.split("\n");
    assert.match(first!, / error ferry step failed \{"err":"down"\}$/);
    assert.match(stack[0]!, /^\s+Error: down$/);
    assert.ok(stack.length > 1);
  });

  it("hands its pino logger to fastify", () => {
    const { log } = capture();
    assert.equal(typeof pinoOf(log.child("api"))?.child, "function");
    assert.equal(pinoOf({ info() {}, warn() {}, error() {}, child: () => silentLogger }), undefined);
  });
});
