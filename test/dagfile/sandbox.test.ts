import assert from "node:assert/strict";
import { test } from "node:test";
import { compileDagFile, type CompileResult } from "../../dagfile/index.ts";

const GOOD = `import { dag, task } from "ferry";
export default dag("good", { schedule: "*/5 * * * *" }, () => { task("t", () => 1); });`;

function errorOf(result: CompileResult) {
  assert.equal(result.ok, false, "expected the DAG file to be rejected");
  return (result as Extract<CompileResult, { ok: false }>).error;
}

test("an infinite loop times out while a concurrent good DAG still compiles", async () => {
  const looping = compileDagFile(`import { dag } from "ferry";\n\nwhile (true) {}\nexport default dag("a", {}, () => {});\n`);
  const good = await compileDagFile(GOOD);
  assert.ok(good.ok, JSON.stringify(!good.ok && good.error));
  const error = errorOf(await looping);
  assert.equal(error.code, "timeout");
  assert.match(error.message, /task function/);
});

test("a timeout inside a function names that function", async () => {
  const error = errorOf(
    await compileDagFile(`import { dag } from "ferry";

function spin(): void {
  for (;;) {}
}
spin();
export default dag("a", {}, () => {});
`, { timeoutMs: 300 }),
  );
  assert.equal(error.code, "timeout");
  assert.match(error.message, /spin\(\)/);
  assert.equal(error.line, 3);
});

test("the event loop keeps turning while a DAG file spins", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  try {
    const error = errorOf(await compileDagFile(`for (;;) {}\nexport default 1;`, { timeoutMs: 500 }));
    assert.equal(error.code, "timeout");
    assert.ok(ticks > 2, "the host's timers should have fired during the evaluation");
  } finally {
    clearInterval(timer);
  }
});

test("a memory bomb fails cleanly (memory_limit or timeout) and the host survives", async () => {
  const bombs = [
    `import { dag } from "ferry";\nconst a = [];\nwhile (true) a.push(new Array(1e6));\nexport default dag("a", {}, () => {});`,
    `import { dag } from "ferry";\nconst a: string[] = [];\nwhile (true) a.push("x".repeat(1e6) + Math.random());\nexport default dag("a", {}, () => {});`,
    `import { dag } from "ferry";\nconst a: number[][] = [];\nwhile (true) a.push(new Array(1e5).fill(1));\nexport default dag("a", {}, () => {});`,
  ];
  const concurrentGood = compileDagFile(GOOD);
  const errors = await Promise.all(bombs.map(async (bomb) => errorOf(await compileDagFile(bomb))));
  // Which limit a bomb hits first depends on the machine; either way it must fail cleanly.
  for (const error of errors) assert.ok(error.code === "memory_limit" || error.code === "timeout", `${error.code}: ${error.message}`);
  assert.ok((await concurrentGood).ok);
  assert.ok((await compileDagFile(GOOD)).ok);
});

test("with time to spare, a growing heap hits memory_limit at the allocating line", async () => {
  const source = `import { dag } from "ferry";
const keep: number[][] = [];
for (;;) {
  keep.push([1, 2, 3, 4]);
}
export default dag("a", {}, () => {});`;
  const error = errorOf(await compileDagFile(source, { memoryBytes: 16 * 1024 * 1024, timeoutMs: 60_000 }));
  assert.equal(error.code, "memory_limit");
  assert.match(error.message, /16 MiB/);
  assert.equal(error.line, 4);
});

test("endless recursion is an evaluation error, not a crash", async () => {
  const error = errorOf(await compileDagFile(`function f(n: number): number { return f(n + 1) + 1; }\nf(0);\nexport default 1;`));
  assert.equal(error.code, "evaluation_error");
  assert.match(error.message, /calls itself/);
});

test("the sandbox has no process, require, fs, network or timers", async () => {
  const source = `import { dag, task } from "ferry";
const g = globalThis as any;
const seen = [typeof g.process, typeof g.fetch, typeof g.setTimeout, typeof g.setInterval, typeof g.XMLHttpRequest, typeof g.Deno, typeof g.Bun, typeof g.std, typeof g.os].join(",");
let req = "ok";
try { (g.require ?? (() => { throw new Error("none"); }))("fs"); req = "loaded"; } catch (e) { req = "blocked"; }
const ctorEscape = (() => { try { return typeof (function () {}).constructor("return this")().process; } catch { return "threw"; } })();
export default dag("probe", { description: seen + "|" + req + "|" + ctorEscape }, () => { task("t", () => 1); });`;
  const result = await compileDagFile(source);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  assert.equal(result.definition.description, "undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined,undefined|blocked|undefined");
});

test("console.log at the top level is allowed and discarded", async () => {
  const result = await compileDagFile(`import { dag, task } from "ferry";\nconsole.log("debug");\nexport default dag("c", {}, () => { task("t", () => 1); });`);
  assert.ok(result.ok);
});
