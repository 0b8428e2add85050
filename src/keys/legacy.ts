/**
 * Reading format-1 vaults (before root generations) for their upgrade (src/vault/key-upgrade.ts).
 *
 * Format 1: a key file of root key *versions*; the newest wraps the level-0 node of a 16-ary tree
 * of 7 levels stored in `key_nodes`; level-6 nodes wrap subject keys, level 0 wraps vault secrets
 * (docs/format.md §9, as of format 1). Read-only: the upgrade unwraps every key once and rewraps
 * it under generation 1 of the new root.
 */
import { encodeFields, fromBase64, wipe } from "../crypto/bytes.js";
import { unwrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { LegacyVersionRecord } from "./key-file.js";

const LEVELS = 7;
const FANOUT = 16;

function nodeAad(vaultId: string, level: number, prefix: number, generation: number): Uint8Array {
  return encodeFields(["voxvault/key-node/v1", vaultId, String(level), String(prefix), String(generation)]);
}
export function legacySubjectAad(vaultId: string, subjectId: string, version: number): Uint8Array {
  return encodeFields(["voxvault/subject-key/v1", vaultId, subjectId, String(version)]);
}
export function legacySecretAad(vaultId: string, name: string, version: number): Uint8Array {
  return encodeFields(["voxvault/vault-secret/v1", vaultId, name, String(version)]);
}
function rootWrapAad(vaultId: string, version: number, aad: Uint8Array): Uint8Array {
  return encodeFields(["voxvault/root-wrap/v1", vaultId, String(version), aad]);
}

/** The prefixes of a slot's path, top first. */
function pathPrefixes(slot: number): number[] {
  const out: number[] = [];
  for (let l = 0; l < LEVELS; l++) out.push(Math.floor(slot / FANOUT ** (LEVELS - l)));
  return out;
}

export class LegacyKeyTree {
  readonly #vaultId: string;
  readonly #roots: Map<number, Uint8Array>;
  readonly #nodes = new Map<string, Uint8Array>();

  constructor(vaultId: string, versions: readonly LegacyVersionRecord[]) {
    this.#vaultId = vaultId;
    this.#roots = new Map(versions.map((v) => [v.version, fromBase64(v.key)]));
  }

  async #node(db: MetaDb, level: number, prefix: number): Promise<{ key: Uint8Array; generation: number }> {
    const row = await db
      .selectFrom("key_nodes")
      .selectAll()
      .where("level", "=", level)
      .where("prefix", "=", prefix)
      .executeTakeFirst();
    if (!row) throw new VaultError("VAULT_CORRUPT", `format-1 key tree node ${level}/${prefix} is missing`);
    const id = `${level}:${prefix}:${row.generation}`;
    const cached = this.#nodes.get(id);
    if (cached) return { key: cached, generation: row.generation };
    const aad = nodeAad(this.#vaultId, level, prefix, row.generation);
    let key: Uint8Array;
    if (level === 0) {
      const root = this.#roots.get(row.parent_generation);
      if (!root)
        throw new VaultError(
          "ROOT_KEY_MISMATCH",
          `root key version ${row.parent_generation} is not in the key file`,
        );
      key = unwrapKey(root, row.wrapped_key, rootWrapAad(this.#vaultId, row.parent_generation, aad));
    } else {
      const parent = await this.#node(db, level - 1, Math.floor(prefix / FANOUT));
      if (parent.generation !== row.parent_generation) {
        throw new VaultError(
          "VAULT_CORRUPT",
          `format-1 key tree node ${level}/${prefix} is wrapped by a stale parent`,
        );
      }
      key = unwrapKey(parent.key, row.wrapped_key, aad);
    }
    this.#nodes.set(id, key);
    return { key, generation: row.generation };
  }

  /** A subject key of a format-1 row. Caller wipes. */
  async subjectKey(
    db: MetaDb,
    subjectId: string,
    slot: number,
    row: { version: number; parent_generation: number; wrapped_key: Uint8Array },
  ): Promise<Uint8Array> {
    const prefixes = pathPrefixes(slot);
    const leafParent = await this.#node(db, LEVELS - 1, prefixes[LEVELS - 1]!);
    if (leafParent.generation !== row.parent_generation) {
      throw new VaultError("VAULT_CORRUPT", "a format-1 subject key is wrapped by a stale node");
    }
    return unwrapKey(
      leafParent.key,
      row.wrapped_key,
      legacySubjectAad(this.#vaultId, subjectId, row.version),
    );
  }

  /** A vault secret of a format-1 row. Caller wipes. */
  async secret(
    db: MetaDb,
    row: { name: string; version: number; wrapped_key: Uint8Array },
  ): Promise<Uint8Array> {
    const top = await this.#node(db, 0, 0);
    return unwrapKey(top.key, row.wrapped_key, legacySecretAad(this.#vaultId, row.name, row.version));
  }

  wipe(): void {
    for (const k of this.#nodes.values()) wipe(k);
    for (const k of this.#roots.values()) wipe(k);
    this.#nodes.clear();
    this.#roots.clear();
  }
}
