#!/usr/bin/env node
// Ferry's worker run from its TypeScript sources through tsx: what localkube runs for a function task
// when Ferry itself runs from sources (the tests, `npm run bench`'s in-process sections). A built Ferry
// and the worker image run the bundled dist/worker.cjs instead (see bin/build.js); tsx is a dev dependency.
import { register } from "tsx/esm/api";

register();
await import("../worker/main.ts");
