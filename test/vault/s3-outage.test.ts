/**
 * The vault's S3 service away for 30 s while ingest workers have queued uploads (issue 13 §3):
 * the vault reaches Ceph RGW through a TCP proxy that resets every connection and refuses new
 * ones. Jobs that meet the outage back off and retry (STORE_IO is transient), none fails, and once
 * the service is back every upload ends with exactly one recording and no stray blob.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalsOf, type Vault } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, speech } from "../support/audio.js";
import { bytesOf, sandbox, type Sandbox } from "../support/backends.js";
import { freshBucket, HAVE_S3, S3_ENDPOINT, s3Env } from "../support/s3.js";
import { tcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const OUTAGE_MS = 30_000;

describe.runIf(HAVE_S3 && HAVE_AUDIO_TOOLS)("the vault's S3 service away for 30 s", () => {
  let sb: Sandbox;
  let bucket: Awaited<ReturnType<typeof freshBucket>>;
  let proxy: TcpProxy;
  let v: Vault;

  beforeAll(async () => {
    sb = sandbox({ name: "sqlite" });
    bucket = await freshBucket();
    const target = new URL(S3_ENDPOINT!);
    proxy = await tcpProxy({ host: target.hostname, port: Number(target.port) });
    const env = { ...sb.env, ...s3Env() };
    const storage = { ...bucket.config, endpoint: `http://127.0.0.1:${proxy.port}` };
    await (await sb.init({ storage, env })).close();
    v = await sb.open({ env });
  });
  afterAll(async () => {
    await v.close();
    await proxy.close();
    await bucket.drop();
    await sb.cleanup();
  });

  it("jobs wait and resume; each upload ends with one recording", async () => {
    const s = await v.subjects.add({ ref: "contractor-s3-outage" });
    const audio = (["slt", "awb", "rms"] as const).map((voice) =>
      readFileSync(
        speech("It is easy to tell the depth of a well. These days a chicken leg is a rare dish.", voice),
      ),
    );
    const ids: string[] = [];
    for (const a of audio) {
      const u = await v.uploads.create(s.id, "tester", a.length);
      await v.uploads.append(u.id, undefined, 0, bytesOf(a));
      ids.push(u.id);
    }
    // The service goes away before any worker has started: every first attempt meets it.
    await proxy.down();
    const worker = v.jobs.startWorker({ pollMs: 100, leaseMs: 10_000, backoffBaseMs: 1000 });
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // Meanwhile the jobs were tried, failed transiently and wait for their retry: none failed.
    const during = await Promise.all(ids.map((id) => v.uploads.status(id)));
    for (const st of during) {
      expect(st.status, JSON.stringify(st)).toMatch(/^(queued|processing)$/);
      expect(st.attempts).toBeGreaterThan(0);
    }
    expect(during.some((st) => st.error?.code === "STORE_IO")).toBe(true);
    await proxy.up();
    for (const id of ids) {
      const r = await v.uploads.waitFor(id, undefined, 60_000);
      expect(r.state.status, JSON.stringify(r.state)).toBe("complete");
    }
    await worker.stop();
    const db = internalsOf(v).meta.db;
    const recs = await db
      .selectFrom("recordings")
      .select("upload_id")
      .where("subject_id", "=", s.id)
      .execute();
    expect(recs.map((r) => r.upload_id).sort()).toEqual([...ids].sort());
    const drv = await db.selectFrom("derivations").select("id").where("subject_id", "=", s.id).execute();
    const blobs = await db.selectFrom("blobs").select("id").where("subject_id", "=", s.id).execute();
    expect(blobs.length).toBe(drv.length);
    // Partial writes cut by the outage are orphans for the sweep; afterwards the bucket holds
    // exactly the committed blobs.
    await v.maintenance.run({ graceMs: 0 });
    const stats = await v.subjects.get(s.id);
    expect(stats).toMatchObject({ blobCount: drv.length });
  }, 180_000);
});
