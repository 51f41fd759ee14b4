#!/usr/bin/env node
// Entry point of Ferry's worker image: runs one function task of one DAG version (see worker/).
import { register } from "tsx/esm/api";

register();
await import("../worker/main.ts");
