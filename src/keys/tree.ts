/**
 * The key tree (docs/architecture.md §Keys).
 *
 *   root key version (provider) ─wraps→ level 0 node ─wraps→ level 1 nodes … level 6 nodes
 *   level 6 node ─wraps→ subject keys (every version) of the 16 subjects in its slot group
 *   level 0 node ─wraps→ vault secrets (reference-hash key, signing seeds, …)
 *
 * Each subject owns a slot (0 … 2^28-1); its path is the 7 nodes whose prefixes are the slot's
 * leading hex digits. Shredding a subject deletes its keys, gives every node on its path a fresh
 * key, rewraps the siblings (at most 16 per level), wraps the new level-0 key under a new root
 * version and destroys the old one. A copy of the metadata taken before the shred then holds the
 * subject's keys only under path keys that exist nowhere any more: the key-tree construction for
 * secure deletion (Boneh & Lipton, CRYPTO '96; Reardon et al., "Secure Data Deletion from
 * Persistent Media", CCS 2013). The cost is O(16 · 7) rewraps, independent of data volume and of
 * the number of subjects.
 */
import { encodeFields, randomBytes, wipe } from "../crypto/bytes.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { KeyCache } from "./cache.js";
import type { RootKeyProvider } from "./provider.js";

export const TREE_LEVELS = 7;
const FANOUT = 16;
export const MAX_SLOTS = FANOUT ** TREE_LEVELS;
const LEAF_PARENT = TREE_LEVELS - 1;

interface NodeRow {
  level: number;
  prefix: number;
  generation: number;
  parent_generation: number;
  wrapped_key: Buffer;
}

export interface RekeyReport {
  readonly nodesRekeyed: number;
  readonly childrenRewrapped: number;
}

export function pathPrefixes(slot: number): number[] {
  if (!Number.isSafeInteger(slot) || slot < 0 || slot >= MAX_SLOTS) {
    throw new VaultError("VAULT_CORRUPT", `subject slot ${slot} is out of range`);
  }
  const out: number[] = [];
  for (let l = 0; l < TREE_LEVELS; l++) out.push(Math.floor(slot / FANOUT ** (TREE_LEVELS - l)));
  return out;
}

export class KeyTree {
  readonly #vaultId: string;
  readonly #provider: RootKeyProvider;
  readonly #cache: KeyCache;

  constructor(vaultId: string, provider: RootKeyProvider, cache: KeyCache) {
    this.#vaultId = vaultId;
    this.#provider = provider;
    this.#cache = cache;
  }

  // --- bindings (associated data of every wrap) ---------------------------------------------
  #nodeAad(level: number, prefix: number, generation: number): Uint8Array {
    return encodeFields([
      "voxvault/key-node/v1",
      this.#vaultId,
      String(level),
      String(prefix),
      String(generation),
    ]);
  }
  #subjectAad(subjectId: string, version: number): Uint8Array {
    return encodeFields(["voxvault/subject-key/v1", this.#vaultId, subjectId, String(version)]);
  }
  #secretAad(name: string, version: number): Uint8Array {
    return encodeFields(["voxvault/vault-secret/v1", this.#vaultId, name, String(version)]);
  }

  // --- creation -------------------------------------------------------------------------------

  /** Creates the level-0 node under the given root version (vault init). */
  async init(trx: MetaDb, rootVersion: number): Promise<void> {
    const key = randomBytes(32);
    const wrapped = await this.#provider.wrap(rootVersion, key, this.#nodeAad(0, 0, 1));
    await trx
      .insertInto("key_nodes")
      .values({
        level: 0,
        prefix: 0,
        generation: 1,
        parent_generation: rootVersion,
        wrapped_key: Buffer.from(wrapped),
      })
      .execute();
    this.#cache.set(`n:0:0:1`, key);
    wipe(key);
  }

  /** The root version that wraps the level-0 node. */
  async rootVersionInUse(db: MetaDb): Promise<number> {
    const top = await db
      .selectFrom("key_nodes")
      .select("parent_generation")
      .where("level", "=", 0)
      .executeTakeFirst();
    if (!top) throw new VaultError("VAULT_CORRUPT", "the key tree has no top node");
    return top.parent_generation;
  }

  async #pathRows(db: MetaDb, slot: number): Promise<(NodeRow | undefined)[]> {
    const prefixes = pathPrefixes(slot);
    const rows = await db
      .selectFrom("key_nodes")
      .selectAll()
      .where((eb) => eb.or(prefixes.map((p, l) => eb.and([eb("level", "=", l), eb("prefix", "=", p)]))))
      .execute();
    const byLevel: (NodeRow | undefined)[] = new Array<NodeRow | undefined>(TREE_LEVELS).fill(undefined);
    for (const r of rows) byLevel[r.level] = r;
    return byLevel;
  }

  /** Unwraps keys down the path (top first) as far as rows exist; uses and fills the cache. */
  async #pathKeys(rows: readonly (NodeRow | undefined)[], upTo: number): Promise<Uint8Array[]> {
    const keys: Uint8Array[] = [];
    for (let l = 0; l <= upTo; l++) {
      const row = rows[l];
      if (!row) throw new VaultError("VAULT_CORRUPT", `key tree node at level ${l} is missing`);
      const id = `n:${l}:${row.prefix}:${row.generation}`;
      let key = this.#cache.get(id);
      if (!key) {
        const aad = this.#nodeAad(l, row.prefix, row.generation);
        if (l === 0) {
          key = await this.#provider.unwrap(row.parent_generation, row.wrapped_key, aad);
        } else {
          const parent = rows[l - 1]!;
          if (row.parent_generation !== parent.generation) {
            throw new VaultError(
              "VAULT_CORRUPT",
              `key tree node ${l}/${row.prefix} is wrapped by a stale parent`,
            );
          }
          key = unwrapKey(keys[l - 1]!, row.wrapped_key, aad);
        }
        this.#cache.set(id, key);
      }
      keys.push(key);
    }
    return keys;
  }

  /** Creates any missing nodes on a slot's path (write transaction). */
  async ensurePath(trx: MetaDb, slot: number): Promise<void> {
    const rows = await this.#pathRows(trx, slot);
    const prefixes = pathPrefixes(slot);
    // Nodes are created top-down and never deleted, so the missing ones are a suffix of the path.
    const firstMissing = rows.findIndex((r) => !r);
    if (firstMissing === -1) return;
    if (firstMissing === 0) throw new VaultError("VAULT_CORRUPT", "the key tree has no top node");
    const keys = await this.#pathKeys(rows, firstMissing - 1);
    for (let l = firstMissing; l < TREE_LEVELS; l++) {
      const parent = rows[l - 1]!;
      const key = randomBytes(32);
      const row: NodeRow = {
        level: l,
        prefix: prefixes[l]!,
        generation: 1,
        parent_generation: parent.generation,
        wrapped_key: Buffer.from(wrapKey(keys[l - 1]!, key, this.#nodeAad(l, prefixes[l]!, 1))),
      };
      await trx.insertInto("key_nodes").values(row).execute();
      rows[l] = row;
      this.#cache.set(`n:${l}:${row.prefix}:1`, key);
      keys.push(key);
    }
    wipe(...keys);
  }

  // --- subject keys ---------------------------------------------------------------------------

  async createSubjectKey(trx: MetaDb, subjectId: string, slot: number, version: number): Promise<Uint8Array> {
    await this.ensurePath(trx, slot);
    const rows = await this.#pathRows(trx, slot);
    const keys = await this.#pathKeys(rows, LEAF_PARENT);
    const key = randomBytes(32);
    await trx
      .insertInto("subject_keys")
      .values({
        subject_id: subjectId,
        version,
        parent_generation: rows[LEAF_PARENT]!.generation,
        wrapped_key: Buffer.from(wrapKey(keys[LEAF_PARENT]!, key, this.#subjectAad(subjectId, version))),
        created_at: new Date().toISOString(),
      })
      .execute();
    wipe(...keys);
    this.#cache.set(`s:${subjectId}:${version}`, key);
    return key;
  }

  /** The subject's key at a version; KEY_UNAVAILABLE once destroyed. Caller wipes the result. */
  async subjectKey(db: MetaDb, subjectId: string, slot: number, version: number): Promise<Uint8Array> {
    const cached = this.#cache.get(`s:${subjectId}:${version}`);
    if (cached) return cached;
    const row = await db
      .selectFrom("subject_keys")
      .selectAll()
      .where("subject_id", "=", subjectId)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!row)
      throw new VaultError("KEY_UNAVAILABLE", `subject key version ${version} does not exist (destroyed?)`);
    const rows = await this.#pathRows(db, slot);
    const keys = await this.#pathKeys(rows, LEAF_PARENT);
    if (row.parent_generation !== rows[LEAF_PARENT]!.generation) {
      wipe(...keys);
      throw new VaultError("VAULT_CORRUPT", "subject key is wrapped by a stale key tree node");
    }
    const key = unwrapKey(keys[LEAF_PARENT]!, row.wrapped_key, this.#subjectAad(subjectId, version));
    wipe(...keys);
    this.#cache.set(`s:${subjectId}:${version}`, key);
    return key;
  }

  /**
   * The unwrapped keys of every node on a slot's path, top first. Internal (not exported from the
   * package): used by tests that play an attacker holding the current database and root key.
   */
  async pathKeys(db: MetaDb, slot: number): Promise<Uint8Array[]> {
    return this.#pathKeys(await this.#pathRows(db, slot), LEAF_PARENT);
  }

  forgetSubject(subjectId: string): void {
    this.#cache.deletePrefix(`s:${subjectId}:`);
  }

  // --- vault secrets --------------------------------------------------------------------------

  async createSecret(trx: MetaDb, name: string, value: Uint8Array): Promise<number> {
    const top = await this.#pathRows(trx, 0);
    const [topKey] = await this.#pathKeys(top, 0);
    const last = await trx
      .selectFrom("vault_secrets")
      .select((eb) => eb.fn.max("version").as("v"))
      .where("name", "=", name)
      .executeTakeFirst();
    const version = (last?.v ?? 0) + 1;
    await trx.updateTable("vault_secrets").set({ status: "retired" }).where("name", "=", name).execute();
    await trx
      .insertInto("vault_secrets")
      .values({
        name,
        version,
        parent_generation: top[0]!.generation,
        wrapped_key: Buffer.from(wrapKey(topKey!, value, this.#secretAad(name, version))),
        created_at: new Date().toISOString(),
        status: "active",
      })
      .execute();
    wipe(topKey);
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
    const id = `v:${name}:${row.version}`;
    const cached = this.#cache.get(id);
    if (cached) return { version: row.version, value: cached };
    const top = await this.#pathRows(db, 0);
    const [topKey] = await this.#pathKeys(top, 0);
    if (row.parent_generation !== top[0]!.generation) {
      wipe(topKey);
      throw new VaultError("VAULT_CORRUPT", `vault secret ${name} is wrapped by a stale top node`);
    }
    const value = unwrapKey(topKey!, row.wrapped_key, this.#secretAad(name, row.version));
    wipe(topKey);
    this.#cache.set(id, value);
    return { version: row.version, value };
  }

  // --- rekeying -------------------------------------------------------------------------------

  /**
   * Gives every node on the slot's path a fresh key and wraps the new top under `newRootVersion`.
   * The caller has already deleted the keys that must become unrecoverable, in the same
   * transaction, and destroys the previous root version after commit.
   */
  async rekeyPath(
    trx: MetaDb,
    slot: number,
    newRootVersion: number,
    depth = TREE_LEVELS,
  ): Promise<RekeyReport> {
    const prefixes = pathPrefixes(slot);
    const rows = await this.#pathRows(trx, slot);
    const firstMissing = rows.findIndex((r) => !r);
    // The path may stop early (lazy nodes); `depth` = 1 rekeys the top node alone.
    const last = Math.min(depth - 1, firstMissing === -1 ? LEAF_PARENT : firstMissing - 1);
    const oldKeys = await this.#pathKeys(rows, last);
    const newKeys = oldKeys.map(() => randomBytes(32));
    const newGen = rows.slice(0, last + 1).map((r) => r!.generation + 1);
    let rewrapped = 0;

    for (let l = last; l >= 0; l--) {
      const node = rows[l]!;
      const rewrap = (wrapped: Buffer, aad: Uint8Array): Buffer => {
        const k = unwrapKey(oldKeys[l]!, wrapped, aad);
        const out = Buffer.from(wrapKey(newKeys[l]!, k, aad));
        wipe(k);
        rewrapped++;
        return out;
      };
      if (l === LEAF_PARENT) {
        const children = await trx
          .selectFrom("subject_keys")
          .innerJoin("subjects", "subjects.id", "subject_keys.subject_id")
          .select([
            "subject_keys.subject_id",
            "subject_keys.version",
            "subject_keys.parent_generation",
            "subject_keys.wrapped_key",
          ])
          .where("subjects.slot", ">=", node.prefix * FANOUT)
          .where("subjects.slot", "<", (node.prefix + 1) * FANOUT)
          .execute();
        for (const c of children) {
          this.#checkParent(c.parent_generation, node);
          await trx
            .updateTable("subject_keys")
            .set({
              wrapped_key: rewrap(c.wrapped_key, this.#subjectAad(c.subject_id, c.version)),
              parent_generation: newGen[l]!,
            })
            .where("subject_id", "=", c.subject_id)
            .where("version", "=", c.version)
            .execute();
        }
      } else {
        const children = await trx
          .selectFrom("key_nodes")
          .selectAll()
          .where("level", "=", l + 1)
          .where("prefix", ">=", node.prefix * FANOUT)
          .where("prefix", "<", (node.prefix + 1) * FANOUT)
          .execute();
        for (const c of children) {
          this.#checkParent(c.parent_generation, node);
          let wrapped: Buffer;
          let generation = c.generation;
          if (l + 1 <= last && c.prefix === prefixes[l + 1]) {
            generation = newGen[l + 1]!;
            wrapped = Buffer.from(
              wrapKey(newKeys[l]!, newKeys[l + 1]!, this.#nodeAad(l + 1, c.prefix, generation)),
            );
            rewrapped++;
          } else {
            wrapped = rewrap(c.wrapped_key, this.#nodeAad(l + 1, c.prefix, c.generation));
          }
          await trx
            .updateTable("key_nodes")
            .set({ wrapped_key: wrapped, generation, parent_generation: newGen[l]! })
            .where("level", "=", l + 1)
            .where("prefix", "=", c.prefix)
            .execute();
        }
      }
      if (l === 0) {
        const secrets = await trx.selectFrom("vault_secrets").selectAll().execute();
        for (const s of secrets) {
          this.#checkParent(s.parent_generation, node);
          await trx
            .updateTable("vault_secrets")
            .set({
              wrapped_key: rewrap(s.wrapped_key, this.#secretAad(s.name, s.version)),
              parent_generation: newGen[0]!,
            })
            .where("name", "=", s.name)
            .where("version", "=", s.version)
            .execute();
        }
      }
    }
    const topWrapped = await this.#provider.wrap(
      newRootVersion,
      newKeys[0]!,
      this.#nodeAad(0, 0, newGen[0]!),
    );
    await trx
      .updateTable("key_nodes")
      .set({
        wrapped_key: Buffer.from(topWrapped),
        generation: newGen[0]!,
        parent_generation: newRootVersion,
      })
      .where("level", "=", 0)
      .where("prefix", "=", 0)
      .execute();
    for (let l = 0; l <= last; l++) {
      this.#cache.delete(`n:${l}:${prefixes[l]}:${rows[l]!.generation}`);
      this.#cache.set(`n:${l}:${prefixes[l]}:${newGen[l]}`, newKeys[l]!);
    }
    wipe(...oldKeys, ...newKeys);
    return { nodesRekeyed: last + 1, childrenRewrapped: rewrapped };
  }

  /**
   * Fresh key for the top node alone (children rewrapped), wrapped under `newRootVersion`. Used
   * after deleting vault secrets that must become unrecoverable (expired retention epochs).
   */
  rekeyTop(trx: MetaDb, newRootVersion: number): Promise<RekeyReport> {
    return this.rekeyPath(trx, 0, newRootVersion, 1);
  }

  /** Deletes every version of a vault secret (the caller then rekeys the top node). */
  async deleteSecret(trx: MetaDb, name: string): Promise<number> {
    const r = await trx.deleteFrom("vault_secrets").where("name", "=", name).executeTakeFirst();
    this.#cache.deletePrefix(`v:${name}:`);
    return Number(r.numDeletedRows);
  }

  /** A vault secret, created (random, 32 bytes) if it does not exist yet. Write transaction only. */
  async secretOrCreate(trx: MetaDb, name: string): Promise<{ version: number; value: Uint8Array }> {
    const exists = await trx
      .selectFrom("vault_secrets")
      .select("version")
      .where("name", "=", name)
      .where("status", "=", "active")
      .executeTakeFirst();
    if (!exists) {
      const value = randomBytes(32);
      const version = await this.createSecret(trx, name, value);
      return { version, value };
    }
    return this.secret(trx, name);
  }

  /** Root rotation: the level-0 key stays, its wrapping moves to `newRootVersion`. */
  async rewrapTop(trx: MetaDb, newRootVersion: number): Promise<number> {
    const top = await trx.selectFrom("key_nodes").selectAll().where("level", "=", 0).executeTakeFirst();
    if (!top) throw new VaultError("VAULT_CORRUPT", "the key tree has no top node");
    const aad = this.#nodeAad(0, 0, top.generation);
    const key = await this.#provider.unwrap(top.parent_generation, top.wrapped_key, aad);
    const wrapped = await this.#provider.wrap(newRootVersion, key, aad);
    wipe(key);
    await trx
      .updateTable("key_nodes")
      .set({ wrapped_key: Buffer.from(wrapped), parent_generation: newRootVersion })
      .where("level", "=", 0)
      .execute();
    return top.parent_generation;
  }

  #checkParent(childParentGeneration: number, parent: NodeRow): void {
    if (childParentGeneration !== parent.generation) {
      throw new VaultError(
        "VAULT_CORRUPT",
        `a child of key node ${parent.level}/${parent.prefix} has a stale wrapping`,
      );
    }
  }

  /** Unwraps the top node with the provider, proving the root key belongs to this vault. */
  async verifyRoot(db: MetaDb): Promise<void> {
    const rows = await this.#pathRows(db, 0);
    const top = rows[0];
    if (!top) throw new VaultError("VAULT_CORRUPT", "the key tree has no top node");
    try {
      const key = await this.#provider.unwrap(
        top.parent_generation,
        top.wrapped_key,
        this.#nodeAad(0, 0, top.generation),
      );
      wipe(key);
    } catch (e) {
      if (e instanceof VaultError && e.code === "KEY_UNAVAILABLE") {
        throw new VaultError("ROOT_KEY_MISMATCH", "the root key does not open this vault's key tree", {
          cause: e,
        });
      }
      throw e;
    }
  }
}
