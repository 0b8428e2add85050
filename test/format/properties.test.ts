import { createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  blobLayout,
  collect,
  encodeBlobContext,
  openBuffer,
  openRange,
  openStream,
  sealBuffer,
  sealStream,
  type BlobContext,
} from "../../src/format/index.js";
import { chunked, errorCode, memorySource } from "./helpers.js";

const ctx: BlobContext = { tenant: "t1", subject: "s1", blobId: "b1", kind: "raw" };
const LOG2 = 12;
const S = 4096;
const dek = new Uint8Array(randomBytes(32));

describe("round trip", () => {
  test.prop(
    [
      fc.integer({ min: 0, max: 4 * S + 3 }),
      fc.integer({ min: 1, max: 9000 }),
      fc.integer({ min: 1, max: 9000 }),
    ],
    {
      numRuns: 60,
    },
  )("any size, any chunking on both sides", async (len, inChunk, outChunk) => {
    const pt = new Uint8Array(randomBytes(len));
    const ct = await collect(sealStream(dek, ctx, chunked(pt, inChunk), { segmentLog2: LOG2 }));
    expect(ct.length).toBe(111 + Math.max(1, Math.ceil(len / S)) * 16 + len);
    const back = await collect(openStream(dek, ctx, chunked(ct, outChunk), { expectedLength: ct.length }));
    expect(Buffer.from(back).equals(Buffer.from(pt))).toBe(true);
    expect(blobLayout(ct.length, LOG2).plaintextLength).toBe(len);
  });

  it("exact segment multiples and zero length", async () => {
    for (const len of [0, S, 2 * S, 3 * S]) {
      const pt = new Uint8Array(randomBytes(len));
      const ct = await sealBuffer(dek, ctx, pt, { segmentLog2: LOG2 });
      expect(blobLayout(ct.length, LOG2).segments).toBe(Math.max(1, len / S));
      expect(Buffer.from(await openBuffer(dek, ctx, ct)).equals(Buffer.from(pt))).toBe(true);
    }
  });

  test.prop([fc.integer({ min: 1, max: 5 * S }), fc.nat(), fc.nat()], { numRuns: 60 })(
    "range reads equal the slice and touch only the needed segments",
    async (len, x, y) => {
      const pt = new Uint8Array(randomBytes(len));
      const ct = await sealBuffer(dek, ctx, pt, { segmentLog2: LOG2 });
      const a = x % (len + 1);
      const b = a + (y % (len - a + 1));
      const src = memorySource(ct);
      const got = await collect(openRange(dek, ctx, src, a, b));
      expect(Buffer.from(got).equals(Buffer.from(pt.subarray(a, b)))).toBe(true);
      expect(src.reads).toBeLessThanOrEqual(b > a ? 2 + Math.ceil((b - a) / S / 16) + 1 : 1);
    },
  );

  it("rejects ranges outside the blob", async () => {
    const ct = await sealBuffer(dek, ctx, new Uint8Array(100), { segmentLog2: LOG2 });
    expect(await errorCode(collect(openRange(dek, ctx, memorySource(ct), 50, 101)))).toBe(
      "BLOB_RANGE_INVALID",
    );
    expect(await errorCode(collect(openRange(dek, ctx, memorySource(ct), 60, 50)))).toBe(
      "BLOB_RANGE_INVALID",
    );
  });
});

describe("tamper resistance", () => {
  test.prop([fc.integer({ min: 0, max: 3 * S }), fc.nat(), fc.integer({ min: 1, max: 255 })], {
    numRuns: 80,
  })("any single-byte change fails to open, never yields other plaintext", async (len, pos, xor) => {
    const pt = new Uint8Array(randomBytes(len));
    const ct = await sealBuffer(dek, ctx, pt, { segmentLog2: LOG2 });
    const bad = ct.slice();
    const i = pos % bad.length;
    bad[i] = bad[i]! ^ xor;
    const code = await errorCode(openBuffer(dek, ctx, bad));
    expect(code.startsWith("BLOB_")).toBe(true);
  });

  it("two seals of the same plaintext share no bytes after the magic", async () => {
    const pt = new Uint8Array(1000);
    const a = await sealBuffer(dek, ctx, pt);
    const b = await sealBuffer(dek, ctx, pt);
    expect(Buffer.from(a.subarray(8, 40)).equals(Buffer.from(b.subarray(8, 40)))).toBe(false);
    expect(Buffer.from(a.subarray(111)).equals(Buffer.from(b.subarray(111)))).toBe(false);
  });

  it("refuses bad keys and contexts up front", async () => {
    expect(await errorCode(sealBuffer(new Uint8Array(16), ctx, new Uint8Array(1)))).toBe("INVALID_ARGUMENT");
    expect(await errorCode(sealBuffer(dek, { ...ctx, kind: "" }, new Uint8Array(1)))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(await errorCode(sealBuffer(dek, ctx, new Uint8Array(1), { segmentLog2: 11 }))).toBe(
      "INVALID_ARGUMENT",
    );
  });
});

describe("spec cross-check against node:crypto", () => {
  it("an independent reader written from docs/format.md decrypts what sealStream writes", async () => {
    const pt = new Uint8Array(randomBytes(3 * S + 77));
    const ct = Buffer.from(await sealBuffer(dek, ctx, pt, { segmentLog2: LOG2 }));
    // Header fields (docs/format.md §2)
    expect(ct.subarray(0, 4).toString("latin1")).toBe("VXVB");
    const salt = ct.subarray(8, 40);
    const prefix = ct.subarray(40, 47);
    const commitment = ct.subarray(47, 79);
    const tag = ct.subarray(79, 111);
    // Key schedule (§3)
    const commit = Buffer.from(hkdfSync("sha256", dek, salt, "voxvault/blob/v1/commitment", 32));
    expect(commit.equals(commitment)).toBe(true);
    const digest = createHash("sha256").update(ct.subarray(0, 47)).update(encodeBlobContext(ctx)).digest();
    const okm = Buffer.from(
      hkdfSync("sha256", dek, salt, Buffer.concat([Buffer.from("voxvault/blob/v1/keys"), digest]), 64),
    );
    const mac = createHmac("sha256", okm.subarray(32)).update(ct.subarray(0, 79)).digest();
    expect(mac.equals(tag)).toBe(true);
    // Segments (§4)
    const out: Buffer[] = [];
    const segCt = S + 16;
    const n = Math.ceil((ct.length - 111) / segCt);
    for (let i = 0; i < n; i++) {
      const seg = ct.subarray(111 + i * segCt, Math.min(ct.length, 111 + (i + 1) * segCt));
      const nonce = Buffer.concat([prefix, Buffer.from([0, 0, 0, 0]), Buffer.from([i === n - 1 ? 1 : 0])]);
      nonce.writeUInt32BE(i, 7);
      const d = createDecipheriv("aes-256-gcm", okm.subarray(0, 32), nonce);
      d.setAuthTag(seg.subarray(seg.length - 16));
      out.push(d.update(seg.subarray(0, seg.length - 16)));
      d.final();
    }
    expect(Buffer.concat(out).equals(Buffer.from(pt))).toBe(true);
  });
});
