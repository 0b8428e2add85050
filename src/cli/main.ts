#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node
// At most two glibc malloc arenas: audio buffers passed between the ingest's threads otherwise
// spread over per-thread arenas and raise peak RSS (docs/operations.md, "Memory").
import { run } from "./run.js";

process.exitCode = await run(process.argv.slice(2));
