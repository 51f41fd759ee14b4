#!/usr/bin/env node
// The `ferry` command. Ferry is written in TypeScript and runs from source through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
