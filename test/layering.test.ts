// Guards the architecture (ARCHITECTURE.md, "Layers"): each top-level folder is one part, the parts are
// ordered from the leaf lib/ up to cli/, and an import may only point down that order (or stay inside
// its own folder). So no part reaches back up (nothing imports app/, the scheduler never imports the
// API) and there is no import cycle between folders. Imports are read with TypeScript's own
// pre-processor (static imports, `export ... from`, `import "x"` and dynamic `import("x")`; comments
// and strings are understood), over every source file outside node_modules, dist and test.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Lowest first. A folder may import only from folders before it (and from itself). */
export const LAYERS = [
  "lib", // shared leaf: logger, tokens, the Pod contract; imports nothing of Ferry's
  "sdk", // what DAG files import as "ferry"
  "localkube", // the embedded Kubernetes API; imports nothing of Ferry's outside itself
  "config", // reads the environment once (knows localkube's fault settings)
  "db", // the Postgres seam, embedded Postgres, migrations runner
  "logstore", // S3 and folder log stores
  "dagfile", // the sandboxed DAG compiler and template engine
  "scheduler", // cron, run planning, the runs and dags repositories, the state definitions
  "executor", // one Pod per try, watching, log shipping, the tries repositories
  "worker", // the function-task runner inside a worker Pod
  "api", // the REST API
  "app", // wires the parts into one process
  "cli", // the ferry command (starts app)
] as const;

/** Parts that must import nothing of Ferry's outside themselves, whatever their place in the order. */
export const SELF_CONTAINED = new Set<string>(["lib", "localkube"]);

/** Not parts: entry points and tools that may import any part (and test helpers), but are imported by none. */
export const TOOLS = new Set<string>(["bin", "bench", "test", "."]);

const SKIPPED_DIRS = new Set(["node_modules", "dist", "test", ".git", ".ferry"]);
const SOURCE = /\.(ts|mts|mjs|js)$/;

export interface Edge {
  /** Importing file, relative to the repository root. */
  from: string;
  /** Imported file, relative to the repository root. */
  to: string;
}

function folderOf(file: string): string {
  const i = file.indexOf("/");
  return i < 0 ? "." : file.slice(0, i);
}

async function sourceFiles(dir = ROOT): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith(".")) found.push(...(await sourceFiles(path.join(dir, entry.name))));
    } else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      found.push(path.relative(ROOT, path.join(dir, entry.name)));
    }
  }
  return found.sort();
}

/** Every relative import of every source file, as repository-relative paths. */
export async function importEdges(): Promise<Edge[]> {
  const edges: Edge[] = [];
  for (const file of await sourceFiles()) {
    const info = ts.preProcessFile(await readFile(path.join(ROOT, file), "utf8"), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith(".")) continue; // a package, or "ferry" (the SDK, through its path alias)
      edges.push({ from: file, to: path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.fileName)) });
    }
  }
  return edges;
}

/** Every broken rule, each naming the import that broke it. Empty when the layering holds. */
export function layeringProblems(edges: Edge[]): string[] {
  const problems: string[] = [];
  const rank = new Map<string, number>(LAYERS.map((l, i) => [l, i]));
  const between = new Map<string, Edge>(); // "a b" -> one import from folder a to folder b
  for (const e of edges) {
    const a = folderOf(e.from);
    const b = folderOf(e.to);
    if (a === b) continue;
    const where = `${e.from} imports ${e.to}`;
    if (TOOLS.has(b) && !TOOLS.has(a)) {
      problems.push(`${where}: ${b}/ is a tool, not a part; no part may import it`);
      continue;
    }
    if (TOOLS.has(a)) continue;
    if (!rank.has(a)) {
      problems.push(`${where}: ${a}/ has no layer; add it to LAYERS in test/layering.test.ts and to ARCHITECTURE.md`);
      continue;
    }
    if (!rank.has(b)) {
      problems.push(`${where}: ${b}/ has no layer; add it to LAYERS in test/layering.test.ts and to ARCHITECTURE.md`);
      continue;
    }
    between.set(`${a} ${b}`, e);
    if (SELF_CONTAINED.has(a)) {
      problems.push(`${where}: ${a}/ must import nothing of Ferry's outside itself`);
    } else if (rank.get(b)! > rank.get(a)!) {
      problems.push(`${where}: ${a}/ (layer ${rank.get(a)}) may not import ${b}/ (layer ${rank.get(b)}), a higher part; move what both need down (e.g. to lib/)`);
    }
  }
  problems.push(...folderCycles(between));
  return problems;
}

/** Import cycles between folders (strongly connected components of the folder graph), with one import per step. */
function folderCycles(between: Map<string, Edge>): string[] {
  const next = new Map<string, string[]>();
  for (const key of between.keys()) {
    const [a, b] = key.split(" ") as [string, string];
    next.set(a, [...(next.get(a) ?? []), b]);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const start of [...next.keys()].sort()) {
    // Depth-first search for a path from start back to start, through folders not already reported.
    const path: string[] = [start];
    const visit = (node: string): boolean => {
      for (const n of next.get(node) ?? []) {
        if (n === start) return true;
        if (path.includes(n) || seen.has(n)) continue;
        path.push(n);
        if (visit(n)) return true;
        path.pop();
      }
      return false;
    };
    if (!visit(start)) continue;
    const loop = [...path, start];
    const steps = loop.slice(0, -1).map((a, i) => {
      const e = between.get(`${a} ${loop[i + 1]}`)!;
      return `${e.from} imports ${e.to}`;
    });
    problems.push(`import cycle between folders ${loop.join(" -> ")} (${steps.join("; ")})`);
    for (const f of path) seen.add(f);
  }
  return problems;
}

describe("layering", () => {
  it("every import points down the layers, and no folders import each other in a cycle", async () => {
    const edges = await importEdges();
    assert.ok(edges.length > 100, `found only ${edges.length} imports: is the scan broken?`);
    const problems = layeringProblems(edges);
    assert.deepEqual(problems, [], `the layering is broken (see ARCHITECTURE.md):\n  ${problems.join("\n  ")}`);
  });

  it("names the import that broke a rule", () => {
    const problems = layeringProblems([
      { from: "executor/executor.ts", to: "app/logger.ts" },
      { from: "lib/x.ts", to: "db/db.ts" },
      { from: "localkube/pods.ts", to: "lib/logger.ts" },
      { from: "db/db.ts", to: "logstore/s3.ts" },
      { from: "logstore/s3.ts", to: "db/db.ts" },
      { from: "api/server.ts", to: "bench/run.ts" },
      { from: "nowhere/x.ts", to: "lib/logger.ts" },
      { from: "scheduler/scheduler.ts", to: "db/db.ts" },
      { from: "bench/run.ts", to: "test/support/s3.ts" },
    ]);
    assert.deepEqual(problems, [
      "executor/executor.ts imports app/logger.ts: executor/ (layer 8) may not import app/ (layer 11), a higher part; move what both need down (e.g. to lib/)",
      "lib/x.ts imports db/db.ts: lib/ must import nothing of Ferry's outside itself",
      "localkube/pods.ts imports lib/logger.ts: localkube/ must import nothing of Ferry's outside itself",
      "db/db.ts imports logstore/s3.ts: db/ (layer 4) may not import logstore/ (layer 5), a higher part; move what both need down (e.g. to lib/)",
      "api/server.ts imports bench/run.ts: bench/ is a tool, not a part; no part may import it",
      "nowhere/x.ts imports lib/logger.ts: nowhere/ has no layer; add it to LAYERS in test/layering.test.ts and to ARCHITECTURE.md",
      "import cycle between folders db -> logstore -> db (db/db.ts imports logstore/s3.ts; logstore/s3.ts imports db/db.ts)",
    ]);
  });
});
