/**
 * The SQL TileStore (docs/tlog.md §3): one table for both dialects, used on the caller's
 * transaction handle so tile writes commit or roll back with the events and the recorded size.
 *
 * - readTiles: one SELECT for all coordinates (an OR of primary-key lookups; chunked only past
 *   READ_CHUNK coordinates to stay under bind-parameter limits), aligned with the request.
 * - writeTiles: one multi-row upsert whose DO UPDATE only fires when the new bytes extend the
 *   stored ones; a refused row shows up as a short affected-row count and becomes
 *   LOG_INCONSISTENT, which rolls the caller's transaction back.
 */
import { sql } from "kysely";
import { VaultError } from "../errors.js";
import type { Dialect, MetaDb } from "../store/meta/index.js";
import type { Tile, TileCoord, TileStore } from "../tlog/index.js";

/** The vault has one log; the column leaves room for more. */
export const LOG_ID = 1;

const READ_CHUNK = 2000;
const WRITE_CHUNK = 500;

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}

export class SqlTileStore implements TileStore {
  readonly #db: MetaDb;
  readonly #dialect: Dialect;
  /** Tiles read together with the log state (log-state.ts), served without a statement. */
  #primed: Map<string, Uint8Array | undefined> | undefined;
  /** Tiles written but held until commitWithSize. */
  #deferred: Tile[] | undefined;
  /** Stored length of each tile as first read in this transaction (0: absent). */
  readonly #base = new Map<string, number>();
  /** Every tile this store read or wrote, newest bytes (absent tiles as undefined). */
  readonly seen = new Map<string, Uint8Array | undefined>();
  /** Statements issued, for tests and benchmarks that check batching. */
  reads = 0;
  writes = 0;

  constructor(db: MetaDb, dialect: Dialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  /**
   * Seeds the store with tiles already read in this transaction (present or known to be absent).
   * A read of only primed coordinates needs no statement; any write drops the primed set.
   */
  prime(tiles: ReadonlyMap<string, Uint8Array | undefined>): void {
    this.#primed = new Map(tiles);
  }

  async readTiles(coords: readonly TileCoord[]): Promise<readonly (Uint8Array | undefined)[]> {
    const primed = this.#primed;
    if (primed && coords.every((c) => primed.has(`${c.level}/${c.index}`))) {
      const out = coords.map((c) => primed.get(`${c.level}/${c.index}`));
      coords.forEach((c, i) => {
        this.#saw(`${c.level}/${c.index}`, out[i]);
      });
      return out;
    }
    const found = new Map<string, Uint8Array>();
    for (let i = 0; i < coords.length; i += READ_CHUNK) {
      const chunk = coords.slice(i, i + READ_CHUNK);
      // log_id inside every term: SQLite then plans one primary-key seek per term (MULTI-INDEX
      // OR); with "log_id = ? AND (… OR …)" it scans every tile of the log instead.
      const terms = sql.join(
        chunk.map((c) => sql`(log_id = ${LOG_ID} AND level = ${c.level} AND idx = ${c.index})`),
        sql` OR `,
      );
      this.reads++;
      const r = await sql<{ level: number; idx: number; hashes: Buffer }>`
        SELECT level, idx, hashes FROM tlog_tile WHERE ${terms}`.execute(this.#db);
      for (const row of r.rows) found.set(`${row.level}/${row.idx}`, new Uint8Array(row.hashes));
    }
    const out = coords.map((c) => found.get(`${c.level}/${c.index}`));
    coords.forEach((c, i) => {
      this.#saw(`${c.level}/${c.index}`, out[i]);
    });
    return out;
  }

  #saw(key: string, bytes: Uint8Array | undefined): void {
    this.seen.set(key, bytes);
    if (!this.#base.has(key)) this.#base.set(key, bytes?.length ?? 0);
  }

  async writeTiles(tiles: readonly Tile[]): Promise<void> {
    this.#primed = undefined;
    for (const t of tiles) this.seen.set(`${t.level}/${t.index}`, t.hashes.slice());
    if (this.#deferred) {
      this.#deferred.push(...tiles);
      return;
    }
    for (let i = 0; i < tiles.length; i += WRITE_CHUNK) await this.#upsert(tiles.slice(i, i + WRITE_CHUNK));
  }

  /**
   * Holds the next writes until `commitWithSize`, which writes them together with the log's new
   * size and root: on PostgreSQL in one statement (one round trip fewer per transaction).
   */
  deferWrites(): void {
    this.#deferred = [];
  }

  /** Writes the deferred tiles and records `size` and `root` in tlog_state. */
  async commitWithSize(size: number, root: Uint8Array): Promise<void> {
    const tiles = this.#deferred ?? [];
    this.#deferred = undefined;
    let i = 0;
    for (; tiles.length - i > WRITE_CHUNK; i += WRITE_CHUNK)
      await this.#upsert(tiles.slice(i, i + WRITE_CHUNK));
    const last = tiles.slice(i);
    const update = sql`UPDATE tlog_state SET size = ${size}, root_hash = ${asBuffer(root)} WHERE log_id = ${LOG_ID}`;
    if (this.#dialect === "postgres" && last.length > 0) {
      // One statement: data-modifying CTEs run exactly once, in one snapshot (PostgreSQL docs
      // §7.8.4). Tiles read earlier in this transaction (under the write lock) get only their new
      // bytes appended — the statement cannot alter or shorten what is stored, and a 64-byte
      // suffix travels instead of the whole tile; new tiles are inserted and must not exist yet.
      const known =
        last.length <= 16 &&
        last.every((t) => (this.#base.get(`${t.level}/${t.index}`) ?? Infinity) < t.hashes.length);
      const parts = known
        ? last.map((t, k) => {
            const base = this.#base.get(`${t.level}/${t.index}`)!;
            const body =
              base > 0
                ? sql`UPDATE tlog_tile SET hashes = hashes || ${asBuffer(t.hashes.subarray(base))}
                       WHERE log_id = ${LOG_ID} AND level = ${t.level} AND idx = ${t.index}
                         AND octet_length(hashes) = ${base}`
                : sql`INSERT INTO tlog_tile (log_id, level, idx, hashes)
                       VALUES (${LOG_ID}, ${t.level}, ${t.index}, ${asBuffer(t.hashes)}) ON CONFLICT DO NOTHING`;
            return sql`${sql.raw(`w${k}`)} AS (${body} RETURNING 1)`;
          })
        : [sql`w0 AS (${this.#upsertSql(last)} RETURNING 1)`];
      const counted = sql.join(
        parts.map((_, k) => sql.raw(`(SELECT count(*) FROM w${k})`)),
        sql` + `,
      );
      this.writes++;
      const r = await sql<{ tiles: number; state: number }>`
        WITH ${sql.join(parts)}, st AS (${update} RETURNING 1)
        SELECT (${counted})::int AS tiles, (SELECT count(*) FROM st)::int AS state`.execute(this.#db);
      const row = r.rows[0];
      this.#check(last.length, row?.tiles ?? -1);
      if (row?.state !== 1) throw new VaultError("LOG_INCONSISTENT", "the log has no state row");
      return;
    }
    if (last.length > 0) await this.#upsert(last);
    await update.execute(this.#db);
  }

  #upsertSql(chunk: readonly Tile[]) {
    const extends_ =
      this.#dialect === "postgres"
        ? sql`octet_length(excluded.hashes) >= octet_length(tlog_tile.hashes)
              AND substring(excluded.hashes from 1 for octet_length(tlog_tile.hashes)) = tlog_tile.hashes`
        : sql`length(excluded.hashes) >= length(tlog_tile.hashes)
              AND substr(excluded.hashes, 1, length(tlog_tile.hashes)) = tlog_tile.hashes`;
    const values = sql.join(
      chunk.map((t) => sql`(${LOG_ID}, ${t.level}, ${t.index}, ${asBuffer(t.hashes)})`),
    );
    return sql`INSERT INTO tlog_tile (log_id, level, idx, hashes) VALUES ${values}
      ON CONFLICT (log_id, level, idx) DO UPDATE SET hashes = excluded.hashes WHERE ${extends_}`;
  }

  async #upsert(chunk: readonly Tile[]): Promise<void> {
    this.writes++;
    const r = await this.#upsertSql(chunk).execute(this.#db);
    this.#check(chunk.length, Number(r.numAffectedRows ?? -1));
  }

  #check(expected: number, affected: number): void {
    if (affected !== expected) {
      // A stored hash would change or disappear: the one thing the log must never do.
      throw new VaultError("LOG_INCONSISTENT", "a tile write does not extend the stored tile", {
        details: { tiles: expected, written: affected },
      });
    }
  }
}
