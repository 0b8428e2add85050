/** A vault whose ciphertext lives in S3 (Ceph RGW on loopback), over every metadata backend. */
import { randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { internalsOf } from "../../src/platform/vault.js";
import { BACKENDS, bytesOf, codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";
import { freshBucket, HAVE_S3, s3Env, testClient } from "../support/s3.js";

async function keysIn(b: Awaited<ReturnType<typeof freshBucket>>): Promise<string[]> {
  const r = await b.client.send(new ListObjectsV2Command({ Bucket: b.config.bucket }));
  return (r.Contents ?? [])
    .map((o) => o.Key!)
    .filter((k) => k !== "voxvault-vault.json") // the vault's claim on the bucket
    .sort();
}

describe.runIf(HAVE_S3).each(BACKENDS)("a vault on S3 ($name metadata)", (backend) => {
  let sb: Sandbox;
  let bucket: Awaited<ReturnType<typeof freshBucket>>;
  afterEach(async () => {
    await sb.cleanup();
    await bucket.drop();
  });

  it("keeps only ciphertext under random keys, reads ranges, and shreds to an empty bucket", async () => {
    sb = sandbox(backend);
    bucket = await freshBucket();
    const env = { ...sb.env, ...s3Env() };
    const v = await sb.init({ storage: bucket.config, env });
    try {
      expect(v.config.blobStore).toMatchObject({ driver: "s3", bucket: bucket.config.bucket });
      const s = await v.subjects.add({ ref: "interviewee-7@example.com", tenant: "acme" });
      const voice = randomBytes(12 * 1024 * 1024 + 5); // several parts
      const marker = Buffer.from("THIS-IS-A-VOICE-RECORDING");
      marker.copy(voice, 1000);
      const big = await v.blobs.put({ subjectId: s.id, kind: "raw", data: bytesOf(voice) });
      const small = await v.blobs.put({ subjectId: s.id, kind: "note", data: bytesOf(marker) });
      expect((await collectBytes((await v.blobs.read(big.id)).stream)).equals(voice)).toBe(true);
      const range = await v.blobs.read(big.id, { start: 1000, end: 1000 + marker.length });
      expect((await collectBytes(range.stream)).equals(marker)).toBe(true);

      // object keys are the blob ids: no tenant, subject, kind or reference
      const keys = await keysIn(bucket);
      expect(keys).toEqual([big.id, small.id].sort());
      for (const k of keys)
        for (const leak of [s.id, "acme", "raw", "note", "interviewee"]) expect(k).not.toContain(leak);
      // and what is stored is ciphertext
      for (const k of keys) {
        const r = await bucket.client.send(new GetObjectCommand({ Bucket: bucket.config.bucket, Key: k }));
        const stored = Buffer.from(await r.Body!.transformToByteArray());
        expect(stored.includes(marker)).toBe(false);
      }
      // another account of the same service cannot read them
      const other = testClient(true);
      try {
        const denied = await other
          .send(new GetObjectCommand({ Bucket: bucket.config.bucket, Key: big.id }))
          .then(() => "read")
          .catch((e: unknown) => (e as { name?: string }).name);
        expect(denied).toBe("AccessDenied");
      } finally {
        other.destroy();
      }

      await v.shredding.request(s.id);
      expect(await codeOf(v.blobs.read(big.id))).toBe("SUBJECT_SHREDDED");
      await v.maintenance.run();
      expect(await keysIn(bucket)).toEqual([]);
    } finally {
      await v.close();
    }
  });

  it("opens again with the credentials from the environment, and not without them", async () => {
    sb = sandbox(backend);
    bucket = await freshBucket();
    const v = await sb.init({ storage: bucket.config, env: { ...sb.env, ...s3Env() } });
    const s = await v.subjects.add({ ref: "again@example.com" });
    const b = await v.blobs.put({ subjectId: s.id, kind: "note", data: bytesOf(Buffer.from("hello")) });
    expect(internalsOf(v).store.kind).toBe("s3");
    await v.close();
    // wrong secret: the bucket check at open refuses with a clear code, nothing is served
    const wrong = { ...sb.env, ...s3Env(), VOXVAULT_S3_SECRET_ACCESS_KEY: "not-the-secret" };
    expect(await codeOf(sb.open({ env: wrong }))).toBe("STORE_IO");
    const again = await sb.open({ env: { ...sb.env, ...s3Env() } });
    try {
      expect((await collectBytes((await again.blobs.read(b.id)).stream)).toString()).toBe("hello");
    } finally {
      await again.close();
    }
  });

  it("refuses a bucket that does not exist at init, and leaves nothing behind", async () => {
    sb = sandbox(backend);
    bucket = await freshBucket();
    const missing = { ...bucket.config, bucket: `${bucket.config.bucket}-missing` };
    expect(await codeOf(sb.init({ storage: missing, env: { ...sb.env, ...s3Env() } }))).toBe("STORE_IO");
    expect(await codeOf(sb.open())).toBe("VAULT_NOT_FOUND");
  });

  it("gives a bucket and prefix to one vault only: a second vault there, or a foreign claim, is refused", async () => {
    sb = sandbox(backend);
    bucket = await freshBucket();
    const env = { ...sb.env, ...s3Env() };
    const v = await sb.init({ storage: bucket.config, env });
    const s = await v.subjects.add({ ref: "first@example.com" });
    const kept = await v.blobs.put({ subjectId: s.id, kind: "note", data: bytesOf(Buffer.from("mine")) });
    await v.close();

    const other = sandbox(backend);
    try {
      const otherEnv = { ...other.env, ...s3Env() };
      // a second vault on the same bucket and prefix would sweep the first one's objects as orphans
      expect(await codeOf(other.init({ storage: bucket.config, env: otherEnv }))).toBe("CONFIG_INVALID");
      // under a prefix of its own it is fine, and its sweep leaves the first vault's objects alone
      const w = await other.init({ storage: { ...bucket.config, prefix: "staging/" }, env: otherEnv });
      await w.maintenance.run({ graceMs: 0 });
      await w.close();
    } finally {
      await other.cleanup();
    }
    // a claim that names another vault (a vault.json pointed at the wrong bucket) does not open
    await bucket.client.send(
      new PutObjectCommand({
        Bucket: bucket.config.bucket,
        Key: "voxvault-vault.json",
        Body: JSON.stringify({ vaultId: "vlt_00000000000000000000000000" }),
      }),
    );
    expect(await codeOf(sb.open({ env }))).toBe("CONFIG_INVALID");
    await bucket.client.send(
      new PutObjectCommand({
        Bucket: bucket.config.bucket,
        Key: "voxvault-vault.json",
        Body: JSON.stringify({ vaultId: v.id }),
      }),
    );
    const again = await sb.open({ env });
    try {
      expect((await collectBytes((await again.blobs.read(kept.id)).stream)).toString()).toBe("mine");
    } finally {
      await again.close();
    }
  });
});
