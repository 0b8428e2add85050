/**
 * The transparency log inside every write transaction (docs/tlog.md §11).
 *
 * `withTransparencyLog(driver, ctx)` wraps the metadata driver: each `write(fn)` gets a log
 * session bound to its transaction handle. `recordEvent` (record.ts) finds the session by that
 * handle, assigns the event its leaf index and queues the leaf hash; when `fn` returns, the
 * session appends every queued leaf with one `appendLeaves` (one tile read, one tile upsert),
 * records the new size and root, and — when due — signs a checkpoint, all before COMMIT. So an
 * event, its leaf and the state change it records commit or vanish together, and a transaction
 * that records several events appends them as one batch.
 */
import { randomBytes, wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import type { DialectDriver, MetaDb } from "../store/meta/index.js";
import {
  type Hash,
  type NoteSigner,
  HASH_SIZE,
  appendLeaves,
  edgeTiles,
  leafHash,
  storedHashCount,
  signCheckpoint,
  treeHash,
} from "../tlog/index.js";
import type { Anchors, AnchorRecord } from "./anchor.js";
import { COMMIT_SECRET, leafBytes, payloadSubject, type EventRow } from "./leaf.js";
import {
  type LogKeyTree,
  type LogState,
  activeLogKeyRow,
  createLogKey,
  insertLogState,
  logSigner,
  originFor,
  readLogState,
  readLogStateWithEdges,
  updateLogCheckpoint,
  updateLogSize,
} from "./log-state.js";
import { LOG_ID, SqlTileStore } from "./sql-tiles.js";

export interface LogContext {
  readonly vaultId: string;
  readonly tree: LogKeyTree;
  readonly anchors: Anchors;
  readonly now: () => Date;
  /** A write that appends leaves signs a checkpoint when the latest is older than this. */
  readonly checkpointIntervalMs: number;
  /**
   * How long the unwrapped commitment secret may be reused across transactions (the key cache's
   * lifetime): it has one version for the vault's life, so only the unwrap is worth caching.
   */
  readonly secretTtlMs: number;
  /** Process-local cache of the commitment secret, zeroed when replaced. */
  readonly cache: {
    commit?: { value: Uint8Array; until: number };
    sizeHint?: number;
    /**
     * The edge tiles after this process's last append, keyed by the size and root they belong
     * to. The root commits to the whole tree, so when the recorded size and root still equal
     * these, nobody else appended since and the tiles need not be read again.
     */
    edges?: { size: number; root: Uint8Array; tiles: ReadonlyMap<string, Uint8Array | undefined> };
  };
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

/** A checkpoint signed in a transaction, to anchor once it has committed. */
export type SignedCheckpoint = AnchorRecord;

const SESSIONS = new WeakMap<MetaDb, LogSession>();
const CONTEXTS = new WeakMap<DialectDriver, LogContext>();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

export class LogSession {
  readonly #trx: MetaDb;
  readonly #driver: DialectDriver;
  readonly #ctx: LogContext;
  #state: LogState | undefined;
  readonly #store: SqlTileStore;
  #secret: Uint8Array | undefined;
  readonly #pending: Hash[] = [];
  #signRequested = false;
  readonly #extraSigners: NoteSigner[] = [];

  constructor(trx: MetaDb, driver: DialectDriver, ctx: LogContext) {
    this.#trx = trx;
    this.#driver = driver;
    this.#ctx = ctx;
    this.#store = new SqlTileStore(trx, driver.dialect);
  }

  /** Reads the log state under the write lock (initialising the log on first use). */
  async state(): Promise<LogState> {
    if (this.#state) return this.#state;
    let state: LogState | undefined;
    const edges = this.#ctx.cache.edges;
    if (this.#driver.dialect === "postgres" && !edges) {
      // One round trip: the state and the edge tiles the append at commit will need.
      const read = await readLogStateWithEdges(
        this.#trx,
        edgeTiles(this.#ctx.cache.sizeHint ?? 0).length + 1,
      );
      if (read) this.#store.prime(read.tiles);
      state = read?.state;
    } else {
      // The edge tiles this process left behind are still the right ones if the recorded size
      // and root are still the ones it recorded (the root commits to the whole tree); otherwise
      // the append reads them (one more statement).
      state = await readLogState(this.#trx);
      if (state && edges?.size === state.size && sameBytes(edges.root, state.root))
        this.#store.prime(edges.tiles);
    }
    state ??= await initialiseLog(this.#trx, this.#driver, this.#ctx);
    this.#ctx.cache.sizeHint = state.size;
    this.#state = state;
    return state;
  }

  async #commitSecret(): Promise<Uint8Array> {
    if (this.#secret) return this.#secret;
    const cache = this.#ctx.cache;
    const now = Date.now();
    if (!cache.commit || cache.commit.until <= now) {
      const { value } = await this.#ctx.tree.secret(this.#trx, COMMIT_SECRET);
      wipe(cache.commit?.value);
      cache.commit = { value, until: now + this.#ctx.secretTtlMs };
    }
    this.#secret = Uint8Array.from(cache.commit.value);
    return this.#secret;
  }

  /** The leaf index the next recorded event gets. */
  async nextIndex(): Promise<number> {
    return (await this.state()).size + this.#pending.length;
  }

  /** Queues the leaf of an event row that was just inserted with leaf index `nextIndex()`. */
  async push(row: EventRow): Promise<void> {
    const secret = await this.#commitSecret();
    this.#pending.push(leafHash(leafBytes(secret, row, payloadSubject(row.payload))));
  }

  /** Ask for a checkpoint at commit even if the interval has not passed; extra signers co-sign it. */
  requestCheckpoint(extraSigners: readonly NoteSigner[] = []): void {
    this.#signRequested = true;
    this.#extraSigners.push(...extraSigners);
  }

  /** Keeps the edge tiles at `size` for the next transaction, if this one saw all of them. */
  #rememberEdges(size: number, root: Uint8Array): void {
    const tiles = new Map<string, Uint8Array | undefined>();
    for (const e of edgeTiles(size)) {
      const key = `${e.level}/${e.index}`;
      const bytes = this.#store.seen.get(key);
      if (e.width === 0) tiles.set(key, undefined);
      else if (bytes?.length === storedHashCount(e.width) * HASH_SIZE) tiles.set(key, bytes);
      else {
        delete this.#ctx.cache.edges;
        return;
      }
    }
    // Only valid once this transaction commits; a rollback leaves an older size/root, which
    // then does not match and the tiles are read again.
    this.#ctx.cache.edges = { size, root: Uint8Array.from(root), tiles };
  }

  /** Forgets the unwrapped commitment secret. */
  dispose(): void {
    wipe(this.#secret);
    this.#secret = undefined;
  }

  /** Appends the queued leaves and signs a checkpoint when due. Runs before COMMIT. */
  async flush(): Promise<SignedCheckpoint | undefined> {
    if (!this.#state && !this.#signRequested) return undefined; // no event in this transaction
    let state = await this.state();
    const store = this.#store;
    if (this.#pending.length > 0) {
      store.deferWrites();
      const r = await appendLeaves(store, state.size, this.#pending);
      await store.commitWithSize(r.size, r.root);
      this.#rememberEdges(r.size, r.root);
      state = { ...state, size: r.size, root: r.root };
      this.#pending.length = 0;
      this.#state = state;
    }
    const now = this.#ctx.now();
    const due =
      state.size > state.checkpointSize &&
      (state.checkpointAt === null ||
        now.getTime() - Date.parse(state.checkpointAt) >= this.#ctx.checkpointIntervalMs);
    if (!this.#signRequested && !due) return undefined;
    const signed = await signInTransaction(this.#trx, store, this.#ctx, state, now, this.#extraSigners);
    if (signed) {
      this.#state = {
        ...state,
        checkpointSize: signed.size,
        checkpointRoot: signed.root,
        checkpointAt: now.toISOString(),
      };
    }
    return signed;
  }
}

/**
 * Signs a checkpoint of the tree as it stands in this transaction, after checking that it
 * extends every checkpoint signed before: the latest one recorded in the database and the ones
 * in the anchor files. Never signs two checkpoints that disagree, never goes backwards.
 * Returns undefined when the latest checkpoint already covers the tree.
 */
export async function signInTransaction(
  trx: MetaDb,
  store: SqlTileStore,
  ctx: LogContext,
  state: LogState,
  now: Date,
  extraSigners: readonly NoteSigner[] = [],
): Promise<SignedCheckpoint | undefined> {
  if (state.size === state.checkpointSize && state.checkpointAt !== null) return undefined;
  if (state.size < state.checkpointSize) {
    throw new VaultError(
      "LOG_INCONSISTENT",
      `the log holds ${state.size} leaves but a checkpoint of ${state.checkpointSize} was signed: refusing to sign a smaller tree`,
      { details: { size: state.size, checkpointSize: state.checkpointSize } },
    );
  }
  const earlier: { size: number; root: Uint8Array; where: string }[] = [
    { size: state.checkpointSize, root: state.checkpointRoot, where: "the metadata store" },
  ];
  for (const a of await ctx.anchors.read()) {
    if (a.origin !== state.origin) continue;
    earlier.push({ size: a.size, root: a.root, where: a.file });
  }
  for (const e of earlier) {
    if (e.size > state.size) {
      throw new VaultError(
        "LOG_INCONSISTENT",
        `a checkpoint of ${e.size} leaves was signed (${e.where}) but the metadata holds ${state.size}: ` +
          "the database is older than the log; refusing to fork it",
        { details: { anchored: e.size, size: state.size } },
      );
    }
    if (e.size > 0 && !sameBytes(await treeHash(store, e.size), e.root)) {
      throw new VaultError(
        "LOG_INCONSISTENT",
        `the tree at size ${e.size} differs from the checkpoint signed then (${e.where}); refusing to sign a fork`,
        { details: { size: e.size } },
      );
    }
  }
  const row = await activeLogKeyRow(trx);
  const signer = await logSigner(trx, ctx.tree, row);
  const note = await signCheckpoint(
    { origin: state.origin, size: state.size, rootHash: state.root, extensions: [] },
    [signer, ...extraSigners.filter((s) => s.keyId !== signer.keyId || s.name !== signer.name)],
  );
  const at = now.toISOString();
  await trx
    .insertInto("tlog_checkpoints")
    .values({ log_id: LOG_ID, size: state.size, root_hash: Buffer.from(state.root), signed_at: at, note })
    .execute();
  await updateLogCheckpoint(trx, state.size, state.root, at);
  return { origin: state.origin, size: state.size, root: state.root, checkpoint: note };
}

/**
 * First use of the log in a vault: the commitment secret, the first signing key, the state row,
 * and leaves for any events recorded before the log existed (vaults from before migration 0002),
 * in their original order.
 */
async function initialiseLog(trx: MetaDb, driver: DialectDriver, ctx: LogContext): Promise<LogState> {
  const origin = originFor(ctx.vaultId);
  const at = ctx.now().toISOString();
  const hasSecret = await trx
    .selectFrom("vault_secrets")
    .select("name")
    .where("name", "=", COMMIT_SECRET)
    .executeTakeFirst();
  if (!hasSecret) {
    const secret = randomBytes(32);
    await ctx.tree.createSecret(trx, COMMIT_SECRET, secret);
    wipe(secret);
  }
  const hasKey = await trx.selectFrom("tlog_keys").select("key").executeTakeFirst();
  if (!hasKey) await createLogKey(trx, ctx.tree, origin, at);
  let state = await insertLogState(trx, origin);

  const { value: secret } = await ctx.tree.secret(trx, COMMIT_SECRET);
  try {
    const store = new SqlTileStore(trx, driver.dialect);
    for (;;) {
      const rows = await trx
        .selectFrom("audit_events")
        .selectAll()
        .where("leaf_index", "is", null)
        .orderBy("seq")
        .limit(1000)
        .execute();
      if (rows.length === 0) break;
      const hashes: Hash[] = [];
      for (const [i, r] of rows.entries()) {
        const actor = JSON.parse(r.actor) as { type: string; id: string };
        await trx
          .updateTable("audit_events")
          .set({ leaf_index: state.size + i, actor_id: `${actor.type}:${actor.id}` })
          .where("seq", "=", r.seq)
          .execute();
        hashes.push(leafHash(leafBytes(secret, r, payloadSubject(r.payload))));
      }
      const result = await appendLeaves(store, state.size, hashes);
      state = { ...state, size: result.size, root: result.root };
    }
    if (state.size > 0) await updateLogSize(trx, state.size, state.root);
  } finally {
    wipe(secret);
  }
  return state;
}

/** Wraps a metadata driver so that every write transaction carries a log session. */
export function withTransparencyLog(driver: DialectDriver, ctx: LogContext): DialectDriver {
  const wrapped: DialectDriver = {
    dialect: driver.dialect,
    db: driver.db,
    ...(driver.schema === undefined ? {} : { schema: driver.schema }),
    translateError: (e) => driver.translateError(e),
    close: () => driver.close(),
    ...(driver.flushErased ? { flushErased: () => driver.flushErased!() } : {}),
    async write<T>(fn: (trx: MetaDb) => Promise<T>): Promise<T> {
      let signed: SignedCheckpoint | undefined;
      const result = await driver.write(async (trx) => {
        const session = new LogSession(trx, driver, ctx);
        SESSIONS.set(trx, session);
        try {
          const r = await fn(trx);
          signed = await session.flush();
          return r;
        } finally {
          SESSIONS.delete(trx);
          session.dispose();
        }
      });
      // After COMMIT: an anchor may lag the database (crash here), never lead it.
      if (signed) await ctx.anchors.advance(signed).catch(() => undefined);
      return result;
    },
  };
  CONTEXTS.set(wrapped, ctx);
  return wrapped;
}

/** The log session of a write transaction. Events can only be recorded inside one. */
export function sessionFor(trx: MetaDb): LogSession {
  const s = SESSIONS.get(trx);
  if (!s) {
    throw new VaultError(
      "INTERNAL",
      "audit events must be recorded inside a write transaction of a vault's metadata driver",
    );
  }
  return s;
}

/** The log context of a wrapped driver. */
export function logContextOf(driver: DialectDriver): LogContext {
  const c = CONTEXTS.get(driver);
  if (!c) throw new VaultError("INTERNAL", "the metadata driver has no transparency log");
  return c;
}
