/**
 * A watchdog for every test file (vitest `setupFiles`). Vitest's own timeouts run on the test's
 * event loop, so a test that blocks it (a synchronous child process that never returns, a native
 * call that waits forever) is never timed out: the run just stops, and CI ends on its wall-clock
 * limit with nothing to say. A worker thread, which keeps running while the main thread is
 * blocked, notices missed heartbeats, writes the file and test that hung straight to stderr's
 * descriptor, and kills the process, so vitest reports the file as failed and goes on.
 */
import { Worker } from "node:worker_threads";
import { beforeEach } from "vitest";

const BLOCKED_LIMIT_MS = Number(process.env.VOXVAULT_TEST_BLOCKED_MS ?? 300_000);

const beat = new Int32Array(new SharedArrayBuffer(4));
const source = `
const { workerData, parentPort } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const beat = new Int32Array(workerData.buffer);
let current = workerData.file;
parentPort.on("message", (name) => { current = name; });
let last = Atomics.load(beat, 0);
let since = Date.now();
setInterval(() => {
  const now = Atomics.load(beat, 0);
  if (now !== last) { last = now; since = Date.now(); return; }
  if (Date.now() - since < workerData.limit) return;
  writeSync(2, "\\nwatchdog: the event loop has been blocked for " + Math.round((Date.now() - since) / 1000) +
    " s in " + current + "; killing this test process\\n");
  process.kill(process.pid, "SIGKILL");
}, 1000);
`;
const file =
  (globalThis as { __vitest_worker__?: { filepath?: string } }).__vitest_worker__?.filepath ?? "a test file";
const worker = new Worker(source, {
  eval: true,
  workerData: { buffer: beat.buffer, limit: BLOCKED_LIMIT_MS, file },
});
worker.unref();
setInterval(() => Atomics.add(beat, 0, 1), 500).unref();

beforeEach((ctx) => {
  worker.postMessage(`${file} > ${ctx.task.name}`);
});
