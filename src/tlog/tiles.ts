/**
 * The storage seam: the tree's stored hashes, grouped by C2SP tlog-tiles tile.
 *
 * c2sp.org/tlog-tiles §Merkle Tree: tile (level L, index N) covers the hashes, for i = 0..255,
 * MTH(D[(N*256 + i) * 256^L : (N*256 + i + 1) * 256^L]) (its "entries"). Level 0 entries are leaf
 * hashes; each level L+1 entry is the root of one full level-L tile.
 *
 * Like Go's sumdb/tlog "stored hashes", a stored tile also keeps the hashes of every complete
 * subtree inside it, so no proof ever rehashes a tile. They are laid out in post-order, the
 * order in which they become complete: entry i, then each in-tile node that entry i completes
 * (height 1, 2, ...). A tile of width w (entries) therefore holds 2w - popcount(w) hashes
 * (511 when full), and grows only by appending: every stored hash is the root of a complete
 * subtree and never changes. So the stored bytes at any time are a prefix of the bytes at any
 * later time, proofs for past tree sizes read today's tiles, and one row per tile suffices.
 * tileEntries() recovers the plain C2SP tile for serving.
 */

import { VaultError, asVaultError } from "../errors.js";
import { HASH_SIZE } from "./merkle.js";

export const TILE_HEIGHT = 8;
/** Entries in a full tile (2^TILE_HEIGHT). */
export const TILE_WIDTH = 256;
/** Stored hashes in a full tile: 256 entries and 255 in-tile nodes. */
export const FULL_TILE_HASHES = 2 * TILE_WIDTH - 1;

export interface TileCoord {
  /** Tile level L >= 0; level 0 entries are leaf hashes. */
  readonly level: number;
  /** Tile index N >= 0 within its level. */
  readonly index: number;
}

export interface Tile extends TileCoord {
  /** The tile's stored hashes in post-order: 32 * storedHashCount(width) bytes, width 1..256. */
  readonly hashes: Uint8Array;
}

/**
 * Where the tree's tiles live. Implementations work inside one caller-provided transaction
 * (a Kysely `Transaction`, a better-sqlite3 transaction, a pg client in BEGIN ... COMMIT):
 * construct one per transaction. See docs/tlog.md "Storage seam".
 *
 * Contract:
 * - readTiles: one round trip for all coordinates; the result is aligned with `coords`, with
 *   undefined for a tile never written. A tile may come back wider than the caller needs (it
 *   grew since); callers use a prefix. Returned bytes must not be mutated by either side.
 * - writeTiles: each coordinate at most once per call; each tile replaces any stored tile at its
 *   coordinate, is at least as long, and has the stored bytes as its prefix. All writes of one
 *   call commit or roll back with the caller's transaction, together with whatever records the
 *   new tree size (the tiles alone do not say how many leaves are committed).
 */
export interface TileStore {
  readTiles(coords: readonly TileCoord[]): Promise<readonly (Uint8Array | undefined)[]>;
  writeTiles(tiles: readonly Tile[]): Promise<void>;
}

function popcount(x: number): number {
  let c = 0;
  for (; x > 0; x >>>= 1) c += x & 1;
  return c;
}

/** Stored hashes in a tile of `width` entries: 2w - popcount(w). */
export function storedHashCount(width: number): number {
  return 2 * width - popcount(width);
}

/** Position among a tile's stored hashes of the in-tile node of `height` (0 = entry) and `index`. */
export function storedPosition(height: number, index: number): number {
  // The node is completed by its last entry e = (index + 1) * 2^height - 1 and stored right after
  // the e entries before it (with their nodes) and e itself, after its lower-height siblings.
  return storedHashCount((index + 1) * 2 ** height - 1) + height;
}

// Inverse of storedHashCount over widths 1..256 (0 where no width fits).
const WIDTH_BY_COUNT = new Uint16Array(FULL_TILE_HASHES + 1);
for (let w = 1; w <= TILE_WIDTH; w++) WIDTH_BY_COUNT[storedHashCount(w)] = w;

/** Entries (width) in a stored tile; throws LOG_INCONSISTENT if the length fits no width. */
export function tileWidth(hashes: Uint8Array): number {
  const count = hashes.length / HASH_SIZE;
  const width = Number.isInteger(count) && count <= FULL_TILE_HASHES ? WIDTH_BY_COUNT[count]! : 0;
  if (width === 0) {
    throw new VaultError("LOG_INCONSISTENT", "tile data is not the stored hashes of any tile width", {
      details: { bytes: hashes.length },
    });
  }
  return width;
}

/** The plain C2SP tile (its entries, 32 * width bytes) of a stored tile, for serving. */
export function tileEntries(hashes: Uint8Array): Uint8Array {
  const width = tileWidth(hashes);
  const out = new Uint8Array(width * HASH_SIZE);
  for (let i = 0; i < width; i++) {
    const at = storedPosition(0, i) * HASH_SIZE;
    out.set(hashes.subarray(at, at + HASH_SIZE), i * HASH_SIZE);
  }
  return out;
}

/** 256^level as a number (exact for every level a tree of < 2^53 leaves can reach). */
export function levelSpan(level: number): number {
  return TILE_WIDTH ** level;
}

/**
 * The rightmost tile at each level of a tree of `size` leaves, with its width at that size
 * (c2sp.org/tlog-tiles §Partial Tiles: floor(size / 256^L) mod 256). Widths may be 0; the
 * list ends at the highest level holding any hash. These tiles hold every hash needed for the
 * tree's root.
 */
export function edgeTiles(size: number): (TileCoord & { readonly width: number })[] {
  const out: (TileCoord & { readonly width: number })[] = [];
  for (let level = 0; level === 0 || Math.floor(size / levelSpan(level)) > 0; level++) {
    const entries = Math.floor(size / levelSpan(level)); // complete hashes at this level
    out.push({ level, index: Math.floor(entries / TILE_WIDTH), width: entries % TILE_WIDTH });
  }
  return out;
}

/**
 * The C2SP tlog-tiles resource path of a tile: "tile/<L>/<N>" or "tile/<L>/<N>.p/<W>" for a
 * partial tile, with N in zero-padded 3-digit groups, all but the last prefixed "x".
 */
export function tilePath(coord: TileCoord, width: number = TILE_WIDTH): string {
  if (!Number.isSafeInteger(coord.level) || coord.level < 0 || coord.level > 63) {
    throw new VaultError("INVALID_ARGUMENT", "tile level must be 0..63");
  }
  if (!Number.isSafeInteger(coord.index) || coord.index < 0) {
    throw new VaultError("INVALID_ARGUMENT", "tile index must be a non-negative integer");
  }
  if (!Number.isSafeInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new VaultError("INVALID_ARGUMENT", "tile width must be 1..256");
  }
  let n = coord.index;
  let groups = (n % 1000).toString().padStart(3, "0");
  n = Math.floor(n / 1000);
  while (n > 0) {
    groups = `x${(n % 1000).toString().padStart(3, "0")}/${groups}`;
    n = Math.floor(n / 1000);
  }
  const partial = width < TILE_WIDTH ? `.p/${width}` : "";
  return `tile/${coord.level}/${groups}${partial}`;
}

function coordKey(c: TileCoord): string {
  return `${c.level}/${c.index}`;
}

/**
 * An in-memory TileStore: the reference for the contract (it enforces what a SQL store is
 * trusted to guarantee) and the engine for tests and benchmarks. Counts calls so tests can
 * check batching.
 */
export class MemoryTileStore implements TileStore {
  readonly #tiles = new Map<string, Uint8Array>();
  /** Number of readTiles calls so far. */
  readCalls = 0;
  /** Number of writeTiles calls so far. */
  writeCalls = 0;
  /** Number of tiles written so far, over all calls. */
  tilesWritten = 0;

  readTiles(coords: readonly TileCoord[]): Promise<readonly (Uint8Array | undefined)[]> {
    this.readCalls++;
    return Promise.resolve(coords.map((c) => this.#tiles.get(coordKey(c))));
  }

  writeTiles(tiles: readonly Tile[]): Promise<void> {
    this.writeCalls++;
    try {
      this.#write(tiles);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(asVaultError(e));
    }
  }

  #write(tiles: readonly Tile[]): void {
    const staged = new Map<string, Uint8Array>();
    for (const t of tiles) {
      if (!Number.isSafeInteger(t.level) || t.level < 0 || !Number.isSafeInteger(t.index) || t.index < 0) {
        throw new VaultError("INVALID_ARGUMENT", "tile coordinates must be non-negative integers");
      }
      const key = coordKey(t);
      if (staged.has(key)) throw new VaultError("INVALID_ARGUMENT", `tile ${key} appears twice in one write`);
      tileWidth(t.hashes);
      const old = this.#tiles.get(key);
      if (old !== undefined && !isPrefix(old, t.hashes)) {
        // A stored hash would change or disappear: the one thing the log must never do.
        throw new VaultError("LOG_INCONSISTENT", `write to tile ${key} does not extend the stored tile`, {
          details: { level: t.level, index: t.index, storedBytes: old.length, newBytes: t.hashes.length },
        });
      }
      staged.set(key, t.hashes.slice());
    }
    // All or nothing, like the caller's transaction.
    for (const [key, bytes] of staged) this.#tiles.set(key, bytes);
    this.tilesWritten += staged.size;
  }

  /** Number of stored tiles. */
  get size(): number {
    return this.#tiles.size;
  }
}

function isPrefix(prefix: Uint8Array, of: Uint8Array): boolean {
  if (prefix.length > of.length) return false;
  return Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length).equals(
    Buffer.from(of.buffer, of.byteOffset, prefix.length),
  );
}
