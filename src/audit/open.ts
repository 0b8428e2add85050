/**
 * Attaching the transparency log to a vault's metadata driver at init and open, and the
 * open-time rollback check (docs/tlog.md §12).
 */
import { VaultError, isVaultError } from "../errors.js";
import type { DialectDriver } from "../store/meta/index.js";
import { treeHash } from "../tlog/index.js";
import { Anchors, dataDirAnchor, keyDirAnchor } from "./anchor.js";
import { readLogState, type LogKeyTree, type LogState } from "./log-state.js";
import { DEFAULT_CHECKPOINT_INTERVAL_MS, logContextOf, sessionFor, withTransparencyLog } from "./session.js";
import { LOG_ID, SqlTileStore } from "./sql-tiles.js";

export interface AttachLogOptions {
  readonly vaultId: string;
  readonly tree: LogKeyTree;
  readonly dataDir: string;
  /** The root key file; the second anchor lives beside it. */
  readonly keyFile: string;
  readonly now?: (() => Date) | undefined;
  readonly checkpointIntervalMs?: number | undefined;
  /** Lifetime of the cached commitment secret; default the key cache's default (5 minutes). */
  readonly secretTtlMs?: number | undefined;
}

/** The metadata driver with the log attached: what every service writes through. */
export function attachLog(driver: DialectDriver, o: AttachLogOptions): DialectDriver {
  return withTransparencyLog(driver, {
    vaultId: o.vaultId,
    tree: o.tree,
    anchors: new Anchors([keyDirAnchor(o.keyFile, o.vaultId), dataDirAnchor(o.dataDir)]),
    now: o.now ?? (() => new Date()),
    checkpointIntervalMs: o.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
    secretTtlMs: o.secretTtlMs ?? 300_000,
    cache: {},
  });
}

/**
 * Whether the database's latest checkpoint describes its own tree. Only then is it anchored: a
 * database that contradicts itself (e.g. truncated below its checkpoint) opens, so that `audit
 * verify` can name the damage, but is never anchored and never signs again (session.ts).
 */
async function consistentWithItself(store: SqlTileStore, state: LogState): Promise<boolean> {
  if (state.checkpointSize > state.size) return false;
  try {
    return Buffer.from(await treeHash(store, state.checkpointSize)).equals(Buffer.from(state.checkpointRoot));
  } catch (e) {
    if (isVaultError(e, "LOG_INCONSISTENT")) return false;
    throw e;
  }
}

/**
 * Run at open: initialises the log of a vault from before it existed, and refuses a metadata
 * store that is behind (or has forked from) the checkpoint recorded in an anchor file — the mark
 * of a restored or truncated database, which must not grow a second version of the log.
 */
export async function openLog(meta: DialectDriver): Promise<void> {
  const ctx = logContextOf(meta);
  let state = await readLogState(meta.db);
  if (!state) {
    await meta.write(async (trx) => {
      const session = sessionFor(trx);
      await session.state();
      session.requestCheckpoint();
    });
    state = await readLogState(meta.db);
    if (!state) throw new VaultError("INTERNAL", "log initialisation left no state");
  }
  const store = new SqlTileStore(meta.db, meta.dialect);
  const anchors = await ctx.anchors.read();
  for (const a of anchors) {
    if (a.origin !== state.origin) {
      throw new VaultError("LOG_INCONSISTENT", `anchor ${a.file} belongs to another log (${a.origin})`);
    }
    if (a.size > state.size) {
      throw new VaultError(
        "LOG_INCONSISTENT",
        `the metadata holds ${state.size} log leaves but checkpoint ${a.size} was signed (${a.file}): ` +
          "the database is older than the log (restored or truncated); refusing to open it and fork the log " +
          "(a restored backup: voxvault restore records the loss and starts a new branch)",
        { details: { size: state.size, anchored: a.size } },
      );
    }
    if (a.size > 0 && !Buffer.from(await treeHash(store, a.size)).equals(Buffer.from(a.root))) {
      throw new VaultError(
        "LOG_INCONSISTENT",
        `the log at size ${a.size} differs from the checkpoint in ${a.file}: the database forked from the signed log`,
        { details: { size: a.size } },
      );
    }
  }
  // Anchors lag after a crash between COMMIT and the file write, after another host signed, or
  // when a file was removed: bring them up to the latest checkpoint the database holds.
  const behind =
    anchors.length < ctx.anchors.files.length || anchors.some((a) => a.size < state.checkpointSize);
  if (state.checkpointSize > 0 && behind && (await consistentWithItself(store, state))) {
    const cp = await meta.db
      .selectFrom("tlog_checkpoints")
      .select(["note", "root_hash"])
      .where("log_id", "=", LOG_ID)
      .where("size", "=", state.checkpointSize)
      .executeTakeFirst();
    if (cp) {
      await ctx.anchors
        .advance({
          origin: state.origin,
          size: state.checkpointSize,
          root: new Uint8Array(cp.root_hash),
          checkpoint: cp.note,
        })
        .catch(() => undefined); // a read-only key directory weakens the check, it does not stop the vault
    }
  }
}
