/**
 * `audit verify` (docs/tlog.md §13): recomputes the log from the event rows alone — events →
 * leaves → tree — and compares the result with everything stored about it: the stored leaf
 * hashes and tiles, the recorded size and root, every signed checkpoint, every cosignature and
 * the anchor files. Every difference is reported with what it is and where; nothing is repaired.
 */
import { toBase64 } from "../crypto/bytes.js";
import { canonicalJson, type CanonicalValue } from "../crypto/jcs.js";
import { isVaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import {
  type Hash,
  type NoteVerifier,
  MemoryTileStore,
  appendLeaves,
  leafHash,
  openCheckpoint,
  openNote,
  parseVerifierKey,
  readLeafHashes,
  treeHash,
} from "../tlog/index.js";
import type { Anchors } from "./anchor.js";
import { COMMIT_SECRET, leafBytes, payloadSubject } from "./leaf.js";
import { type LogKeyTree, logVerifiers, readLogState } from "./log-state.js";
import { LOG_ID, SqlTileStore } from "./sql-tiles.js";
import type { Dialect } from "../store/meta/index.js";

export type ProblemKind =
  | "no-log"
  | "event-changed"
  | "event-deleted"
  | "event-inserted"
  | "event-reordered"
  | "event-unlogged"
  | "tile-differs"
  | "root-differs"
  | "truncated"
  | "checkpoint-mismatch"
  | "checkpoint-signature"
  | "cosignature-invalid"
  | "anchor-mismatch";

export interface VerifyProblem {
  readonly kind: ProblemKind;
  /** The leaf index concerned, where there is one. */
  readonly index?: number;
  readonly message: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly origin: string;
  readonly size: number;
  readonly events: number;
  readonly checkpoints: number;
  readonly latestCheckpoint: number;
  readonly cosignatures: number;
  readonly anchors: number;
  /** The first MAX_PROBLEMS problems, in log order where they have one. */
  readonly problems: readonly VerifyProblem[];
  readonly problemCount: number;
}

export interface VerifyDeps {
  readonly db: MetaDb;
  readonly dialect: Dialect;
  readonly tree: LogKeyTree;
  readonly anchors: Anchors;
  /** Verifier keys (vkeys) to trust for checkpoints instead of the keys the database lists. */
  readonly trustedKeys?: readonly string[] | undefined;
}

const MAX_PROBLEMS = 1000;
const CHUNK = 4096;

function hex(h: Uint8Array): string {
  return Buffer.from(h).toString("hex");
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function isCanonical(text: string): boolean {
  try {
    return canonicalJson(JSON.parse(text) as CanonicalValue) === text;
  } catch {
    return false;
  }
}

export async function verifyLog(deps: VerifyDeps): Promise<VerifyReport> {
  const { db } = deps;
  const problems: VerifyProblem[] = [];
  let problemCount = 0;
  const add = (p: VerifyProblem) => {
    problemCount++;
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const state = await readLogState(db);
  if (!state) {
    add({ kind: "no-log", message: "the vault has no transparency log state" });
    return {
      ok: false,
      origin: "",
      size: 0,
      events: 0,
      checkpoints: 0,
      latestCheckpoint: 0,
      cosignatures: 0,
      anchors: 0,
      problems,
      problemCount,
    };
  }
  const size = state.size;
  const stored = new SqlTileStore(db, deps.dialect);
  const mem = new MemoryTileStore();
  let memSize = 0;
  let events = 0;
  const { value: secret } = await deps.tree.secret(db, COMMIT_SECRET);

  // Leaves whose recomputed hash differs from the stored one, to tell moves from edits.
  const changedStored = new Map<string, number>();
  const changedRecomputed = new Map<number, { hash: string; id: string }>();

  // 1. Events -> leaves, chunk by chunk, against the stored leaf hashes.
  let prevSeq = -Infinity;
  try {
    for (let start = 0; start < size; start += CHUNK) {
      const end = Math.min(size, start + CHUNK);
      const rows = await db
        .selectFrom("audit_events")
        .selectAll()
        .where("leaf_index", ">=", start)
        .where("leaf_index", "<", end)
        .orderBy("leaf_index")
        .execute();
      let storedHashes: Hash[] | undefined;
      try {
        storedHashes = await readLeafHashes(stored, start, end);
      } catch (e) {
        if (!isVaultError(e, "LOG_INCONSISTENT")) throw e;
        add({
          kind: "tile-differs",
          index: start,
          message: `stored leaf hashes ${start}..${end - 1} are missing: ${e.message}`,
        });
      }
      const hashes: Hash[] = [];
      let r = 0;
      for (let i = start; i < end; i++) {
        const row = rows[r]?.leaf_index === i ? rows[r++] : undefined;
        const storedHash = storedHashes?.[i - start];
        if (!row) {
          add({
            kind: "event-deleted",
            index: i,
            message: `leaf ${i}: no event row records it (deleted or renumbered)`,
          });
          // Keep the stored hash in the recomputed tree so that one deletion is reported once.
          hashes.push(storedHash ?? new Uint8Array(32));
          continue;
        }
        events++;
        if (row.seq <= prevSeq) {
          add({
            kind: "event-reordered",
            index: i,
            message: `leaf ${i}: event ${row.id} (seq ${row.seq}) comes after seq ${prevSeq} in the log but before it in the table`,
          });
        }
        prevSeq = row.seq;
        const subject = (() => {
          try {
            return payloadSubject(row.payload);
          } catch {
            return undefined;
          }
        })();
        const what: string[] = [];
        if (!isCanonical(row.actor)) what.push("actor is not canonical JSON");
        if (!isCanonical(row.payload)) what.push("payload is not canonical JSON");
        if ((subject ?? null) !== row.subject_id) what.push("subject_id column differs from the payload");
        if (isCanonical(row.actor)) {
          const a = JSON.parse(row.actor) as { type?: unknown; id?: unknown };
          if (row.actor_id !== `${String(a.type)}:${String(a.id)}`)
            what.push("actor_id column differs from the actor");
        }
        for (const w of what) {
          add({ kind: "event-changed", index: i, message: `leaf ${i}: event ${row.id}: ${w}` });
        }
        const h = leafHash(leafBytes(secret, row, subject));
        hashes.push(h);
        if (storedHash && !same(h, storedHash)) {
          changedStored.set(hex(storedHash), i);
          changedRecomputed.set(i, { hash: hex(h), id: row.id });
        }
      }
      for (; r < rows.length; r++) {
        const row = rows[r]!;
        add({
          kind: "event-inserted",
          ...(row.leaf_index === null ? {} : { index: row.leaf_index }),
          message: `event ${row.id} claims leaf ${row.leaf_index} a second time`,
        });
      }
      const res = await appendLeaves(mem, memSize, hashes);
      memSize = res.size;
    }
  } finally {
    secret.fill(0);
  }

  // Rows the log does not cover: inserted behind the log's back, or from before it.
  const outside = await db
    .selectFrom("audit_events")
    .select(["id", "seq", "leaf_index"])
    .where((eb) => eb.or([eb("leaf_index", "is", null), eb("leaf_index", ">=", size)]))
    .orderBy("seq")
    .limit(MAX_PROBLEMS)
    .execute();
  for (const row of outside) {
    add(
      row.leaf_index === null
        ? { kind: "event-unlogged", message: `event ${row.id} (seq ${row.seq}) has no leaf in the log` }
        : {
            kind: "event-inserted",
            index: row.leaf_index,
            message: `event ${row.id} (seq ${row.seq}) claims leaf ${row.leaf_index}, beyond the log's ${size} leaves`,
          },
    );
  }

  // Name the changed leaves: a recomputed hash that is stored at another index was moved there.
  for (const [i, c] of [...changedRecomputed].sort((a, b) => a[0] - b[0])) {
    const j = changedStored.get(c.hash);
    add(
      j !== undefined
        ? {
            kind: "event-reordered",
            index: i,
            message: `leaf ${i}: event ${c.id} was logged as leaf ${j} (rows reordered)`,
          }
        : {
            kind: "event-changed",
            index: i,
            message: `leaf ${i}: event ${c.id} no longer matches its logged leaf (a column of the row was changed)`,
          },
    );
  }

  // 2. The recorded root.
  const root = await treeHash(mem, size);
  if (!same(root, state.root)) {
    add({
      kind: "root-differs",
      message: `recorded root ${toBase64(state.root)} differs from the recomputed ${toBase64(root)}`,
    });
  }

  // 3. Every stored tile against the recomputed one (interior hashes serve proofs).
  let after: { level: number; idx: number } | undefined;
  let tiles = 0;
  for (;;) {
    let q = db
      .selectFrom("tlog_tile")
      .select(["level", "idx", "hashes"])
      .where("log_id", "=", LOG_ID)
      .orderBy("level")
      .orderBy("idx")
      .limit(512);
    if (after) {
      // A row-value comparison: SQLite and PostgreSQL both seek the primary key with it.
      const a = after;
      q = q.where((eb) => eb(eb.refTuple("level", "idx"), ">", eb.tuple(a.level, a.idx)));
    }

    const page = await q.execute();
    if (page.length === 0) break;
    const expected = await mem.readTiles(page.map((t) => ({ level: t.level, index: t.idx })));
    page.forEach((t, k) => {
      const e = expected[k];
      if (!e || !same(e, t.hashes)) {
        add({
          kind: "tile-differs",
          message: `stored tile ${t.level}/${t.idx} ${e ? "differs from" : "is not part of"} the tree recomputed from the events`,
        });
      }
    });
    tiles += page.length;
    const last = page[page.length - 1]!;
    after = { level: last.level, idx: last.idx };
  }
  if (tiles !== mem.size) {
    add({
      kind: "tile-differs",
      message: `${mem.size - tiles} tiles of the recomputed tree are missing from storage`,
    });
  }

  // 4. Checkpoints: signed by a log key, and each one the tree at its size.
  const verifiers: NoteVerifier[] = deps.trustedKeys
    ? deps.trustedKeys.map((k) => parseVerifierKey(k))
    : await logVerifiers(db);
  const checkpoints = await db
    .selectFrom("tlog_checkpoints")
    .selectAll()
    .where("log_id", "=", LOG_ID)
    .orderBy("size")
    .execute();
  let good = 0;
  const texts = new Map<number, string>();
  for (const cp of checkpoints) {
    const cpSize = cp.size;
    let cpRoot: Uint8Array = new Uint8Array(cp.root_hash);
    try {
      const opened = openCheckpoint(cp.note, { origin: state.origin, logVerifiers: verifiers });
      texts.set(cpSize, opened.text);
      if (opened.checkpoint.size !== cpSize || !same(opened.checkpoint.rootHash, cpRoot)) {
        add({
          kind: "checkpoint-mismatch",
          message: `checkpoint ${cpSize}: its row disagrees with its signed note`,
        });
        cpRoot = opened.checkpoint.rootHash;
      }
    } catch (e) {
      add({
        kind: "checkpoint-signature",
        message: `checkpoint ${cpSize} (signed ${cp.signed_at}): ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    if (cpSize > size) {
      add({
        kind: "truncated",
        index: size,
        message: `checkpoint ${cpSize} (signed ${cp.signed_at}) covers more leaves than the log's ${size}: leaves ${size}..${cpSize - 1} were removed`,
      });
      continue;
    }
    if (cpSize > 0 && !same(await treeHash(mem, cpSize), cpRoot)) {
      add({
        kind: "checkpoint-mismatch",
        index: good,
        message: `checkpoint ${cpSize} (signed ${cp.signed_at}) does not match the events: a leaf in ${good}..${cpSize - 1} was changed`,
      });
    } else {
      good = cpSize;
    }
  }
  const latest = checkpoints[checkpoints.length - 1];
  if (
    latest &&
    (latest.size !== state.checkpointSize || !same(new Uint8Array(latest.root_hash), state.checkpointRoot))
  ) {
    add({
      kind: "checkpoint-mismatch",
      message: `the recorded latest checkpoint (${state.checkpointSize}) is not the latest stored one (${latest.size})`,
    });
  }
  if (!latest && state.checkpointSize > 0) {
    add({
      kind: "truncated",
      message: `checkpoint ${state.checkpointSize} is recorded but no signed checkpoint is stored`,
    });
  }

  // 5. Cosignatures, each over its checkpoint's text, by the witness key it names.
  const witnesses = new Map(
    (await db.selectFrom("tlog_witnesses").select(["key", "vkey"]).execute()).map((w) => [w.key, w.vkey]),
  );
  const cosigs = await db.selectFrom("tlog_cosignatures").selectAll().where("log_id", "=", LOG_ID).execute();
  for (const c of cosigs) {
    const text = texts.get(c.size);
    const vkey = witnesses.get(c.witness);
    let ok = false;
    if (text !== undefined && vkey !== undefined) {
      try {
        openNote(`${text}\n${c.line}\n`, [parseVerifierKey(vkey)]);
        ok = true;
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      add({
        kind: "cosignature-invalid",
        message: `cosignature by ${c.witness} on checkpoint ${c.size} does not verify`,
      });
    }
  }

  // 6. Anchors outside the database.
  const anchors = await deps.anchors.read();
  for (const a of anchors) {
    if (a.origin !== state.origin) {
      add({ kind: "anchor-mismatch", message: `${a.file} anchors another log (${a.origin})` });
    } else if (a.size > size) {
      add({
        kind: "truncated",
        index: size,
        message: `${a.file} records checkpoint ${a.size}, beyond the log's ${size} leaves: the database is older than the log`,
      });
    } else if (a.size > 0 && !same(await treeHash(mem, a.size), a.root)) {
      add({
        kind: "anchor-mismatch",
        message: `${a.file}: the log at size ${a.size} differs from the anchored checkpoint`,
      });
    }
  }

  problems.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity));
  return {
    ok: problemCount === 0,
    origin: state.origin,
    size,
    events,
    checkpoints: checkpoints.length,
    latestCheckpoint: state.checkpointSize,
    cosignatures: cosigs.length,
    anchors: anchors.length,
    problems,
    problemCount,
  };
}
