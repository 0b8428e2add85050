import { createHash, createHmac, createCipheriv, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "@noble/hashes/utils.js";
import { isVaultError } from "../../src/errors.js";
import {
  bitsPerCode,
  createTemplateProtector,
  decodeTemplate,
  encodeTemplate,
  templateKeyId,
  type ProtectedTemplate,
} from "../../src/template/index.js";
import { VECTOR_EMBEDDING, VECTOR_KEY, VECTOR_MEAN, VECTOR_OPTIONS, VECTOR_DIM } from "./vector.js";

const VECTOR_HEX =
  "565650540101004000400010213cf45b317898f5e8736fa5924d48b3d25fe6893e63edd0" +
  "f3e784d1ae5fe0bed2bd73cdf8e6665dacf43d68f600d802089b16a8c5a60043";

/**
 * An independent re-implementation of the documented algorithm with node:crypto (OpenSSL's
 * HKDF, HMAC, SHA-256 and ChaCha20), to check that the documentation and the code agree.
 */
function referenceTemplate(key: Uint8Array, emb: ArrayLike<number>, mean: ArrayLike<number>): Uint8Array {
  const d = VECTOR_DIM;
  const m = VECTOR_OPTIONS.hashes;
  const q = VECTOR_OPTIONS.q;
  const f64 = (a: ArrayLike<number>): Buffer => {
    const b = Buffer.alloc(a.length * 8);
    for (let i = 0; i < a.length; i++) b.writeDoubleLE(a[i]!, i * 8);
    return b;
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const id = Buffer.from(VECTOR_OPTIONS.profile.embedderId, "utf8");
  const profileId = createHash("sha256")
    .update(Buffer.concat([Buffer.from("voxvault/template/profile/v1"), u32(id.length), id, u32(d)]))
    .update(Buffer.concat([Buffer.of(1), f64(mean), Buffer.of(0)]))
    .digest()
    .subarray(0, 8);
  const keyId = createHmac("sha256", key).update("voxvault/template/key-id/v1").digest().subarray(0, 16);
  const info = Buffer.concat([Buffer.of(0, d, m >> 8, m & 255, 0, q), profileId]);
  const seed = Buffer.from(hkdfSync("sha256", key, "voxvault/template/grp-iom/v1", info, 32));
  const ks = createCipheriv("chacha20", seed, Buffer.alloc(16)).update(Buffer.alloc(4 * m * q * d));
  const z = Array.from({ length: d }, (_, i) => emb[i]! - mean[i]!);
  const codes: number[] = [];
  for (let h = 0; h < m; h++) {
    let best = -Infinity;
    let arg = 0;
    for (let j = 0; j < q; j++) {
      let acc = 0;
      for (let k = 0; k < d; k++) {
        const o = 4 * ((h * q + j) * d + k);
        acc += (ks[o]! + ks[o + 1]! + ks[o + 2]! + ks[o + 3]! - 510) * z[k]!;
      }
      if (acc > best) [best, arg] = [acc, j];
    }
    codes.push(arg);
  }
  const header = Buffer.concat([
    Buffer.from("VVPT"),
    Buffer.of(1, 1, 0, d, m >> 8, m & 255, 0, q),
    profileId,
    keyId,
  ]);
  const packed = Buffer.alloc(m / 2);
  codes.forEach((c, i) => (packed[i >> 1]! |= i % 2 === 0 ? c << 4 : c));
  return Buffer.concat([header, packed]);
}

describe("protected template format", () => {
  it("reproduces the documented test vector", () => {
    const p = createTemplateProtector(VECTOR_KEY, VECTOR_OPTIONS);
    const bytes = p.protectToBytes(VECTOR_EMBEDDING);
    expect(bytes.length).toBe(36 + 32);
    expect(bytesToHex(bytes)).toBe(VECTOR_HEX);
    expect(bytesToHex(referenceTemplate(VECTOR_KEY, VECTOR_EMBEDDING, VECTOR_MEAN))).toBe(VECTOR_HEX);
    const doc = readFileSync(new URL("../../docs/template-protection.md", import.meta.url), "utf8");
    expect(doc.replace(/\s+/g, "")).toContain(VECTOR_HEX);
    expect(bytesToHex(templateKeyId(VECTOR_KEY))).toBe(VECTOR_HEX.slice(40, 72));
  });

  const templateArb = fc
    .record({
      hashes: fc.integer({ min: 1, max: 300 }),
      q: fc.integer({ min: 2, max: 256 }),
      dim: fc.integer({ min: 2, max: 200 }),
      profileId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
      keyId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      seed: fc.integer(),
    })
    .map(({ hashes, q, dim, profileId, keyId, seed }): ProtectedTemplate => {
      let s = seed >>> 0;
      const codes = Uint8Array.from(
        { length: hashes },
        () => ((s = (s * 1664525 + 1013904223) >>> 0), s % q),
      );
      return { scheme: "grp-iom", hashes, q, dim, profileId, keyId, codes };
    });

  fcTest.prop([templateArb])("encode/decode round-trips and has the documented size", (t) => {
    const bytes = encodeTemplate(t);
    expect(bytes.length).toBe(36 + Math.ceil((t.hashes * bitsPerCode(t.q)) / 8));
    const back = decodeTemplate(bytes);
    expect(back).toEqual(t);
  });

  it("rejects malformed templates with INVALID_ARGUMENT", () => {
    const p = createTemplateProtector(VECTOR_KEY, VECTOR_OPTIONS);
    const good = p.protectToBytes(VECTOR_EMBEDDING);
    const bad = (mutate: (b: Uint8Array) => Uint8Array, reason: string): void => {
      try {
        decodeTemplate(mutate(good.slice()));
        expect.unreachable();
      } catch (e) {
        expect(isVaultError(e, "INVALID_ARGUMENT")).toBe(true);
        expect((e as { details?: Record<string, unknown> }).details?.reason).toBe(reason);
      }
    };
    bad((b) => ((b[0] = 0), b), "magic");
    bad((b) => ((b[4] = 2), b), "version");
    bad((b) => ((b[5] = 9), b), "scheme");
    bad((b) => b.subarray(0, b.length - 1), "length");
    bad((b) => b.subarray(0, 10), "length");
    // q = 10 needs 4 bits; code 15 is out of range.
    const t10: ProtectedTemplate = { ...decodeTemplate(good), q: 10, codes: new Uint8Array(64).fill(3) };
    const b10 = encodeTemplate(t10);
    b10[36] = 0xf3;
    expect(() => decodeTemplate(b10)).toThrow(/out of range/);
    // q = 8 with 3 hashes: 9 bits, 7 padding bits that must be zero.
    const t8: ProtectedTemplate = { ...decodeTemplate(good), hashes: 3, q: 8, codes: Uint8Array.of(1, 2, 3) };
    const b8 = encodeTemplate(t8);
    b8[b8.length - 1]! |= 1;
    expect(() => decodeTemplate(b8)).toThrow(/padding/);
    expect(() => encodeTemplate({ ...t8, codes: Uint8Array.of(1, 2, 8) })).toThrow();
    expect(() => encodeTemplate({ ...t8, keyId: new Uint8Array(15) })).toThrow();
  });
});
