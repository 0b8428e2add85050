/**
 * The vault's key hierarchy (docs/architecture.md §Keys).
 *
 *   root generation g (provider: a puncturable PRF)
 *     ├─ point = subject slot s ─wraps→ subject keys of s (every version)
 *     ├─ point = VAULT_SECRETS ─wraps→ long-lived vault secrets (signing seeds, …)
 *     └─ point = epoch / bucket ─wraps→ one erasable secret each (retention epochs, reference keys)
 *
 * Erasing something deletes its rows and punctures its point in every generation (after commit,
 * through the puncture log that every host applies). A copy of the metadata taken before then —
 * a backup, a stolen dump — still holds the wrapped rows, but nothing can unwrap them any more,
 * while every other row of the same copy still opens: the puncturable-PRF construction for
 * secure deletion with backups (cf. Boneh & Lipton, "A Revocable Backup System", USENIX
 * Security 1996; Reardon et al., CCS 2013). Cost of an erasure: one row delete and ≤ 32 PRF
 * nodes per generation, independent of data volume and of the number of subjects.
 *
 * Every use of a subject key re-reads its row (a shred in another process takes effect at once,
 * whatever this process cached); the cache spares only the unwrap.
 */
import { encodeFields, toHex, wipe } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { KeyCache } from "./cache.js";
import { slotPoint, VAULT_SECRETS_POINT } from "./points.js";
import type { RootKeyProvider } from "./provider.js";
import { appendPunctures } from "./puncture-log.js";
import { randomBytes } from "../crypto/bytes.js";

export { MAX_SLOTS } from "./points.js";

/**
 * A cache entry names the exact wrapped bytes it came from: a key cached by a transaction that
 * rolled back can never stand in for a different key committed under the same version later.
 */
function cacheId(kind: "s" | "v", name: string, generation: number, wrapped: Uint8Array): string {
  return `${kind}:${name}:${generation}:${toHex(sha256(wrapped).subarray(0, 12))}`;
}

/** Where a secret is wrapped: a fixed point, or one that depends on the new version. */
export type SecretPoint = number | ((version: number) => number);

export class KeyTree {
  readonly #vaultId: string;
  readonly #provider: RootKeyProvider;
  readonly #cache: KeyCache;

  constructor(vaultId: string, provider: RootKeyProvider, cache: KeyCache) {
    this.#vaultId = vaultId;
    this.#provider = provider;
    this.#cache = cache;
  }

  // --- bindings (associated data of every wrap; the provider adds generation and point) ------
  #subjectAad(subjectId: string, version: number): Uint8Array {
    return encodeFields(["voxvault/subject-key/v2", this.#vaultId, subjectId, String(version)]);
  }
  #secretAad(name: string, version: number): Uint8Array {
    return encodeFields(["voxvault/vault-secret/v2", this.#vaultId, name, String(version)]);
  }

  // --- generations ----------------------------------------------------------------------------

  /** The generation new keys are wrapped under. */
  async activeGeneration(db: MetaDb): Promise<number> {
    const row = await db
      .selectFrom("root_generations")
      .select("generation")
      .where("status", "=", "active")
      .executeTakeFirst();
    if (!row) throw new VaultError("VAULT_CORRUPT", "the vault has no active root generation");
    return row.generation;
  }

  /** Records generation 1 as active (vault init; the provider already holds it). */
  async init(trx: MetaDb, at: string): Promise<void> {
    await trx
      .insertInto("root_generations")
      .values({
        generation: 1,
        status: "active",
        check_value: Buffer.from(await this.#provider.checkValue(1)),
        created_at: at,
        retired_at: null,
        destroyed_at: null,
      })
      .execute();
  }

  /**
   * Whether a point is punctured in the active generation. Allocation skips punctured points: after
   * a restore, the lost timeline may have used (and erased) slots the copy still counts as free.
   */
  async isPunctured(db: MetaDb, point: number): Promise<boolean> {
    return this.#provider.isPunctured(await this.activeGeneration(db), point);
  }

  // --- subject keys ---------------------------------------------------------------------------

  async #wrapSubjectKey(
    trx: MetaDb,
    subjectId: string,
    slot: number,
    version: number,
    key: Uint8Array,
  ): Promise<{ generation: number; wrapped: Uint8Array }> {
    const generation = await this.activeGeneration(trx);
    const aad = this.#subjectAad(subjectId, version);
    return { generation, wrapped: await this.#provider.wrap(generation, slotPoint(slot), key, aad) };
  }

  /** A fresh subject key at `version`, wrapped under the active generation. Caller wipes it. */
  async createSubjectKey(trx: MetaDb, subjectId: string, slot: number, version: number): Promise<Uint8Array> {
    const key = randomBytes(32);
    const { generation, wrapped } = await this.#wrapSubjectKey(trx, subjectId, slot, version, key);
    await trx
      .insertInto("subject_keys")
      .values({
        subject_id: subjectId,
        version,
        parent_generation: 0,
        root_generation: generation,
        wrapped_key: Buffer.from(wrapped),
        created_at: new Date().toISOString(),
      })
      .execute();
    this.#cache.set(cacheId("s", `${subjectId}:${version}`, generation, wrapped), key);
    return key;
  }

  /** The subject's key at a version; KEY_UNAVAILABLE once destroyed. Caller wipes the result. */
  async subjectKey(db: MetaDb, subjectId: string, slot: number, version: number): Promise<Uint8Array> {
    const row = await db
      .selectFrom("subject_keys")
      .select(["wrapped_key", "root_generation"])
      .where("subject_id", "=", subjectId)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!row) {
      this.#cache.deletePrefix(`s:${subjectId}:${version}:`);
      throw new VaultError("KEY_UNAVAILABLE", `subject key version ${version} does not exist (destroyed?)`);
    }
    const generation = this.#generationOf(row.root_generation);
    const id = cacheId("s", `${subjectId}:${version}`, generation, row.wrapped_key);
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const key = await this.#provider.unwrap(
      generation,
      slotPoint(slot),
      row.wrapped_key,
      this.#subjectAad(subjectId, version),
    );
    this.#cache.set(id, key);
    return key;
  }

  /** Upgrade of a format-1 vault: an existing subject key moves under the active generation. */
  async adoptSubjectKey(
    trx: MetaDb,
    subjectId: string,
    slot: number,
    version: number,
    key: Uint8Array,
  ): Promise<void> {
    const { generation, wrapped } = await this.#wrapSubjectKey(trx, subjectId, slot, version, key);
    await trx
      .updateTable("subject_keys")
      .set({ wrapped_key: Buffer.from(wrapped), root_generation: generation, parent_generation: 0 })
      .where("subject_id", "=", subjectId)
      .where("version", "=", version)
      .execute();
  }

  /** Upgrade of a format-1 vault: an existing secret row moves under the active generation at `point`. */
  async adoptSecret(
    trx: MetaDb,
    name: string,
    version: number,
    value: Uint8Array,
    point: number,
  ): Promise<void> {
    const generation = await this.activeGeneration(trx);
    const wrapped = await this.#provider.wrap(generation, point, value, this.#secretAad(name, version));
    await trx
      .updateTable("vault_secrets")
      .set({ wrapped_key: Buffer.from(wrapped), root_generation: generation, point, parent_generation: 0 })
      .where("name", "=", name)
      .where("version", "=", version)
      .execute();
  }

  forgetSubject(subjectId: string): void {
    this.#cache.deletePrefix(`s:${subjectId}:`);
  }

  #generationOf(g: number | null): number {
    if (g === null) {
      throw new VaultError(
        "VAULT_CORRUPT",
        "a key is still under the format-1 key tree (the upgrade did not run)",
      );
    }
    return g;
  }

  // --- vault secrets --------------------------------------------------------------------------

  /**
   * Adds a version of a vault secret (older versions become retired), wrapped at `point` (or at
   * the point a function of the new version names, for secrets erased one version at a time).
   */
  async createSecret(
    trx: MetaDb,
    name: string,
    value: Uint8Array,
    at: SecretPoint = VAULT_SECRETS_POINT,
  ): Promise<number> {
    const generation = await this.activeGeneration(trx);
    const last = await trx
      .selectFrom("vault_secrets")
      .select((eb) => eb.fn.max("version").as("v"))
      .where("name", "=", name)
      .executeTakeFirst();
    let version = (last?.v ?? 0) + 1;
    // After a restore, versions the lost timeline used may already be punctured: skip them.
    while (typeof at !== "number" && (await this.#provider.isPunctured(generation, at(version)))) version++;
    const point = typeof at === "number" ? at : at(version);
    const wrapped = await this.#provider.wrap(generation, point, value, this.#secretAad(name, version));
    await trx.updateTable("vault_secrets").set({ status: "retired" }).where("name", "=", name).execute();
    await trx
      .insertInto("vault_secrets")
      .values({
        name,
        version,
        parent_generation: 0,
        root_generation: generation,
        point,
        wrapped_key: Buffer.from(wrapped),
        created_at: new Date().toISOString(),
        status: "active",
      })
      .execute();
    return version;
  }

  /** The active version of a vault secret. Caller wipes the result. */
  async secret(db: MetaDb, name: string): Promise<{ version: number; value: Uint8Array }> {
    const row = await db
      .selectFrom("vault_secrets")
      .selectAll()
      .where("name", "=", name)
      .where("status", "=", "active")
      .executeTakeFirst();
    if (!row) throw new VaultError("VAULT_CORRUPT", `vault secret ${name} is missing`);
    return { version: row.version, value: await this.#openSecret(row) };
  }

  /** A given version of a vault secret, active or retired. Caller wipes the result. */
  async secretVersion(db: MetaDb, name: string, version: number): Promise<Uint8Array> {
    const row = await db
      .selectFrom("vault_secrets")
      .selectAll()
      .where("name", "=", name)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!row)
      throw new VaultError("KEY_UNAVAILABLE", `vault secret ${name} version ${version} does not exist`);
    return this.#openSecret(row);
  }

  async #openSecret(row: {
    name: string;
    version: number;
    root_generation: number | null;
    point: number | null;
    wrapped_key: Uint8Array;
  }): Promise<Uint8Array> {
    const generation = this.#generationOf(row.root_generation);
    const id = cacheId("v", `${row.name}:${row.version}`, generation, row.wrapped_key);
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const value = await this.#provider.unwrap(
      generation,
      row.point ?? VAULT_SECRETS_POINT,
      row.wrapped_key,
      this.#secretAad(row.name, row.version),
    );
    this.#cache.set(id, value);
    return value;
  }

  /** A vault secret, created (random, 32 bytes) if it does not exist yet. Write transaction only. */
  async secretOrCreate(
    trx: MetaDb,
    name: string,
    point: SecretPoint = VAULT_SECRETS_POINT,
  ): Promise<{ version: number; value: Uint8Array }> {
    const exists = await trx
      .selectFrom("vault_secrets")
      .select("version")
      .where("name", "=", name)
      .where("status", "=", "active")
      .executeTakeFirst();
    if (!exists) {
      const value = randomBytes(32);
      const version = await this.createSecret(trx, name, value, point);
      return { version, value };
    }
    return this.secret(trx, name);
  }

  /** Every version of a vault secret still stored (active and retired), oldest first. Caller wipes. */
  async secretVersions(db: MetaDb, name: string): Promise<{ version: number; value: Uint8Array }[]> {
    const rows = await db
      .selectFrom("vault_secrets")
      .selectAll()
      .where("name", "=", name)
      .orderBy("version")
      .execute();
    const out: { version: number; value: Uint8Array }[] = [];
    for (const r of rows) out.push({ version: r.version, value: await this.#openSecret(r) });
    return out;
  }

  /**
   * Deletes versions of a vault secret (all when `versions` is omitted). Returns the points that
   * held only these rows: the caller records their punctures in the same transaction.
   */
  async deleteSecret(trx: MetaDb, name: string, versions?: readonly number[]): Promise<number[]> {
    if (versions?.length === 0) return [];
    let q = trx.selectFrom("vault_secrets").select(["point", "version"]).where("name", "=", name);
    let d = trx.deleteFrom("vault_secrets").where("name", "=", name);
    if (versions) {
      q = q.where("version", "in", versions);
      d = d.where("version", "in", versions);
    }
    const rows = await q.execute();
    await d.execute();
    for (const r of rows) this.#cache.deletePrefix(`v:${name}:${r.version}:`);
    const points = new Set<number>();
    for (const r of rows) if (r.point !== null && r.point !== VAULT_SECRETS_POINT) points.add(r.point);
    return [...points];
  }

  /** Moves every vault secret not yet under `generation` there (root rotation). Same values. */
  async rewrapSecrets(trx: MetaDb, generation: number): Promise<number> {
    const rows = await trx
      .selectFrom("vault_secrets")
      .selectAll()
      .where((eb) => eb.or([eb("root_generation", "is", null), eb("root_generation", "!=", generation)]))
      .execute();
    for (const r of rows) {
      const value = await this.#openSecret(r);
      const point = r.point ?? VAULT_SECRETS_POINT;
      const wrapped = await this.#provider.wrap(generation, point, value, this.#secretAad(r.name, r.version));
      wipe(value);
      await trx
        .updateTable("vault_secrets")
        .set({ wrapped_key: Buffer.from(wrapped), root_generation: generation, point })
        .where("name", "=", r.name)
        .where("version", "=", r.version)
        .execute();
    }
    return rows.length;
  }

  // --- erasure --------------------------------------------------------------------------------

  /** Records punctures in the log (same transaction as the deletion); hosts apply them after commit. */
  recordPunctures(trx: MetaDb, points: readonly number[], reason: string, at: string): Promise<void> {
    return appendPunctures(trx, points, reason, at);
  }

  /** Unwraps one vault secret of the active generation, proving the root key belongs to this vault. */
  async verifyRoot(db: MetaDb): Promise<void> {
    const generation = await this.activeGeneration(db);
    const row = await db
      .selectFrom("vault_secrets")
      .selectAll()
      .where("root_generation", "=", generation)
      .where("point", "=", VAULT_SECRETS_POINT)
      .orderBy("name")
      .executeTakeFirst();
    if (!row)
      throw new VaultError("VAULT_CORRUPT", "the vault has no secrets under its active root generation");
    try {
      wipe(
        await this.#provider.unwrap(
          generation,
          VAULT_SECRETS_POINT,
          row.wrapped_key,
          this.#secretAad(row.name, row.version),
        ),
      );
    } catch (e) {
      if (e instanceof VaultError && e.code === "KEY_UNAVAILABLE") {
        throw new VaultError("ROOT_KEY_MISMATCH", "the root key does not open this vault's keys", {
          cause: e,
        });
      }
      throw e;
    }
  }

  close(): void {
    this.#cache.close();
  }
}
