// @ts-check
// Builds Ferry into dist/ (`npm run build`, or `node bin/build.js [--if-stale]`), and tells bin/ferry.js
// whether dist/ is missing or older than the sources, so `npm ci && npm start` builds before it starts.
// What the build makes, all in dist/ (git-ignored), laid out like the source tree:
//  - tsc (tsconfig.build.json): type-checks Ferry's own code (not test/ or bench/) and emits it as ES
//    modules, relative `.ts` imports rewritten to `.js`, with .d.ts files (dist/sdk/ types DAG files);
//  - the files the code reads at run time beside itself: every non-TypeScript file of the source folders
//    (migrations/*.sql, the sandbox thread's .mjs, ...) and the SDK's .ts sources, which the DAG compiler
//    bundles into its sandbox;
//  - dist/worker.cjs: the function-task worker (worker/main.ts) bundled by esbuild with everything it
//    imports into one file that needs no node_modules: what worker Pods run.
// The source folders are found, not listed: every top-level folder but the ones in NOT_SOURCES, so files
// that move between folders need no change here. Plain JavaScript (checked by tsc through @ts-check):
// it runs before anything is compiled, without tsx. Only Node's own modules are imported up front, so
// the freshness check costs bin/ferry.js a few milliseconds.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = path.join(ROOT, "dist");
const STAMP = path.join(DIST, ".build-stamp.json");
const LOCK = path.join(ROOT, ".dist-lock");
const BUILD_CONFIG = "tsconfig.build.json";
/** Top-level files whose change means a rebuild. */
const INPUT_FILES = ["package.json", "package-lock.json", "tsconfig.json", BUILD_CONFIG];
/** Top-level folders that are not part of the built program (hidden ones and dist* are skipped too). */
const NOT_SOURCES = new Set(["node_modules", "test", "bench", "deploy", "tmp", "coverage"]);
/** bin/ is an input (this file is the build), but not copied: it stays beside dist/, not in it. */
const INPUT_ONLY = new Set(["bin"]);

/** @typedef {{ rel: string, mtimeMs: number, dir: boolean }} Entry */

/** @param {string} rel @param {Entry[]} out */
async function walk(rel, out) {
  const abs = path.join(ROOT, rel);
  out.push({ rel, mtimeMs: (await stat(abs)).mtimeMs, dir: true }); // a folder's mtime changes when a file is added, moved or deleted
  for (const entry of await readdir(abs, { withFileTypes: true })) {
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) await walk(child, out);
    else if (entry.isFile()) out.push({ rel: child, mtimeMs: (await stat(path.join(ROOT, child))).mtimeMs, dir: false });
  }
}

/** Every input of the build: the source folders' files and folders, bin/, and the top-level config files. */
export async function sourceEntries() {
  /** @type {Entry[]} */
  const out = [];
  for (const entry of await readdir(ROOT, { withFileTypes: true })) {
    const name = entry.name;
    if (entry.isDirectory()) {
      if (name.startsWith(".") || name.startsWith("dist") || NOT_SOURCES.has(name)) continue;
      await walk(name, out);
    } else if (INPUT_FILES.includes(name)) {
      out.push({ rel: name, mtimeMs: (await stat(path.join(ROOT, name))).mtimeMs, dir: false });
    }
  }
  return out;
}

/** True in a checkout (sources to build from); false in an image that holds only bin/ and dist/. */
export function hasSources() {
  return existsSync(path.join(ROOT, BUILD_CONFIG));
}

/**
 * Why dist/ must be (re)built, or null when it is up to date: missing, or an input changed after the
 * last build started (or, when strict, that build had type errors). Without sources (a runtime image)
 * dist/ is taken as it is.
 * @param {boolean} [strict]
 * @returns {Promise<string | null>}
 */
export async function staleReason(strict = false) {
  if (!hasSources()) return existsSync(path.join(DIST, "cli", "main.js")) ? null : "dist/ is missing and there are no sources to build it from";
  /** @type {{ startedAt: number, typeErrors: boolean } | undefined} */
  let stamp;
  try {
    stamp = JSON.parse(await readFile(STAMP, "utf8"));
  } catch {
    return "dist/ is missing";
  }
  if (strict && stamp?.typeErrors !== false) return "the last build had type errors";
  const startedAt = stamp?.startedAt ?? 0;
  const newer = (await sourceEntries()).find((e) => e.mtimeMs > startedAt);
  return newer ? `${newer.rel} changed since the last build` : null;
}

/** @param {string} file @param {string[]} args @returns {Promise<number>} */
function run(file, args) {
  return new Promise((resolve, reject) => {
    // Everything tsc prints goes to stderr: the CLI's stdout stays its own (`ferry dags list --json`).
    const child = spawn(process.execPath, [file, ...args], { cwd: ROOT, stdio: ["ignore", 2, 2] });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function resolveTsc() {
  try {
    return createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch {
    throw new Error("the build needs TypeScript (a dev dependency): run `npm ci` first");
  }
}

/**
 * Builds into a fresh folder, then swaps it in for dist/, so a running Ferry never sees half a build.
 * strict: type errors fail the build (`npm run build`, CI). Otherwise (bin/ferry.js's automatic build,
 * like running the sources through tsx did) they are printed and the emitted code is used.
 * @param {{ strict: boolean }} opts
 */
export async function build({ strict }) {
  const startedAt = Date.now();
  const out = path.join(ROOT, `.dist-${process.pid}`);
  await rm(out, { recursive: true, force: true });
  try {
    // 0: no errors; 2: errors, but the JavaScript was emitted; anything else: nothing usable.
    const code = await run(resolveTsc(), ["-p", BUILD_CONFIG, "--outDir", out]);
    if (code !== 0 && (strict || code !== 2)) throw new Error(`tsc found errors (exit code ${code}); nothing was built`);
    if (code === 2) process.stderr.write("ferry: built with the type errors above (`npm run build` fails on them)\n");
    await copyRunTimeFiles(out);
    await bundleWorker(out);
    await writeFile(path.join(out, path.basename(STAMP)), JSON.stringify({ startedAt, typeErrors: code !== 0 }) + "\n");
    await swapIn(out);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** @param {string} out */
async function copyRunTimeFiles(out) {
  for (const e of await sourceEntries()) {
    const top = e.rel.split(path.sep)[0] ?? "";
    if (e.dir || INPUT_ONLY.has(top) || !e.rel.includes(path.sep)) continue;
    if (e.rel.endsWith(".ts") && top !== "sdk") continue;
    await mkdir(path.join(out, path.dirname(e.rel)), { recursive: true });
    await copyFile(path.join(ROOT, e.rel), path.join(out, e.rel));
  }
}

/** @param {string} out */
async function bundleWorker(out) {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [path.join(ROOT, "worker", "main.ts")],
    outfile: path.join(out, "worker.cjs"),
    bundle: true,
    platform: "node",
    // CommonJS: Node starts a CommonJS entry ~5 ms of CPU sooner than an ES module (no ESM loader),
    // once per function-task Pod.
    format: "cjs",
    target: "node20",
    logLevel: "warning",
    banner: { js: "// Ferry's function-task worker, bundled from worker/ by bin/build.js. Run: node worker.cjs" },
  });
}

/** @param {string} out */
async function swapIn(out) {
  for (let attempt = 0; ; attempt++) {
    const old = path.join(ROOT, `.dist-old-${process.pid}-${attempt}`);
    try {
      await rename(DIST, old);
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== "ENOENT") throw error;
    }
    try {
      await rename(out, DIST);
      await rm(old, { recursive: true, force: true });
      return;
    } catch (error) {
      // Another build swapped its dist/ in between our two renames: try again (the newest wins).
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      if ((code !== "ENOTEMPTY" && code !== "EEXIST") || attempt >= 5) throw error;
      await rm(old, { recursive: true, force: true });
    }
  }
}

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === "EPERM";
  }
}

/**
 * One build at a time per checkout (tests start several `ferry` processes at once): a lock folder
 * holding the builder's pid; a lock whose process is gone is taken over.
 * @template T @param {() => Promise<T>} work @returns {Promise<T>}
 */
async function withLock(work) {
  for (;;) {
    try {
      await mkdir(LOCK);
      break;
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code !== "EEXIST") throw error;
    }
    const owner = Number(await readFile(path.join(LOCK, "pid"), "utf8").catch(() => "NaN"));
    const age = Date.now() - ((await stat(LOCK).catch(() => null))?.mtimeMs ?? Date.now());
    if ((Number.isInteger(owner) && !alive(owner)) || (!Number.isInteger(owner) && age > 10_000)) {
      await rm(LOCK, { recursive: true, force: true });
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    await writeFile(path.join(LOCK, "pid"), String(process.pid));
    return await work();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

/**
 * Builds dist/ when it is missing or stale; quick when it is not. Messages go to stderr.
 * @param {{ strict?: boolean, quiet?: boolean }} [opts]
 */
export async function ensureBuilt(opts = {}) {
  const reason = await staleReason(opts.strict);
  if (reason === null) return;
  if (!hasSources()) throw new Error(reason);
  await withLock(async () => {
    const still = await staleReason(opts.strict); // another process may have built it while we waited
    if (still === null) return;
    const t0 = Date.now();
    if (!opts.quiet) process.stderr.write(`ferry: building dist/ (${still})...\n`);
    await build({ strict: opts.strict ?? false });
    if (!opts.quiet) process.stderr.write(`ferry: built dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes("--if-stale")) await ensureBuilt({ strict: true });
    else await withLock(() => build({ strict: true }));
  } catch (error) {
    process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
