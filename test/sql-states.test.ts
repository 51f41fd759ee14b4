// Guards the one definition of the states (scheduler/states.ts): SQL in Ferry's sources names a set of
// run or task states by interpolating its lists with sqlStates(), never by spelling them out again, so
// adding or renaming a state cannot leave a query behind. (A single state compared with `=` is a name,
// not a list, and is allowed.)
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { RUN_STATES, TASK_STATES } from "../scheduler/states.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SKIPPED = new Set(["node_modules", "dist", "test", ".git", ".ferry", "migrations", "bench"]);
const STATES = new Set<string>([...RUN_STATES, ...TASK_STATES]);

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (SKIPPED.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) found.push(...(await sources(p)));
    else if (e.name.endsWith(".ts")) found.push(p);
  }
  return found;
}

/** `IN ('a', 'b', ...)` lists whose every item is a state name. */
export function stateListsIn(text: string): string[] {
  const lists = [...text.matchAll(/IN\s*\(\s*('[a-z_]+'(?:\s*,\s*'[a-z_]+')*)\s*\)/g)];
  return lists.map((m) => m[1]!).filter((items) => items.split(",").every((i) => STATES.has(i.trim().slice(1, -1))));
}

it("finds a spelled-out state list (the check can fail)", () => {
  assert.deepEqual(stateListsIn(`WHERE state IN ('queued', 'running') AND kind IN ('a', 'b')`), ["'queued', 'running'"]);
});

it("no SQL in the sources spells out a list of states", async () => {
  const found: string[] = [];
  for (const file of await sources(ROOT)) {
    for (const list of stateListsIn(await readFile(file, "utf8"))) found.push(`${path.relative(ROOT, file)}: IN (${list})`);
  }
  assert.deepEqual(found, [], "interpolate a list from scheduler/states.ts with sqlStates() instead");
});
