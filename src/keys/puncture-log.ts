/**
 * The puncture log (`key_punctures`): every erasure the root must apply, in order, which every
 * host applies to its own provider (src/vault/root-sync.ts). Each row carries a hash chain,
 *
 *   chain(n) = SHA-256("voxvault/puncture-chain/v1" ‖ chain(n−1) ‖ u32be(point(n))),  chain(0) = 32 zero bytes,
 *
 * and a host remembers the chain value at the position it applied. A restored (older) copy of the
 * metadata re-issues sequence numbers for different punctures; the chain tells: the row at the
 * host's position is missing or carries another value. The log also has an id, which a restore
 * (or the first host to notice a fork) replaces, so that every host re-applies all of it.
 */
import { concatBytes, randomBytes, toBase64, toHex, u32be, utf8Bytes } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";

/** vault_meta key of the puncture log's id. */
export const PUNCTURE_LOG_META = "puncture_log_id";
const LABEL = utf8Bytes("voxvault/puncture-chain/v1");
export const CHAIN_START = new Uint8Array(32);

export function nextChain(prev: Uint8Array, point: number): Uint8Array {
  return sha256(concatBytes(LABEL, prev, u32be(point)));
}

export async function punctureLogId(db: MetaDb): Promise<string> {
  const row = await db
    .selectFrom("vault_meta")
    .select("value")
    .where("key", "=", PUNCTURE_LOG_META)
    .executeTakeFirst();
  if (!row) throw new VaultError("VAULT_CORRUPT", "the vault has no puncture log id");
  return row.value;
}

export function newLogId(): string {
  return toBase64(randomBytes(12));
}

export async function latestPunctureSeq(db: MetaDb): Promise<number> {
  const r = await db
    .selectFrom("key_punctures")
    .select((eb) => eb.fn.max("seq").as("s"))
    .executeTakeFirst();
  return r?.s ?? 0;
}

/** Appends punctures (same transaction as the erasure they record). */
export async function appendPunctures(
  trx: MetaDb,
  points: readonly number[],
  reason: string,
  at: string,
): Promise<void> {
  if (points.length === 0) return;
  const last = await trx
    .selectFrom("key_punctures")
    .select("chain")
    .orderBy("seq", "desc")
    .limit(1)
    .executeTakeFirst();
  let chain: Uint8Array = last?.chain ? new Uint8Array(last.chain) : CHAIN_START;
  for (const point of points) {
    chain = nextChain(chain, point);
    await trx
      .insertInto("key_punctures")
      .values({ point, reason, at, chain: Buffer.from(chain) })
      .execute();
  }
}

/** The chain value at a sequence number, or undefined when the row does not exist. */
export async function chainAt(db: MetaDb, seq: number): Promise<string | undefined> {
  const row = await db.selectFrom("key_punctures").select("chain").where("seq", "=", seq).executeTakeFirst();
  return row ? toHex(row.chain) : undefined;
}
