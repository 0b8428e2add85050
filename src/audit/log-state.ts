/**
 * The log's recorded state (tlog_state) and its signing keys (tlog_keys + vault secrets).
 *
 * tlog_state is the authority on how many leaves are committed (docs/tlog.md §3.2): it is read
 * under the vault's write lock and updated in the same transaction as the tiles and events.
 */
import { sql } from "kysely";
import { randomBytes, wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import type { KeyTree } from "../keys/tree.js";
import type { MetaDb } from "../store/meta/index.js";
import type { TlogKeysTable } from "../store/meta/schema.js";
import {
  type NoteSigner,
  type NoteVerifier,
  SIGNATURE_TYPE_ED25519,
  edgeTiles,
  ed25519NoteSigner,
  emptyRoot,
  parseVerifierKey,
  verifierKeyString,
} from "../tlog/index.js";
import { ed25519PrivateKey, ed25519RawPublicKey } from "../crypto/ed25519.js";
import { LOG_ID } from "./sql-tiles.js";

/** The key-tree operations the log needs. */
export type LogKeyTree = Pick<KeyTree, "secret" | "createSecret">;

export interface LogState {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly checkpointSize: number;
  readonly checkpointRoot: Uint8Array;
  readonly checkpointAt: string | null;
}

/**
 * The log's origin line (c2sp.org/tlog-checkpoint §Note text): a schema-less URL-like name, one
 * per vault, fixed for the vault's life. ".local" because a vault has no public name of its own;
 * the vault id makes it globally unique.
 */
export function originFor(vaultId: string): string {
  return `voxvault.local/${vaultId}`;
}

/** The vault secret holding a signing key's Ed25519 seed, named by its note key id. */
export function signingSecretName(keyIdHex: string): string {
  return `audit-log-signing/${keyIdHex}`;
}

export async function readLogState(db: MetaDb): Promise<LogState | undefined> {
  const q = db.selectFrom("tlog_state").selectAll().where("log_id", "=", LOG_ID);
  const row = await q.executeTakeFirst();
  if (!row) return undefined;
  return {
    origin: row.origin,
    size: row.size,
    root: new Uint8Array(row.root_hash),
    checkpointSize: row.checkpoint_size,
    checkpointRoot: new Uint8Array(row.checkpoint_root),
    checkpointAt: row.checkpoint_at,
  };
}

/**
 * PostgreSQL: the log state together with the rightmost tile of each level at its size (the
 * tiles the next append reads, tlog/tiles.ts edgeTiles) in one round trip, so the common write
 * transaction costs one read and one tile upsert. Each branch is a primary-key lookup; integer
 * division gives floor(size / 256^(L+1)), the edge tile's index at level L. `levels` comes from
 * a size hint; tiles of levels not asked for are simply not primed (and read on demand).
 * (SQLite prepares every statement: there two short statements are cheaper than this one.)
 * The vault's advisory write lock serialises appenders, so no row lock is taken here.
 */
export async function readLogStateWithEdges(
  db: MetaDb,
  levels: number,
): Promise<{ state: LogState; tiles: Map<string, Uint8Array | undefined> } | undefined> {
  const branches = Array.from({ length: Math.max(1, Math.min(7, levels)) }, (_, l) =>
    // Literals, not parameters: the statement text stays constant per level count.
    sql.raw(
      `SELECT 1 AS kind, NULL AS origin, NULL AS size, NULL AS root_hash, NULL AS checkpoint_size,
              NULL AS checkpoint_root, NULL AS checkpoint_at, t.level, t.idx, t.hashes
         FROM tlog_state s JOIN tlog_tile t
           ON t.log_id = s.log_id AND t.level = ${l} AND t.idx = s.size / ${256 ** (l + 1)}
        WHERE s.log_id = ${LOG_ID}`,
    ),
  );
  const r = await sql<{
    kind: number;
    origin: string;
    size: number;
    root_hash: Buffer;
    checkpoint_size: number;
    checkpoint_root: Buffer;
    checkpoint_at: string | null;
    level: number | null;
    idx: number | null;
    hashes: Buffer | null;
  }>`SELECT 0 AS kind, s.origin, s.size, s.root_hash, s.checkpoint_size, s.checkpoint_root, s.checkpoint_at,
            CAST(NULL AS integer) AS level, CAST(NULL AS bigint) AS idx, CAST(NULL AS bytea) AS hashes
       FROM tlog_state s WHERE s.log_id = ${LOG_ID}
     UNION ALL ${sql.join(branches, sql` UNION ALL `)}`.execute(db);
  const first = r.rows.find((row) => row.kind === 0);
  if (!first) return undefined;
  const state: LogState = {
    origin: first.origin,
    size: first.size,
    root: new Uint8Array(first.root_hash),
    checkpointSize: first.checkpoint_size,
    checkpointRoot: new Uint8Array(first.checkpoint_root),
    checkpointAt: first.checkpoint_at,
  };
  const asked = Math.max(1, Math.min(7, levels));
  const tiles = new Map<string, Uint8Array | undefined>();
  for (const e of edgeTiles(state.size)) if (e.level < asked) tiles.set(`${e.level}/${e.index}`, undefined);
  for (const row of r.rows) {
    if (row.level !== null && row.hashes !== null) {
      tiles.set(`${row.level}/${Number(row.idx)}`, new Uint8Array(row.hashes));
    }
  }
  return { state, tiles };
}

export async function requireLogState(db: MetaDb): Promise<LogState> {
  const s = await readLogState(db);
  if (!s) throw new VaultError("LOG_INCONSISTENT", "the vault has no transparency log state");
  return s;
}

export async function insertLogState(trx: MetaDb, origin: string): Promise<LogState> {
  const empty = Buffer.from(emptyRoot());
  await trx
    .insertInto("tlog_state")
    .values({
      log_id: LOG_ID,
      origin,
      size: 0,
      root_hash: empty,
      checkpoint_size: 0,
      checkpoint_root: empty,
      checkpoint_at: null,
    })
    .execute();
  return {
    origin,
    size: 0,
    root: emptyRoot(),
    checkpointSize: 0,
    checkpointRoot: emptyRoot(),
    checkpointAt: null,
  };
}

export async function updateLogSize(trx: MetaDb, size: number, root: Uint8Array): Promise<void> {
  await trx
    .updateTable("tlog_state")
    .set({ size, root_hash: Buffer.from(root) })
    .where("log_id", "=", LOG_ID)
    .execute();
}

export async function updateLogCheckpoint(
  trx: MetaDb,
  size: number,
  root: Uint8Array,
  at: string,
): Promise<void> {
  await trx
    .updateTable("tlog_state")
    .set({ checkpoint_size: size, checkpoint_root: Buffer.from(root), checkpoint_at: at })
    .where("log_id", "=", LOG_ID)
    .execute();
}

// --- signing keys -------------------------------------------------------------------------

export interface LogKeyInfo {
  /** "<name>+<8 hex key id>". */
  readonly key: string;
  /** The verifier key, c2sp.org/signed-note §Verifier keys. */
  readonly vkey: string;
  readonly status: "active" | "retired";
  readonly createdAt: string;
  readonly retiredAt: string | null;
}

function toInfo(r: TlogKeysTable): LogKeyInfo {
  return { key: r.key, vkey: r.vkey, status: r.status, createdAt: r.created_at, retiredAt: r.retired_at };
}

/** "<name>+<hex id>" of a vkey: everything before the second "+". */
export function keyOfVkey(vkey: string): string {
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  return vkey.slice(0, second);
}

/** A fresh Ed25519 log key named `name`; its seed becomes a vault secret. Returns its info. */
export async function createLogKey(
  trx: MetaDb,
  tree: LogKeyTree,
  name: string,
  at: string,
): Promise<LogKeyInfo> {
  const seed = randomBytes(32);
  try {
    const publicKey = ed25519RawPublicKey(ed25519PrivateKey(seed));
    const vkey = verifierKeyString(name, SIGNATURE_TYPE_ED25519, publicKey);
    const key = keyOfVkey(vkey);
    const secret = signingSecretName(key.slice(key.lastIndexOf("+") + 1));
    await tree.createSecret(trx, secret, seed);
    const row: TlogKeysTable = { key, vkey, secret, status: "active", created_at: at, retired_at: null };
    await trx.insertInto("tlog_keys").values(row).execute();
    return toInfo(row);
  } finally {
    wipe(seed);
  }
}

export async function listLogKeys(db: MetaDb): Promise<LogKeyInfo[]> {
  const rows = await db.selectFrom("tlog_keys").selectAll().orderBy("created_at").orderBy("key").execute();
  return rows.map(toInfo);
}

export async function activeLogKeyRow(db: MetaDb): Promise<TlogKeysTable> {
  const rows = await db.selectFrom("tlog_keys").selectAll().where("status", "=", "active").execute();
  if (rows.length !== 1) {
    throw new VaultError("VAULT_CORRUPT", `the log has ${rows.length} active signing keys (expected 1)`);
  }
  return rows[0]!;
}

/** The signer of a key whose seed is still a vault secret. */
export async function logSigner(db: MetaDb, tree: LogKeyTree, row: TlogKeysTable): Promise<NoteSigner> {
  const { value } = await tree.secret(db, row.secret);
  try {
    const signer = ed25519NoteSigner(row.key.slice(0, row.key.lastIndexOf("+")), value);
    if (`${signer.name}+${signer.keyId.toString(16).padStart(8, "0")}` !== row.key) {
      throw new VaultError("VAULT_CORRUPT", `log signing key ${row.key} does not match its seed`);
    }
    return signer;
  } finally {
    wipe(value);
  }
}

/** Verifiers for every log key the vault ever used: old checkpoints stay verifiable. */
export async function logVerifiers(db: MetaDb): Promise<NoteVerifier[]> {
  return (await listLogKeys(db)).map((k) => parseVerifierKey(k.vkey));
}
