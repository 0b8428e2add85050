/**
 * API metadata reads (GET /v1/subjects/:id: token check, subject lookup, Cedar decision) at 200 and
 * 500 requests/s, sent from this process to the server that `voxvault serve` runs in its own
 * process, over HTTPS on loopback. Goal: p99 <= 20 ms at 500/s.
 *
 * Two load shapes, both from this (second) process:
 * - autocannon with a fixed overall rate. Its pacing is per second: each connection sends its
 *   quota back to back when its one-second interval ticks, then waits — so this measures bursts of
 *   up to 20 concurrent requests each second. Its coordinated-omission correction is on.
 * - an open-loop paced generator: requests scheduled evenly (every 2 ms at 500/s) over a pool of
 *   keep-alive connections, each latency measured from its scheduled send time (so a slow server
 *   or a late client is charged, never hidden).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { machineLine } from "../machine.js";
import { benchVault, get, pct, serve } from "./common.js";

interface Histogram {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly average: number;
}
interface Result {
  readonly latency: Histogram;
  readonly requests: { readonly total: number; readonly average: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly duration: number;
}
interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
}
interface Options {
  readonly url: string;
  readonly connections: number;
  readonly duration: number;
  readonly overallRate: number;
  readonly requests: readonly { readonly method: string; setupRequest(req: RawRequest): RawRequest }[];
  readonly tlsOptions?: { readonly ca: string };
}
const require = createRequire(import.meta.url);
const autocannon = require("autocannon") as (o: Options) => Promise<Result>;

const SUBJECTS = 500;
const TOKENS = 100; // per-token rate limit: 600/min sustained, so spread the load as many clients would
const DURATION_S = 15;

/** Evenly paced requests (open loop); latency from each request's scheduled time. */
async function paced(
  port: number,
  ca: string,
  rate: number,
  seconds: number,
  next: () => { path: string; token: string },
): Promise<{ sorted: number[]; non2xx: number; errors: number; seconds: number }> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca });
  const lat: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const total = rate * seconds;
  const t0 = performance.now();
  for (let i = 0; i < total;) {
    const now = performance.now();
    // Fire everything due by now; then sleep until the next one is due.
    for (; i < total && t0 + (i * 1000) / rate <= now; i++) {
      const due = t0 + (i * 1000) / rate;
      const { path: urlPath, token } = next();
      inflight.push(
        get(agent, port, urlPath, token).then(
          (r) => {
            if (r.status < 200 || r.status > 299) non2xx++;
            lat.push(performance.now() - due);
          },
          () => {
            errors++;
          },
        ),
      );
    }
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i * 1000) / rate - performance.now())));
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return { sorted: lat.sort((a, b) => a - b), non2xx, errors, seconds: elapsed };
}

/** CPU seconds used so far by a process (Linux /proc), or NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

console.log(machineLine());
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-http-"));
try {
  const { dataDir, vault } = await benchVault(root);
  const ids: string[] = [];
  for (let i = 0; i < SUBJECTS; i++) ids.push((await vault.subjects.add({ ref: `bench-${i}` })).id);
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i++) {
    tokens.push(
      (await vault.access.tokens.create({ role: "operator", label: "bench-operator", ttlMs: 2 * 3_600_000 }))
        .token,
    );
  }
  await vault.close();
  const server = await serve(dataDir);
  try {
    let k = 0;
    const run = (rate: number, seconds: number) =>
      autocannon({
        url: `https://127.0.0.1:${server.port}`,
        connections: 20,
        duration: seconds,
        overallRate: rate,
        tlsOptions: { ca: server.cert },
        requests: [
          {
            method: "GET",
            setupRequest: (req) => {
              k++;
              return {
                ...req,
                path: `/v1/subjects/${ids[k % ids.length]!}`,
                headers: { ...(req.headers ?? {}), authorization: `Bearer ${tokens[k % tokens.length]!}` },
              };
            },
          },
        ],
      });
    const pick = () => {
      k++;
      return { path: `/v1/subjects/${ids[k % ids.length]!}`, token: tokens[k % tokens.length]! };
    };
    await run(100, 3); // warm-up: JIT, TLS sessions, caches
    await paced(server.port, server.cert, 100, 2, pick);
    console.log(
      `\n${SUBJECTS} subjects, ${TOKENS} operator tokens, ${DURATION_S} s per run; SQLite metadata\n`,
    );
    console.log(
      "| load shape | target req/s | achieved req/s | requests | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | server CPU |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    const results: Record<string, number> = {};
    const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
    for (const rate of [200, 500]) {
      let cpu0 = cpuSeconds(server.child.pid!);
      const p = await paced(server.port, server.cert, rate, DURATION_S, pick);
      let cpu = (cpuSeconds(server.child.pid!) - cpu0) / p.seconds;
      const n = p.sorted.length;
      results[`paced ${rate}`] = pct(p.sorted, 99);
      console.log(
        `| paced, open loop | ${rate} | ${(n / p.seconds).toFixed(0)} | ${n} | ${fmt(pct(p.sorted, 50))} | ${fmt(pct(p.sorted, 90))} | ${fmt(pct(p.sorted, 99))} | ${fmt(p.sorted[n - 1]!)} | ${p.non2xx} | ${p.errors} | ${Number.isNaN(cpu) ? "n/a" : `${(cpu * 100).toFixed(0)} %`} |`,
      );
      if (p.non2xx > 0 || p.errors > 0)
        throw new Error(`paced ${rate}: ${p.non2xx} non-2xx responses, ${p.errors} errors`);
      cpu0 = cpuSeconds(server.child.pid!);
      const r = await run(rate, DURATION_S);
      cpu = (cpuSeconds(server.child.pid!) - cpu0) / r.duration;
      results[`autocannon ${rate}`] = r.latency.p99;
      console.log(
        `| autocannon, 20 connections | ${rate} | ${(r.requests.total / r.duration).toFixed(0)} | ${r.requests.total} | ${r.latency.p50} | ${r.latency.p90} | ${r.latency.p99} | ${r.latency.max} | ${r.non2xx} | ${r.errors + r.timeouts} | ${Number.isNaN(cpu) ? "n/a" : `${(cpu * 100).toFixed(0)} %`} |`,
      );
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(`autocannon ${rate}: ${r.non2xx} non-2xx responses, ${r.errors} errors`);
    }
    const ok = (x: number | undefined) => (x !== undefined && x <= 20 ? "met" : "NOT met");
    console.log(
      `\ngoal p99 <= 20 ms at 500 req/s: paced ${ok(results["paced 500"])} (p99 ${fmt(results["paced 500"]!)} ms); autocannon bursts ${ok(results["autocannon 500"])} (p99 ${results["autocannon 500"]} ms)`,
    );
    console.log("(server CPU: share of one core used by the server process during the run)");
  } finally {
    const code = await server.stop();
    if (code !== 0) console.log(`server exited with ${code}`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
