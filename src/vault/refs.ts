/**
 * External references (a contractor's e-mail or platform id): stored sealed under the subject's
 * own key, and indexed for lookup so that nothing in the index outlives a shred.
 *
 *   bucket   = u16(HMAC(selector, "voxvault/subject-ref-bucket/v1" ‖ tenant ‖ ref)) mod 4096
 *   ref_hash = HMAC(bucket key b (newest version), "voxvault/subject-ref-hash/v2" ‖ tenant ‖ ref)
 *
 * Each bucket key is its own erasable secret (its own root point, src/keys/points.ts). A shred
 * gives the subject's bucket a new key version, rehashes the bucket's other subjects under it
 * (about n / 4,096 of them) and punctures the old version: a backup or a database file taken
 * before the shred keeps the shredded subject's hash only under a key nobody can recover, so
 * guessing references against it is impossible. What remains linkable is the bucket number: a
 * guessed reference falls into the same bucket with probability 1/4,096 (docs/threat-model.md).
 *
 * The sealed reference is padded to a multiple of 64 bytes, so its size does not tell the
 * reference's length.
 */
import { encodeFields, randomBytes, u16be, utf8Bytes, wipe } from "../crypto/bytes.js";
import { hmacSha256 } from "../crypto/kdf.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import { refBucketPoint, REF_BUCKETS, MAX_REF_BUCKET_VERSION } from "../keys/points.js";
import type { KeyTree } from "../keys/tree.js";
import type { MetaDb } from "../store/meta/index.js";

export const REF_SELECTOR_SECRET = "subject-ref-selector";
const bucketKeyName = (b: number) => `subject-ref-key/${b}`;
const PAD = 64;

type Tree = Pick<
  KeyTree,
  "secret" | "secretVersions" | "secretOrCreate" | "createSecret" | "deleteSecret" | "subjectKey"
>;

function bucketOf(selector: Uint8Array, tenant: string, ref: string): number {
  const h = hmacSha256(selector, encodeFields(["voxvault/subject-ref-bucket/v1", tenant, ref]));
  return ((h[0]! << 8) | h[1]!) % REF_BUCKETS;
}

function hashWith(key: Uint8Array, tenant: string, ref: string): Buffer {
  return Buffer.from(hmacSha256(key, encodeFields(["voxvault/subject-ref-hash/v2", tenant, ref])));
}

const bucketPoint = (b: number) => (version: number) => {
  if (version > MAX_REF_BUCKET_VERSION)
    throw new VaultError("VAULT_CORRUPT", `reference bucket ${b} is exhausted`);
  return refBucketPoint(b, version);
};

/** Every hash under which (tenant, ref) may be indexed now: one, or a few during a rotation. */
export async function lookupHashes(db: MetaDb, tree: Tree, tenant: string, ref: string): Promise<Buffer[]> {
  const selectors = await tree.secretVersions(db, REF_SELECTOR_SECRET);
  const out: Buffer[] = [];
  const seen = new Set<number>();
  for (const s of selectors) {
    const b = bucketOf(s.value, tenant, ref);
    wipe(s.value);
    if (seen.has(b)) continue;
    seen.add(b);
    for (const k of await tree.secretVersions(db, bucketKeyName(b))) {
      out.push(hashWith(k.value, tenant, ref));
      wipe(k.value);
    }
  }
  return out;
}

/** The index entry of (tenant, ref) under the active selector and its bucket's newest key. Write transaction. */
export async function indexEntry(
  trx: MetaDb,
  tree: Tree,
  tenant: string,
  ref: string,
): Promise<{ bucket: number; hash: Buffer }> {
  const { value: selector } = await tree.secretOrCreate(trx, REF_SELECTOR_SECRET);
  const bucket = bucketOf(selector, tenant, ref);
  wipe(selector);
  const keys = await tree.secretVersions(trx, bucketKeyName(bucket));
  let key: Uint8Array;
  if (keys.length === 0) {
    key = (await tree.secretOrCreate(trx, bucketKeyName(bucket), bucketPoint(bucket))).value;
  } else {
    key = keys[keys.length - 1]!.value;
    for (const k of keys.slice(0, -1)) wipe(k.value);
  }
  const hash = hashWith(key, tenant, ref);
  wipe(key);
  return { bucket, hash };
}

/** A fresh version of a bucket's key; older versions stay until `retireBucketKeys`. */
export async function renewBucketKey(trx: MetaDb, tree: Tree, bucket: number): Promise<void> {
  const value = randomBytes(32);
  await tree.createSecret(trx, bucketKeyName(bucket), value, bucketPoint(bucket));
  wipe(value);
}

/** Deletes every version of a bucket's key but the newest; returns the points to puncture. */
export async function retireBucketKeys(trx: MetaDb, tree: Tree, bucket: number): Promise<number[]> {
  const versions = (await tree.secretVersions(trx, bucketKeyName(bucket))).map((k) => {
    wipe(k.value);
    return k.version;
  });
  return tree.deleteSecret(trx, bucketKeyName(bucket), versions.slice(0, -1));
}

/** Buckets that have a key. */
export async function bucketsInUse(db: MetaDb): Promise<number[]> {
  const rows = await db
    .selectFrom("vault_secrets")
    .select("name")
    .distinct()
    .where("name", "like", "subject-ref-key/%")
    .execute();
  return rows.map((r) => Number(r.name.slice("subject-ref-key/".length))).sort((a, b) => a - b);
}

// --- sealing ---------------------------------------------------------------------------------

function refAad(vaultId: string, subjectId: string, version: number): Uint8Array {
  return encodeFields(["voxvault/subject-ref/v2", vaultId, subjectId, String(version)]);
}

/** u32 key version ‖ wrap(u16 length ‖ UTF-8 ‖ zero padding to a multiple of 64 bytes). */
export function sealRef(
  vaultId: string,
  subjectId: string,
  version: number,
  key: Uint8Array,
  ref: string,
): Buffer {
  const bytes = utf8Bytes(ref);
  const padded = new Uint8Array(Math.ceil((2 + bytes.length) / PAD) * PAD);
  padded.set(u16be(bytes.length), 0);
  padded.set(bytes, 2);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(version);
  const out = Buffer.concat([head, wrapKey(key, padded, refAad(vaultId, subjectId, version))]);
  wipe(padded);
  return out;
}

export function refKeyVersion(sealed: Uint8Array): number {
  return new DataView(sealed.buffer, sealed.byteOffset, 4).getUint32(0);
}

export function openRef(vaultId: string, subjectId: string, key: Uint8Array, sealed: Uint8Array): string {
  const version = refKeyVersion(sealed);
  const plain = unwrapKey(key, sealed.subarray(4), refAad(vaultId, subjectId, version));
  try {
    const n = (plain[0]! << 8) | plain[1]!;
    if (2 + n > plain.length) throw new VaultError("VAULT_CORRUPT", "sealed reference is malformed");
    return new TextDecoder("utf-8", { fatal: true }).decode(plain.subarray(2, 2 + n));
  } finally {
    wipe(plain);
  }
}

// --- shred -----------------------------------------------------------------------------------

/**
 * Erases the shredded subject's index entry from every copy: its bucket gets a new key, the
 * bucket's other subjects are rehashed under it, and the old versions' points are returned for
 * puncturing. Runs in the shred's transaction, before the subject's keys are deleted.
 */
export async function eraseRefIndex(
  trx: MetaDb,
  tree: Tree,
  vaultId: string,
  subject: { id: string; ref_bucket: number | null },
): Promise<{ points: number[]; rehashed: number }> {
  if (subject.ref_bucket === null) return { points: [], rehashed: 0 };
  const bucket = subject.ref_bucket;
  await renewBucketKey(trx, tree, bucket);
  const siblings = await trx
    .selectFrom("subjects")
    .select(["id", "tenant", "slot", "ref_enc"])
    .where("ref_bucket", "=", bucket)
    .where("id", "!=", subject.id)
    .where("status", "!=", "shredded")
    .execute();
  let rehashed = 0;
  for (const s of siblings) {
    if (!s.ref_enc) continue;
    const key = await tree.subjectKey(trx, s.id, s.slot, refKeyVersion(s.ref_enc));
    const ref = openRef(vaultId, s.id, key, s.ref_enc);
    wipe(key);
    const entry = await indexEntry(trx, tree, s.tenant, ref);
    await trx
      .updateTable("subjects")
      .set({ ref_bucket: entry.bucket, ref_hash: entry.hash })
      .where("id", "=", s.id)
      .execute();
    rehashed++;
  }
  return { points: await retireBucketKeys(trx, tree, bucket), rehashed };
}
