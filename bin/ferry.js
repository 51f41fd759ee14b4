#!/usr/bin/env node
// The `ferry` command. Runs Ferry's compiled JavaScript in dist/ (no TypeScript loader). In a checkout it
// first builds dist/ when it is missing or older than the sources (bin/build.js), so `npm ci && npm start`
// needs no other step; when nothing changed that check takes a few milliseconds.
import { ensureBuilt } from "./build.js";

try {
  await ensureBuilt();
} catch (error) {
  process.stderr.write(`ferry: cannot build dist/: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
await import("../dist/cli/main.js");
