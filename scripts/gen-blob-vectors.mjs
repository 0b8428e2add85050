// Regenerates test/vectors/blob-v1.json from the built code (npm run build first).
// Deterministic: every random byte comes from SHA-256(seed || counter), recorded in the vector.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { sealWithRandom } from "../dist/format/seal.js";
import { collect } from "../dist/format/io.js";

const hex = (b) => Buffer.from(b).toString("hex");
function stream(seed) {
  let counter = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let o = 0; o < n; o += 32) {
      const block = createHash("sha256").update(`${seed}/${counter++}`).digest();
      block.copy(out, o, 0, Math.min(32, n - o));
    }
    return new Uint8Array(out);
  };
}
const LOG2 = 12; // 4 KiB segments keep the vectors small
const SEG_CT = 4096 + 16;
const H = 111;
const ctx = { tenant: "t-vectors", subject: "sub_01", blobId: "blob_01", kind: "raw" };

async function seal(name, plainLen) {
  const rnd = stream(`voxvault-vector/${name}`);
  const dek = rnd(32);
  const plaintext = rnd(plainLen);
  const headerRandom = rnd(39);
  let used = 0;
  const fixed = (n) => {
    const r = headerRandom.subarray(used, used + n);
    used += n;
    return r;
  };
  const ciphertext = await collect(sealWithRandom(dek, ctx, [plaintext], LOG2, fixed));
  return { dek, plaintext, headerRandom, ciphertext };
}

const valid = [];
for (const [name, len] of [
  ["empty", 0],
  ["one-byte", 1],
  ["one-full-segment", 4096],
  ["segment-plus-one", 4097],
  ["three-segments", 10000],
  ["two-full-segments", 8192],
]) {
  const v = await seal(name, len);
  valid.push({
    name,
    dek: hex(v.dek),
    context: ctx,
    segmentLog2: LOG2,
    headerRandom: hex(v.headerRandom),
    plaintext: hex(v.plaintext),
    ciphertext: hex(v.ciphertext),
  });
}

const base = await seal("three-segments", 10000); // segments: 4096, 4096, 1808
const ct = Buffer.from(base.ciphertext);
const seg = (i) => ct.subarray(H + i * SEG_CT, Math.min(ct.length, H + (i + 1) * SEG_CT));
const header = ct.subarray(0, H);
const other = await seal("other-key", 10000);
const mut = (f) => {
  const c = Buffer.from(ct);
  f(c);
  return c;
};
const invalid = [
  ["empty", Buffer.alloc(0), "BLOB_TRUNCATED"],
  ["truncated-in-header", ct.subarray(0, 50), "BLOB_TRUNCATED"],
  ["header-only", header, "BLOB_TRUNCATED"],
  ["bad-magic", mut((c) => (c[0] = 0x58)), "BLOB_BAD_MAGIC"],
  ["text-file", Buffer.from("RIFF....WAVEfmt this is not a blob\n".repeat(10)), "BLOB_BAD_MAGIC"],
  ["future-version", mut((c) => (c[4] = 2)), "BLOB_UNSUPPORTED_VERSION"],
  ["unknown-suite", mut((c) => (c[5] = 9)), "BLOB_UNSUPPORTED_VERSION"],
  ["segment-size-out-of-range", mut((c) => (c[6] = 30)), "BLOB_HEADER_INVALID"],
  ["reserved-flags", mut((c) => (c[7] = 1)), "BLOB_HEADER_INVALID"],
  ["salt-altered", mut((c) => (c[8] ^= 1)), "BLOB_WRONG_KEY"],
  ["commitment-altered", mut((c) => (c[50] ^= 1)), "BLOB_WRONG_KEY"],
  ["nonce-prefix-altered", mut((c) => (c[41] ^= 1)), "BLOB_CONTEXT_MISMATCH"],
  ["header-tag-altered", mut((c) => (c[100] ^= 1)), "BLOB_CONTEXT_MISMATCH"],
  ["wrong-key", ct, "BLOB_WRONG_KEY", { dek: hex(other.dek) }],
  ["other-subject", ct, "BLOB_CONTEXT_MISMATCH", { context: { ...ctx, subject: "sub_02" } }],
  ["other-kind", ct, "BLOB_CONTEXT_MISMATCH", { context: { ...ctx, kind: "frames" } }],
  ["other-blob-id", ct, "BLOB_CONTEXT_MISMATCH", { context: { ...ctx, blobId: "blob_02" } }],
  ["other-tenant", ct, "BLOB_CONTEXT_MISMATCH", { context: { ...ctx, tenant: "t-other" } }],
  ["truncated-at-segment-boundary", Buffer.concat([header, seg(0), seg(1)]), "BLOB_TRUNCATED"],
  ["truncated-in-tag", ct.subarray(0, H + 2 * SEG_CT + 8), "BLOB_TRUNCATED"],
  [
    "truncated-inside-segment-known-length",
    ct.subarray(0, ct.length - 100),
    "BLOB_TRUNCATED",
    { expectedLength: ct.length },
  ],
  ["truncated-inside-segment-unknown-length", ct.subarray(0, ct.length - 100), "BLOB_SEGMENT_CORRUPT"],
  ["segments-swapped", Buffer.concat([header, seg(1), seg(0), seg(2)]), "BLOB_SEGMENT_REORDERED"],
  ["segment-duplicated", Buffer.concat([header, seg(0), seg(0), seg(1), seg(2)]), "BLOB_SEGMENT_DUPLICATED"],
  ["segment-replaced-by-earlier", Buffer.concat([header, seg(0), seg(0), seg(2)]), "BLOB_SEGMENT_DUPLICATED"],
  ["final-segment-dropped-and-last-full", Buffer.concat([header, seg(0), seg(1)]), "BLOB_TRUNCATED"],
  ["bit-flip-in-segment", mut((c) => (c[H + SEG_CT + 10] ^= 0x80)), "BLOB_SEGMENT_CORRUPT"],
  ["bit-flip-in-tag", mut((c) => (c[H + SEG_CT - 1] ^= 1)), "BLOB_SEGMENT_CORRUPT"],
  [
    "trailing-data-known-length",
    Buffer.concat([ct, Buffer.from("extra")]),
    "BLOB_TRAILING_DATA",
    { expectedLength: ct.length },
  ],
];
// Trailing data after a full-size final segment is detectable from the bytes alone.
const full = await seal("two-full-segments", 8192);
const fct = Buffer.from(full.ciphertext);
invalid.push([
  "data-after-full-final-segment",
  Buffer.concat([fct, fct.subarray(H, H + SEG_CT)]),
  "BLOB_TRAILING_DATA",
  { dek: hex(full.dek) },
]);

const out = {
  description:
    "voxvault blob format v1 test vectors (docs/format.md). Valid vectors: opening `ciphertext` with `dek` and `context` yields `plaintext`; sealing `plaintext` with salt||noncePrefix = headerRandom yields `ciphertext`. Invalid vectors: opening fails with `error` in every read mode.",
  valid,
  invalid: invalid.map(([name, bytes, error, extra = {}]) => ({
    name,
    dek: extra.dek ?? hex(base.dek),
    context: extra.context ?? ctx,
    ...(extra.expectedLength !== undefined ? { expectedLength: extra.expectedLength } : {}),
    ciphertext: hex(bytes),
    error,
  })),
};
writeFileSync(new URL("../test/vectors/blob-v1.json", import.meta.url), JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${valid.length} valid and ${invalid.length} invalid vectors`);
