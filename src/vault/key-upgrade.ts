/**
 * Upgrade of a format-1 vault (a key file of root versions and a 16-ary key tree in `key_nodes`)
 * to root generations (docs/architecture.md §Keys). One write transaction unwraps every subject
 * key and vault secret once through the old tree and rewraps it under generation 1 of a new
 * puncturable root; sealed references move to the padded format and the bucketed index; the old
 * tree's rows go. The key file is rewritten first with both (the old versions under "legacy"),
 * and loses the old versions only after the transaction commits, so a crash at any point leaves
 * a vault the next open upgrades or finishes.
 */
import { recordEvent } from "../audit/record.js";
import { encodeFields, fromBase64, randomBytes, toBase64, wipe } from "../crypto/bytes.js";
import { unwrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import { FileKeyProvider, sealAad } from "../keys/file-provider.js";
import {
  LEGACY_KEY_FILE_FORMAT,
  LegacyVersionSchema,
  type LegacyKeyFile,
  type LegacyVersionRecord,
} from "../keys/key-file.js";
import { LegacyKeyTree } from "../keys/legacy.js";
import { epochPoint, VAULT_SECRETS_POINT } from "../keys/points.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "./deps.js";
import { indexEntry, sealRef } from "./refs.js";
import { EPOCH_SECRET_PREFIX } from "./retention-keys.js";
import { PUNCTURE_LOG_META } from "./root-sync.js";
import { z } from "zod";

/** The format-1 reference-hash key; the bucketed index (src/vault/refs.ts) replaces it. */
const LEGACY_REF_SECRET = "subject-ref-hmac";

/** Whether the metadata still holds format-1 keys. */
export async function hasLegacyKeys(db: MetaDb): Promise<boolean> {
  const node = await db.selectFrom("key_nodes").select("level").limit(1).executeTakeFirst();
  if (node) return true;
  const row = await db
    .selectFrom("subject_keys")
    .select("version")
    .where("root_generation", "is", null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** The root key versions of a format-1 key file (opening a sealed one with the passphrase). */
export async function readLegacyVersions(
  file: LegacyKeyFile,
  passphrase: string | undefined,
): Promise<LegacyVersionRecord[]> {
  if (file.kind === "local") return file.versions;
  if (passphrase === undefined) {
    throw new VaultError("ROOT_KEY_MISSING", "this vault's root key is sealed: a passphrase is required");
  }
  const key = await FileKeyProvider.deriveSealKey(passphrase, file.kdf);
  let plain: Uint8Array;
  try {
    plain = unwrapKey(key, fromBase64(file.sealed), sealAad(file));
  } catch {
    throw new VaultError("ROOT_KEY_INVALID", "wrong passphrase, or the sealed key file was altered");
  } finally {
    wipe(key);
  }
  const parsed = z.array(LegacyVersionSchema).safeParse(JSON.parse(new TextDecoder().decode(plain)));
  wipe(plain);
  if (!parsed.success) throw new VaultError("ROOT_KEY_INVALID", "sealed key file content is malformed");
  return parsed.data;
}

/** Refuses to convert a format-1 key file when the vault was already upgraded (on another host). */
export async function checkStillLegacy(db: MetaDb): Promise<void> {
  const gen = await db.selectFrom("root_generations").select("generation").limit(1).executeTakeFirst();
  if (gen) {
    throw new VaultError(
      "ROOT_KEY_MISMATCH",
      `this key file is ${LEGACY_KEY_FILE_FORMAT} but the vault was upgraded to root generations on another host: ` +
        "destroy the old key file (it still opens backups made before the upgrade, shredded subjects included) and run voxvault host join on this host",
    );
  }
}

function legacyRefAad(vaultId: string, subjectId: string, version: number): Uint8Array {
  return encodeFields(["voxvault/subject-ref/v1", vaultId, subjectId, String(version)]);
}

type Deps = Pick<VaultDeps, "vaultId" | "tree" | "provider" | "actor" | "now">;

export async function upgradeLegacyKeys(
  deps: Deps & { readonly provider: FileKeyProvider },
  trx: MetaDb,
  hostName: string,
): Promise<{ subjectKeys: number; secrets: number }> {
  if (!(await hasLegacyKeys(trx))) return { subjectKeys: 0, secrets: 0 }; // another process upgraded it
  const versions = deps.provider.legacyVersions;
  if (!versions)
    throw new VaultError("ROOT_KEY_MISSING", "the format-1 root key versions are no longer in the key file");
  // the file must still be the one this process converted (or read after another converted it)
  await deps.provider.refresh();
  const legacy = new LegacyKeyTree(deps.vaultId, versions);
  const at = deps.now().toISOString();
  try {
    if (!(await trx.selectFrom("root_generations").select("generation").executeTakeFirst())) {
      await deps.tree.init(trx, at);
    }
    if (
      !(await trx
        .selectFrom("vault_meta")
        .select("key")
        .where("key", "=", PUNCTURE_LOG_META)
        .executeTakeFirst())
    ) {
      await trx
        .insertInto("vault_meta")
        .values({ key: PUNCTURE_LOG_META, value: toBase64(randomBytes(12)) })
        .execute();
    }
    const dist = deps.provider.distribution;
    if (
      !(await trx
        .selectFrom("key_hosts")
        .select("id")
        .where("id", "=", deps.provider.hostId)
        .executeTakeFirst())
    ) {
      await trx
        .insertInto("key_hosts")
        .values({
          id: deps.provider.hostId,
          name: hostName,
          public_key: Buffer.from(await dist.hostPublicKey()),
          status: "approved",
          created_at: at,
          approved_at: at,
          revoked_at: null,
          applied_seq: 0,
          generations: "[1]",
          last_seen: at,
        })
        .execute();
    }
    // secrets first: the log's commitment secret must open before any event is recorded
    const secrets = await trx
      .selectFrom("vault_secrets")
      .selectAll()
      .where("root_generation", "is", null)
      .execute();
    for (const r of secrets) {
      const value = await legacy.secret(trx, r);
      if (r.name === LEGACY_REF_SECRET) {
        await trx
          .deleteFrom("vault_secrets")
          .where("name", "=", r.name)
          .where("version", "=", r.version)
          .execute();
      } else {
        const point = r.name.startsWith(EPOCH_SECRET_PREFIX)
          ? epochPoint(r.name.slice(EPOCH_SECRET_PREFIX.length))
          : VAULT_SECRETS_POINT;
        await deps.tree.adoptSecret(trx, r.name, r.version, value, point);
      }
      wipe(value);
    }
    const keys = await trx
      .selectFrom("subject_keys")
      .innerJoin("subjects", "subjects.id", "subject_keys.subject_id")
      .select([
        "subject_keys.subject_id",
        "subject_keys.version",
        "subject_keys.parent_generation",
        "subject_keys.wrapped_key",
        "subjects.slot",
      ])
      .where("subject_keys.root_generation", "is", null)
      .execute();
    const plain = new Map<string, Uint8Array>();
    for (const k of keys) {
      const key = await legacy.subjectKey(trx, k.subject_id, k.slot, k);
      await deps.tree.adoptSubjectKey(trx, k.subject_id, k.slot, k.version, key);
      plain.set(`${k.subject_id}:${k.version}`, key);
    }
    // sealed references: padded format, bucketed index
    const subjects = await trx
      .selectFrom("subjects")
      .select(["id", "tenant", "ref_enc"])
      .where("status", "!=", "shredded")
      .where("ref_bucket", "is", null)
      .execute();
    for (const s of subjects) {
      if (!s.ref_enc) continue;
      const version = new DataView(s.ref_enc.buffer, s.ref_enc.byteOffset, 4).getUint32(0);
      const key = plain.get(`${s.id}:${version}`);
      if (!key)
        throw new VaultError("VAULT_CORRUPT", `subject ${s.id}: its reference is sealed under a missing key`);
      const raw = unwrapKey(key, s.ref_enc.subarray(4), legacyRefAad(deps.vaultId, s.id, version));
      const ref = new TextDecoder().decode(raw);
      wipe(raw);
      const entry = await indexEntry(trx, deps.tree, s.tenant, ref);
      await trx
        .updateTable("subjects")
        .set({
          ref_enc: sealRef(deps.vaultId, s.id, version, key, ref),
          ref_hash: entry.hash,
          ref_bucket: entry.bucket,
        })
        .where("id", "=", s.id)
        .execute();
    }
    for (const k of plain.values()) wipe(k);
    await trx.deleteFrom("key_nodes").execute();
    await recordEvent(trx, deps.actor, {
      type: "keys.upgraded",
      fromFormat: 1,
      subjectKeys: keys.length,
      secrets: secrets.length,
    });
    return { subjectKeys: keys.length, secrets: secrets.length };
  } finally {
    legacy.wipe();
  }
}
