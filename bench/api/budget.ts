/**
 * Egress budget enforcement under 50 concurrent clients: 50 tokens of one consumer application
 * (one principal, one budget) read a derivation over HTTPS as fast as they can until refused. The
 * budget must be met exactly — no overshoot, no undershoot — in items (quality-review: 200 items)
 * and in bytes (research-aggregates: room for 150.5 derivations). Checked three ways: successful
 * responses, the usage rows the vault charged, and the audit events. Exits non-zero if not exact.
 */
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { openVault } from "../../src/platform/index.js";
import { machineLine } from "../machine.js";
import { benchVault, get, pct, serve, speechWav } from "./common.js";
import { internalsOf } from "../../src/platform/vault.js";

const CLIENTS = 50;
const ITEMS = 200;
const BYTES_ROOM = 150.5;

async function collect(src: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of src) n += c.length;
  return n;
}

console.log(machineLine());
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-budget-"));
let exact = true;
try {
  // First pass: a vault with a recording, to learn the voice-stats size for the bytes budget.
  const probe = await benchVault(path.join(root, "probe"));
  const wav = speechWav(path.join(root, "audio"));
  const s0 = await probe.vault.subjects.add({ ref: "probe" });
  const r0 = await probe.vault.recordings.ingest({
    subjectId: s0.id,
    source: createReadStream(wav) as AsyncIterable<Uint8Array>,
  });
  const statsSize = await collect(
    (await probe.vault.blobs.read(r0.derivations.find((d) => d.name === "voice-stats")!.blobId)).stream,
  );
  await probe.vault.close();

  const maxBytes = Math.floor(BYTES_ROOM * statsSize);
  const { dataDir, vault } = await benchVault(path.join(root, "vault"), {
    budgets: {
      default: { window: "1h", maxBytes: 1_000_000_000, maxItems: 1_000_000 },
      purposes: {
        "quality-review": { window: "1h", maxBytes: 1_000_000_000, maxItems: ITEMS },
        "research-aggregates": { window: "1h", maxBytes, maxItems: 1_000_000 },
      },
      suspendAfterExceedances: 5,
    },
  });
  const s = await vault.subjects.add({ ref: "bench-contractor" });
  for (const p of ["quality-review", "research-aggregates"]) {
    const text = await vault.access.consentTexts.publish(p, { en: `bench consent for ${p}` });
    await vault.access.consents.grant(s.id, p, text.version.texts[0]!.textHash);
  }
  const rec = await vault.recordings.ingest({
    subjectId: s.id,
    source: createReadStream(wav) as AsyncIterable<Uint8Array>,
  });
  const drv = (name: string) => rec.derivations.find((d) => d.name === name)!.id;
  await vault.access.applications.register("bench-app", ["quality-review", "research-aggregates"]);
  const tokens: string[] = [];
  let principalId = "";
  for (let i = 0; i < CLIENTS; i++) {
    const t = await vault.access.tokens.create({
      role: "consumer",
      application: "bench-app",
      purposes: ["quality-review", "research-aggregates"],
    });
    tokens.push(t.token);
    principalId = t.info.principalId;
  }
  await vault.close();

  const server = await serve(dataDir);
  const rows: string[] = [];
  const runs: {
    purpose: string;
    limit: string;
    expected: number;
    ok: number;
    refused: number;
    other: number;
    ms: number[];
  }[] = [];
  try {
    for (const [purpose, name, expected, limit] of [
      ["quality-review", "quality", ITEMS, `${ITEMS} items`],
      [
        "research-aggregates",
        "voice-stats",
        Math.floor(BYTES_ROOM),
        `${maxBytes} bytes (${BYTES_ROOM} × ${statsSize})`,
      ],
    ] as const) {
      const url = `/v1/derivations/${drv(name)}?purpose=${purpose}`;
      let ok = 0;
      let refused = 0;
      let other = 0;
      const ms: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        tokens.map(async (token) => {
          const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.cert });
          try {
            for (;;) {
              const r = await get(agent, server.port, url, token);
              if (r.status === 200) {
                ok++;
                ms.push(r.ms);
                continue;
              }
              const code = (JSON.parse(r.body.toString()) as { error: { code: string } }).error.code;
              if (r.status === 429 && code === "BUDGET_EXCEEDED") {
                refused++;
                return;
              }
              other++;
              return;
            }
          } finally {
            agent.destroy();
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      ms.sort((a, b) => a - b);
      runs.push({ purpose, limit, expected, ok, refused, other, ms });
      rows.push(
        `| ${purpose} | ${limit} | ${CLIENTS} | ${ok} | ${expected} | ${refused} | ${other} | ${(ok / seconds).toFixed(0)} | ${pct(ms, 50).toFixed(1)} | ${pct(ms, 99).toFixed(1)} |`,
      );
    }
  } finally {
    await server.stop();
  }

  const v = await openVault({ dataDir });
  try {
    console.log(
      `\n${CLIENTS} concurrent HTTPS clients (one token each, one application), each reading until refused\n`,
    );
    console.log(
      "| purpose | budget | clients | served | budget allows | refused 429 | other | served/s | p50 ms | p99 ms |",
    );
    console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const r of rows) console.log(r);
    console.log(
      "\n| purpose | charged items | charged bytes | derivation.served events | budget.exceeded events | exact |",
    );
    console.log("|---|---:|---:|---:|---:|---|");
    const events = await v.audit.list({ limit: 1_000_000 });
    for (const r of runs) {
      const usage = await internalsOf(v)
        .meta.db.selectFrom("egress_usage")
        .select(["items", "bytes"])
        .where("principal_id", "=", principalId)
        .where("purpose", "=", r.purpose)
        .execute();
      const items = usage.reduce((n, u) => n + u.items, 0);
      const bytes = usage.reduce((n, u) => n + u.bytes, 0);
      const served = events.filter(
        (e) => e.event.type === "derivation.served" && e.event.purpose === r.purpose,
      ).length;
      const exceeded = events.filter(
        (e) => e.event.type === "budget.exceeded" && e.event.purpose === r.purpose,
      ).length;
      const ok =
        r.ok === r.expected &&
        items === r.expected &&
        served === r.expected &&
        exceeded === r.refused &&
        r.other === 0;
      exact &&= ok;
      console.log(`| ${r.purpose} | ${items} | ${bytes} | ${served} | ${exceeded} | ${ok ? "yes" : "NO"} |`);
    }
  } finally {
    await v.close();
  }
  console.log(
    `\nbudget enforcement under ${CLIENTS} concurrent clients: ${exact ? "exact, no overshoot" : "NOT EXACT"}`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (!exact) process.exitCode = 1;
