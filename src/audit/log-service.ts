/**
 * `vault.log`: the transparency log as a service (docs/tlog.md §17). Everything the CLI's
 * `audit` commands do and the HTTP API will serve (/checkpoint, /audit/proof/inclusion,
 * /audit/proof/consistency, auditor event search) goes through here.
 */
import { toBase64, wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { parseId } from "../ids.js";
import type { KeyTree } from "../keys/tree.js";
import type { DialectDriver } from "../store/meta/index.js";
import type { Actor } from "./events.js";
import { consistencyProof, inclusionProof } from "../tlog/index.js";
import {
  COMMIT_SECRET,
  eventOpening,
  eventRecord,
  leafBytes,
  payloadSubject,
  subjectCommitmentKey,
} from "./leaf.js";
import {
  type LogKeyInfo,
  type LogState,
  activeLogKeyRow,
  createLogKey,
  listLogKeys,
  logSigner,
  requireLogState,
} from "./log-state.js";
import { toOcsf, type OcsfContext } from "./ocsf.js";
import { listEvents, recordEvent, toRecordedEvent, type EventQuery, type RecordedEvent } from "./record.js";
import { logContextOf, sessionFor } from "./session.js";
import { SqlTileStore } from "./sql-tiles.js";
import { SUBJECT_BUNDLE_FORMAT, encodeHashes, type SubjectBundle } from "./subject-view.js";
import { verifyLog, type VerifyReport } from "./verify.js";
import { formatAddCheckpoint } from "./witness-protocol.js";
import {
  type ImportedCosignature,
  type WitnessKeyInfo,
  addWitness,
  cosignedSize,
  findWitness,
  importCosignatures,
  listWitnesses,
  removeWitness,
  servedCheckpoint,
} from "./witnesses.js";
import { parseCheckpoint, parseNote } from "../tlog/index.js";

interface Deps {
  readonly vaultId: string;
  readonly meta: DialectDriver;
  readonly tree: KeyTree;
  readonly actor: Actor;
  readonly now: () => Date;
}

export interface InclusionProofResult {
  readonly index: number;
  readonly treeSize: number;
  readonly inclusion: readonly string[];
}

export interface ConsistencyProofResult {
  readonly from: number;
  readonly to: number;
  readonly consistency: readonly string[];
}

export interface SubjectLogOptions {
  /** A checkpoint note seen earlier: the bundle then carries a consistency proof from it. */
  readonly since?: string | undefined;
}

export interface ExportOptions {
  readonly fromIndex?: number | undefined;
  readonly limit?: number | undefined;
  readonly productVersion?: string | undefined;
}

function checkIndex(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new VaultError("INVALID_ARGUMENT", `${name} must be a non-negative integer`);
  }
}

export function createLogService(deps: Deps) {
  const ctx = logContextOf(deps.meta);
  const db = deps.meta.db;
  const store = () => new SqlTileStore(db, deps.meta.dialect);

  /** Signs a checkpoint if the tree grew since the latest one; returns the state after. */
  async function refresh(): Promise<LogState> {
    const s = await requireLogState(db);
    if (s.size === s.checkpointSize && s.checkpointAt !== null) return s;
    await deps.meta.write((trx) => {
      sessionFor(trx).requestCheckpoint();
      return Promise.resolve();
    });
    return requireLogState(db);
  }

  async function checkpointState(refreshFirst: boolean): Promise<LogState> {
    return refreshFirst ? refresh() : requireLogState(db);
  }

  async function leaf(index: number): Promise<Uint8Array> {
    checkIndex("leaf index", index);
    const s = await requireLogState(db);
    if (index >= s.size) {
      throw new VaultError("INVALID_ARGUMENT", `the log has ${s.size} leaves; there is no leaf ${index}`);
    }
    const row = await db
      .selectFrom("audit_events")
      .selectAll()
      .where("leaf_index", "=", index)
      .executeTakeFirst();
    if (!row)
      throw new VaultError("LOG_INCONSISTENT", `no event row records leaf ${index}`, { details: { index } });
    const { value } = await deps.tree.secret(db, COMMIT_SECRET);
    try {
      return leafBytes(value, row, payloadSubject(row.payload));
    } finally {
      wipe(value);
    }
  }

  async function inclusion(index: number, size?: number): Promise<InclusionProofResult> {
    checkIndex("leaf index", index);
    let treeSize = size;
    if (treeSize === undefined) {
      let s = await requireLogState(db);
      if (index >= s.checkpointSize) s = await refresh();
      treeSize = s.checkpointSize;
    } else {
      checkIndex("tree size", treeSize);
      const s = await requireLogState(db);
      if (treeSize > s.size) {
        throw new VaultError(
          "INVALID_ARGUMENT",
          `tree size ${treeSize} is beyond the log's ${s.size} leaves`,
        );
      }
    }
    const proof = await inclusionProof(store(), index, treeSize);
    return { index, treeSize, inclusion: encodeHashes(proof) };
  }

  async function consistency(from: number, to?: number): Promise<ConsistencyProofResult> {
    checkIndex("from", from);
    const s = to === undefined ? await refresh() : await requireLogState(db);
    const toSize = to ?? s.checkpointSize;
    checkIndex("to", toSize);
    if (toSize > s.size)
      throw new VaultError("INVALID_ARGUMENT", `tree size ${toSize} is beyond the log's ${s.size} leaves`);
    if (from > toSize) throw new VaultError("INVALID_ARGUMENT", "from must not exceed to");
    const proof = from === 0 ? [] : await consistencyProof(store(), from, toSize);
    return { from, to: toSize, consistency: encodeHashes(proof) };
  }

  return {
    /** The log's origin line. */
    async origin(): Promise<string> {
      return (await requireLogState(db)).origin;
    },

    /** Size and root of the tree now (not necessarily signed yet). */
    async size(): Promise<{
      size: number;
      root: string;
      checkpointSize: number;
      checkpointAt: string | null;
    }> {
      const s = await requireLogState(db);
      return {
        size: s.size,
        root: toBase64(s.root),
        checkpointSize: s.checkpointSize,
        checkpointAt: s.checkpointAt,
      };
    },

    /** Every signing key the log has used; the active one signs new checkpoints. */
    keys(): Promise<LogKeyInfo[]> {
      return listLogKeys(db);
    },

    async activeKey(): Promise<LogKeyInfo> {
      const k = (await listLogKeys(db)).find((x) => x.status === "active");
      if (!k) throw new VaultError("VAULT_CORRUPT", "the log has no active signing key");
      return k;
    },

    /**
     * A new signing key. The old key's seed is destroyed; its public key stays listed so old
     * checkpoints verify. The rotation is an event, and the checkpoint that covers it is signed
     * by both keys, so a verifier that trusts the old key can learn the new one from it.
     */
    async rotateKey(
      options: { cosignWithOld?: boolean } = {},
    ): Promise<{ from: LogKeyInfo; to: LogKeyInfo }> {
      // After a restore the old key must not sign anything on the new branch (it signed the lost
      // one): no cosignature then, and a verifier learns the new key from the operator.
      const cosign = options.cosignWithOld ?? true;
      return deps.meta.write(async (trx) => {
        const session = sessionFor(trx);
        const state = await session.state();
        const oldRow = await activeLogKeyRow(trx);
        const oldSigner = cosign ? await logSigner(trx, deps.tree, oldRow) : undefined;
        const at = deps.now().toISOString();
        await trx
          .updateTable("tlog_keys")
          .set({ status: "retired", retired_at: at })
          .where("key", "=", oldRow.key)
          .execute();
        const to = await createLogKey(trx, deps.tree, state.origin, at);
        await trx.deleteFrom("vault_secrets").where("name", "=", oldRow.secret).execute();
        await recordEvent(trx, deps.actor, { type: "log.key_rotated", fromKey: oldRow.key, toKey: to.key });
        session.requestCheckpoint(oldSigner ? [oldSigner] : []);
        const from: LogKeyInfo = {
          key: oldRow.key,
          vkey: oldRow.vkey,
          status: "retired",
          createdAt: oldRow.created_at,
          retiredAt: at,
        };
        return { from, to };
      });
    },

    /**
     * The latest signed checkpoint as served: the log's note plus every cosignature collected.
     * With `refresh` (default) a new checkpoint is signed first if the tree grew.
     */
    async checkpoint(options: { refresh?: boolean } = {}): Promise<string> {
      const s = await checkpointState(options.refresh ?? true);
      return servedCheckpoint(db, s.checkpointSize);
    },

    /** The exact bytes hashed as leaf `index` (RFC 9162 leaf input). */
    leaf,

    /** RFC 9162 §2.1.3.1 inclusion proof; size defaults to the latest signed checkpoint. */
    inclusionProof: inclusion,

    /** RFC 9162 §2.1.4.1 consistency proof; `to` defaults to the latest signed checkpoint. */
    consistencyProof: consistency,

    /** Auditor event search: time range, actor, type, subject (each optional). */
    events(query: EventQuery = {}): Promise<RecordedEvent[]> {
      return listEvents(db, query);
    },

    /** Every event about a subject, each with its opening and an inclusion proof (subject-view.ts). */
    async subject(subjectId: string, options: SubjectLogOptions = {}): Promise<SubjectBundle> {
      // Shredded subjects keep their row (and their events): their history stays provable.
      const known = await db
        .selectFrom("subjects")
        .select("id")
        .where("id", "=", parseId("sub", subjectId, "subject id"))
        .executeTakeFirst();
      if (!known) throw new VaultError("SUBJECT_NOT_FOUND", `no subject ${subjectId}`);
      const s = await refresh();
      const note = await servedCheckpoint(db, s.checkpointSize);
      const rows = await db
        .selectFrom("audit_events")
        .selectAll()
        .where("subject_id", "=", subjectId)
        .where("leaf_index", "<", s.checkpointSize)
        .orderBy("leaf_index")
        .execute();
      const { value } = await deps.tree.secret(db, COMMIT_SECRET);
      const st = store();
      try {
        const events = [];
        for (const r of rows) {
          const index = Number(r.leaf_index);
          events.push({
            index,
            record: eventRecord(r),
            opening: toBase64(eventOpening(value, r.id)),
            leaf: toBase64(leafBytes(value, r, payloadSubject(r.payload))),
            inclusion: encodeHashes(await inclusionProof(st, index, s.checkpointSize)),
          });
        }
        let consistencyPart: SubjectBundle["consistency"];
        if (options.since !== undefined) {
          const prev = parseCheckpoint(parseNote(options.since).text);
          if (prev.origin !== s.origin)
            throw new VaultError("CHECKPOINT_INVALID", "that checkpoint is from another log");
          if (prev.size > s.checkpointSize) {
            throw new VaultError(
              "LOG_INCONSISTENT",
              `the earlier checkpoint (${prev.size}) is larger than the latest (${s.checkpointSize})`,
            );
          }
          const proof = prev.size === 0 ? [] : await consistencyProof(st, prev.size, s.checkpointSize);
          consistencyPart = { from: prev.size, proof: encodeHashes(proof) };
        }
        return {
          format: SUBJECT_BUNDLE_FORMAT,
          subjectId,
          origin: s.origin,
          checkpoint: note,
          subjectKey: toBase64(subjectCommitmentKey(value, subjectId)),
          events,
          ...(consistencyPart ? { consistency: consistencyPart } : {}),
        };
      } finally {
        wipe(value);
      }
    },

    /** Recomputes the tree from the event rows and checks everything stored against it. */
    verify(options: { trustedKeys?: readonly string[] | undefined } = {}): Promise<VerifyReport> {
      return verifyLog({
        db,
        dialect: deps.meta.dialect,
        tree: deps.tree,
        anchors: ctx.anchors,
        trustedKeys: options.trustedKeys,
      });
    },

    witnesses: {
      list(): Promise<WitnessKeyInfo[]> {
        return listWitnesses(db);
      },
      async add(vkey: string): Promise<string> {
        return deps.meta.write(async (trx) => {
          const key = await addWitness(trx, vkey, deps.now().toISOString());
          await recordEvent(trx, deps.actor, { type: "log.witness_added", witness: key });
          return key;
        });
      },
      async remove(keyOrName: string): Promise<void> {
        await deps.meta.write(async (trx) => {
          const { key } = await findWitness(trx, keyOrName);
          await removeWitness(trx, key, deps.now().toISOString());
          await recordEvent(trx, deps.actor, { type: "log.witness_removed", witness: key });
        });
      },
      /**
       * A c2sp.org/tlog-witness add-checkpoint request body for the latest checkpoint. The old
       * size is the latest this witness cosigned for us, unless given (after a 409 answer).
       */
      async request(keyOrName: string, options: { oldSize?: number | undefined } = {}): Promise<string> {
        const w = await findWitness(db, keyOrName);
        const s = await refresh();
        const oldSize = options.oldSize ?? (await cosignedSize(db, w.key));
        checkIndex("old size", oldSize);
        if (oldSize > s.checkpointSize) {
          throw new VaultError(
            "INVALID_ARGUMENT",
            `old size ${oldSize} is beyond the latest checkpoint (${s.checkpointSize})`,
          );
        }
        const proof = oldSize === 0 ? [] : await consistencyProof(store(), oldSize, s.checkpointSize);
        return formatAddCheckpoint({
          oldSize,
          proof,
          checkpoint: await servedCheckpoint(db, s.checkpointSize),
        });
      },
      /** Stores the cosignatures of a witness's add-checkpoint response. */
      async import(response: string): Promise<ImportedCosignature[]> {
        return deps.meta.write((trx) => importCosignatures(trx, response, deps.now().toISOString()));
      },
    },

    /** Events from `fromIndex` on, as OCSF JSON lines (ocsf.ts), in log order. */
    async *exportOcsf(options: ExportOptions = {}): AsyncGenerator<string> {
      const octx: OcsfContext = {
        vaultId: deps.vaultId,
        origin: (await requireLogState(db)).origin,
        productVersion: options.productVersion ?? "0.1.0",
      };
      let next = options.fromIndex ?? 0;
      checkIndex("from index", next);
      let left = options.limit ?? Infinity;
      while (left > 0) {
        const rows = await db
          .selectFrom("audit_events")
          .selectAll()
          .where("leaf_index", ">=", next)
          .orderBy("leaf_index")
          .limit(Math.min(1000, left))
          .execute();
        if (rows.length === 0) return;
        for (const r of rows) yield JSON.stringify(toOcsf(toRecordedEvent(r), octx));
        next = Number(rows[rows.length - 1]!.leaf_index) + 1;
        left -= rows.length;
      }
    },
  };
}

export type LogService = ReturnType<typeof createLogService>;
