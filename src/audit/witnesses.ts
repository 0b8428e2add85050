/**
 * The vault's side of witnessing (docs/tlog.md §14): configured witness keys (cosignature/v1
 * vkeys), add-checkpoint requests for a witness, and importing its cosignatures. Cosignatures
 * are stored per checkpoint and served with it (`audit checkpoint`).
 */
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import { formatKeyId } from "../tlog/encoding.js";
import {
  type NoteVerifier,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  cosignatureTimestamp,
  parseNote,
  parseVerifierKey,
} from "../tlog/index.js";
import { keyOfVkey } from "./log-state.js";
import { LOG_ID } from "./sql-tiles.js";

export interface WitnessKeyInfo {
  readonly key: string;
  readonly vkey: string;
  readonly status: "active" | "removed";
  readonly addedAt: string;
  /** Size of the latest checkpoint this witness cosigned (0 if none). */
  readonly cosignedSize: number;
}

/** Parses a witness vkey; it must be a cosignature/v1 (type 0x04) key. */
export function parseWitnessKey(vkey: string): NoteVerifier {
  const v = parseVerifierKey(vkey.trim());
  if (v.type !== SIGNATURE_TYPE_COSIGNATURE_V1) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      "a witness key must be a cosignature/v1 (type 0x04) verifier key",
    );
  }
  return v;
}

export async function cosignedSize(db: MetaDb, witness: string): Promise<number> {
  const r = await db
    .selectFrom("tlog_cosignatures")
    .select((eb) => eb.fn.max("size").as("n"))
    .where("log_id", "=", LOG_ID)
    .where("witness", "=", witness)
    .executeTakeFirst();
  return r?.n == null ? 0 : r.n;
}

export async function listWitnesses(db: MetaDb): Promise<WitnessKeyInfo[]> {
  const rows = await db.selectFrom("tlog_witnesses").selectAll().orderBy("added_at").orderBy("key").execute();
  const out: WitnessKeyInfo[] = [];
  for (const r of rows) {
    out.push({
      key: r.key,
      vkey: r.vkey,
      status: r.status,
      addedAt: r.added_at,
      cosignedSize: await cosignedSize(db, r.key),
    });
  }
  return out;
}

/** Adds (or re-activates) a witness key. Returns its key ("<name>+<id>"). */
export async function addWitness(trx: MetaDb, vkey: string, at: string): Promise<string> {
  parseWitnessKey(vkey);
  const v = vkey.trim();
  const key = keyOfVkey(v);
  const existing = await trx
    .selectFrom("tlog_witnesses")
    .selectAll()
    .where("key", "=", key)
    .executeTakeFirst();
  if (existing?.status === "active")
    throw new VaultError("INVALID_ARGUMENT", `witness ${key} is already configured`);
  if (existing) {
    await trx
      .updateTable("tlog_witnesses")
      .set({ status: "active", removed_at: null })
      .where("key", "=", key)
      .execute();
  } else {
    await trx
      .insertInto("tlog_witnesses")
      .values({ key, vkey: v, status: "active", added_at: at, removed_at: null })
      .execute();
  }
  return key;
}

/** Stops accepting a witness's cosignatures; its past ones stay verifiable. */
export async function removeWitness(trx: MetaDb, key: string, at: string): Promise<void> {
  const r = await trx
    .updateTable("tlog_witnesses")
    .set({ status: "removed", removed_at: at })
    .where("key", "=", key)
    .where("status", "=", "active")
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1)
    throw new VaultError("INVALID_ARGUMENT", `no configured witness ${key}`);
}

/** The active witness with this key or name (a name is enough when it is unambiguous). */
export async function findWitness(db: MetaDb, keyOrName: string): Promise<{ key: string; vkey: string }> {
  const rows = await db
    .selectFrom("tlog_witnesses")
    .select(["key", "vkey"])
    .where("status", "=", "active")
    .execute();
  const hits = rows.filter(
    (r) => r.key === keyOrName || r.key.slice(0, r.key.lastIndexOf("+")) === keyOrName,
  );
  if (hits.length !== 1) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      hits.length === 0
        ? `no configured witness ${keyOrName}`
        : `witness name ${keyOrName} is ambiguous; give name+keyid`,
    );
  }
  return hits[0]!;
}

export interface ImportedCosignature {
  readonly witness: string;
  readonly size: number;
  readonly timestamp: number;
}

/**
 * Imports a witness's add-checkpoint response (cosignature lines). Each line by a configured
 * witness must verify over one of the recent checkpoints (newest first); lines by unknown keys
 * are refused when no known line remains (c2sp.org/tlog-witness: clients ignore unknown keys,
 * but an import that yields nothing is an error worth showing).
 */
export async function importCosignatures(
  trx: MetaDb,
  response: string,
  at: string,
): Promise<ImportedCosignature[]> {
  let lines;
  try {
    lines = parseNote(`x\n\n${response.endsWith("\n") ? response : response + "\n"}`).signatures;
  } catch (e) {
    throw new VaultError("NOTE_INVALID", "the witness response is not a list of signature lines", {
      cause: e,
    });
  }
  const witnesses = await trx
    .selectFrom("tlog_witnesses")
    .select(["key", "vkey"])
    .where("status", "=", "active")
    .execute();
  const verifiers = new Map(witnesses.map((w) => [w.key, parseWitnessKey(w.vkey)]));
  const known = lines.filter((l) => verifiers.has(`${l.name}+${formatKeyId(l.keyId)}`));
  if (known.length === 0) {
    throw new VaultError(
      "CHECKPOINT_INVALID",
      "the response holds no cosignature by a configured witness key",
      {
        details: { reason: "unknown-witness", lines: lines.length },
      },
    );
  }
  const recent = await trx
    .selectFrom("tlog_checkpoints")
    .select(["size", "note"])
    .where("log_id", "=", LOG_ID)
    .orderBy("size", "desc")
    .limit(64)
    .execute();
  const texts = recent.map((c) => ({ size: c.size, text: parseNote(c.note).text }));
  const out: ImportedCosignature[] = [];
  for (const line of known) {
    const key = `${line.name}+${formatKeyId(line.keyId)}`;
    const v = verifiers.get(key)!;
    const match = texts.find((t) => v.verify(new TextEncoder().encode(t.text), line.signature));
    if (!match) {
      throw new VaultError(
        "CHECKPOINT_INVALID",
        `the cosignature by ${key} does not verify on any recent checkpoint`,
        {
          details: { reason: "bad-cosignature", witness: key },
        },
      );
    }
    const sig = new Uint8Array(4 + line.signature.length);
    new DataView(sig.buffer).setUint32(0, line.keyId);
    sig.set(line.signature, 4);
    const text = `\u2014 ${line.name} ${Buffer.from(sig).toString("base64")}`;
    const timestamp = cosignatureTimestamp(line.signature);
    await trx
      .insertInto("tlog_cosignatures")
      .values({ log_id: LOG_ID, size: match.size, witness: key, timestamp, line: text, received_at: at })
      .onConflict((oc) => oc.columns(["log_id", "size", "witness"]).doNothing())
      .execute();
    out.push({ witness: key, size: match.size, timestamp });
  }
  return out;
}

/** A stored checkpoint with every cosignature collected for it: the note as served. */
export async function servedCheckpoint(db: MetaDb, size: number): Promise<string> {
  const cp = await db
    .selectFrom("tlog_checkpoints")
    .select("note")
    .where("log_id", "=", LOG_ID)
    .where("size", "=", size)
    .executeTakeFirst();
  if (!cp) throw new VaultError("LOG_INCONSISTENT", `no signed checkpoint of size ${size} is stored`);
  const cosigs = await db
    .selectFrom("tlog_cosignatures")
    .select("line")
    .where("log_id", "=", LOG_ID)
    .where("size", "=", size)
    .orderBy("witness")
    .execute();
  return cp.note + cosigs.map((c) => `${c.line}\n`).join("");
}
