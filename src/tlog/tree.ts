/**
 * A Merkle tree kept in a TileStore: appends, tree hashes and RFC 9162 proofs for any tree size
 * up to the current one.
 *
 * Every proof element is MTH of a range from the RFC recursion (ranges.ts); every such range is
 * a run of perfect subtrees (ranges.ts perfectSubtrees); the hash of a perfect subtree of height
 * h is one stored hash of one tile at level floor(h / 8) (tiles.ts). So an operation first works
 * out from the sizes alone which tiles it needs, reads them all in one call, and then only folds
 * the ranges that are not perfect: O(log n) tiles read and O(log n) hashes computed.
 */

import { VaultError } from "../errors.js";
import { type Hash, HASH_SIZE, emptyRoot, hashChildren, isHash } from "./merkle.js";
import {
  type LeafRange,
  type Subtree,
  consistencyRanges,
  inclusionRanges,
  perfectSubtrees,
} from "./ranges.js";
import {
  FULL_TILE_HASHES,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  type TileCoord,
  type TileStore,
  edgeTiles,
  storedHashCount,
  storedPosition,
  tileWidth,
} from "./tiles.js";

export interface AppendResult {
  /** Tree size after the append. */
  readonly size: number;
  /** Root hash of the tree at that size. */
  readonly root: Hash;
}

/** Where a perfect subtree's hash is stored. */
interface Located {
  readonly level: number;
  readonly index: number;
  /** Tile entries that must exist for the hash to be there. */
  readonly minWidth: number;
  /** Position among the tile's stored hashes. */
  readonly position: number;
}

function locate(st: Subtree): Located {
  const level = Math.floor(st.height / TILE_HEIGHT);
  const height = st.height - level * TILE_HEIGHT; // height inside the tile, 0..7
  const span = 2 ** height; // entries it covers
  const first = st.index * span; // its first entry, counted over the whole level
  const node = (first % TILE_WIDTH) / span; // its index among in-tile nodes of that height
  return {
    level,
    index: Math.floor(first / TILE_WIDTH),
    minWidth: (node + 1) * span,
    position: storedPosition(height, node),
  };
}

function storedHash(tile: Uint8Array, position: number): Hash {
  return tile.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE);
}

/** Right fold of perfect-subtree hashes, largest first: the MTH of their union (ranges.ts). */
function foldRight(hashes: readonly Hash[]): Hash {
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = hashChildren(hashes[i]!, h);
  return h;
}

function inconsistent(message: string, details: Record<string, string | number | boolean>): VaultError {
  return new VaultError("LOG_INCONSISTENT", message, { details });
}

/** Reads tiles in one call and checks each holds at least the hashes the caller relies on. */
async function readTilesChecked(
  store: TileStore,
  needs: readonly (TileCoord & { readonly minWidth: number })[],
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (needs.length === 0) return out;
  const tiles = await store.readTiles(needs);
  if (tiles.length !== needs.length) {
    throw inconsistent("tile store returned the wrong number of tiles", {
      requested: needs.length,
      returned: tiles.length,
    });
  }
  needs.forEach((need, i) => {
    const bytes = tiles[i];
    const width = bytes === undefined ? 0 : tileWidth(bytes);
    if (bytes === undefined || width < need.minWidth) {
      throw inconsistent(`tile ${need.level}/${need.index} lacks hashes this tree size needs`, {
        level: need.level,
        index: need.index,
        width,
        needed: need.minWidth,
      });
    }
    out.set(`${need.level}/${need.index}`, bytes);
  });
  return out;
}

/** Evaluates MTH for each range with a single batched tile read. */
async function hashRanges(store: TileStore, ranges: readonly LeafRange[]): Promise<Hash[]> {
  const plans = ranges.map((r) => perfectSubtrees(r.lo, r.hi).map(locate));
  const needs = new Map<string, TileCoord & { minWidth: number }>();
  for (const spans of plans) {
    for (const s of spans) {
      const key = `${s.level}/${s.index}`;
      const need = needs.get(key);
      if (need === undefined) needs.set(key, { level: s.level, index: s.index, minWidth: s.minWidth });
      else need.minWidth = Math.max(need.minWidth, s.minWidth);
    }
  }
  const tiles = await readTilesChecked(store, [...needs.values()]);
  // Copies, so callers never hold views into the store's buffers.
  return plans.map((spans) =>
    foldRight(spans.map((s) => storedHash(tiles.get(`${s.level}/${s.index}`)!, s.position))).slice(),
  );
}

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new VaultError("INVALID_ARGUMENT", `${name} must be a non-negative safe integer`, {
      details: { [name]: String(value) },
    });
  }
}

/** MTH(D[0:size]) for any size up to the stored tree's size. */
export async function treeHash(store: TileStore, size: number): Promise<Hash> {
  checkSize("size", size);
  if (size === 0) return emptyRoot();
  const [root] = await hashRanges(store, [{ lo: 0, hi: size }]);
  return root!;
}

/** RFC 9162 §2.1.3.1 PATH(index, D[size]), for 0 <= index < size <= stored size. */
export async function inclusionProof(store: TileStore, index: number, size: number): Promise<Hash[]> {
  checkSize("index", index);
  checkSize("size", size);
  if (index >= size) {
    throw new VaultError("INVALID_ARGUMENT", "leaf index must be below the tree size", {
      details: { index, size },
    });
  }
  return hashRanges(store, inclusionRanges(index, size));
}

/** RFC 9162 §2.1.4.1 PROOF(oldSize, D[newSize]), for 0 < oldSize <= newSize <= stored size. */
export async function consistencyProof(store: TileStore, oldSize: number, newSize: number): Promise<Hash[]> {
  checkSize("oldSize", oldSize);
  checkSize("newSize", newSize);
  if (oldSize < 1 || oldSize > newSize) {
    throw new VaultError("INVALID_ARGUMENT", "consistency proofs need 0 < old size <= new size", {
      details: { oldSize, newSize },
    });
  }
  return hashRanges(store, consistencyRanges(oldSize, newSize));
}

/** The stored leaf hashes D[start:end], read in one call. */
export async function readLeafHashes(store: TileStore, start: number, end: number): Promise<Hash[]> {
  checkSize("start", start);
  checkSize("end", end);
  if (start > end) {
    throw new VaultError("INVALID_ARGUMENT", "start must not exceed end", { details: { start, end } });
  }
  const needs: (TileCoord & { minWidth: number })[] = [];
  for (let t = Math.floor(start / TILE_WIDTH); t * TILE_WIDTH < end; t++) {
    needs.push({ level: 0, index: t, minWidth: Math.min(TILE_WIDTH, end - t * TILE_WIDTH) });
  }
  const tiles = await readTilesChecked(store, needs);
  const out: Hash[] = [];
  for (let i = start; i < end; i++) {
    const tile = tiles.get(`0/${Math.floor(i / TILE_WIDTH)}`)!;
    out.push(storedHash(tile, storedPosition(0, i % TILE_WIDTH)).slice());
  }
  return out;
}

/** The tile being filled at one level during an append. */
interface OpenTile {
  index: number;
  width: number;
  readonly hashes: Uint8Array; // room for a full tile; storedHashCount(width) hashes are set
  dirty: boolean;
}

function emptyTile(index: number): OpenTile {
  return { index, width: 0, hashes: new Uint8Array(FULL_TILE_HASHES * HASH_SIZE), dirty: false };
}

/** Appends an entry and stores the in-tile nodes it completes (post-order, tiles.ts). */
function pushEntry(tile: OpenTile, entry: Hash): void {
  let at = storedHashCount(tile.width) * HASH_SIZE;
  tile.hashes.set(entry, at);
  at += HASH_SIZE;
  tile.width++;
  tile.dirty = true;
  for (let height = 1, span = 2; height <= TILE_HEIGHT && tile.width % span === 0; height++, span *= 2) {
    const node = tile.width / span - 1;
    const left = storedHash(tile.hashes, storedPosition(height - 1, 2 * node));
    const right = storedHash(tile.hashes, storedPosition(height - 1, 2 * node + 1));
    tile.hashes.set(hashChildren(left, right), at);
    at += HASH_SIZE;
  }
}

/**
 * Appends leaves to the tree of `oldSize` leaves and returns the new size and root.
 *
 * One readTiles call (the rightmost tile of each level at oldSize) and at most one writeTiles
 * call, in which each tile that gained hashes appears once. The caller must run this in the
 * same transaction that reads and then records the tree size, so that appends are serialized
 * and the tiles never get ahead of the recorded size. Throws LOG_INCONSISTENT if the stored
 * tiles do not describe a tree of exactly oldSize leaves.
 */
export async function appendLeaves(
  store: TileStore,
  oldSize: number,
  leafHashes: readonly Hash[],
): Promise<AppendResult> {
  checkSize("oldSize", oldSize);
  leafHashes.forEach((h, i) => {
    if (!isHash(h)) {
      throw new VaultError("INVALID_ARGUMENT", "leaf hashes must be 32 bytes", { details: { i } });
    }
  });
  const newSize = oldSize + leafHashes.length;
  if (!Number.isSafeInteger(newSize)) {
    throw new VaultError("INVALID_ARGUMENT", "tree size would exceed 2^53 - 1");
  }

  const edges = edgeTiles(oldSize);
  const stored = await store.readTiles(edges);
  if (stored.length !== edges.length) {
    throw inconsistent("tile store returned the wrong number of tiles", {
      requested: edges.length,
      returned: stored.length,
    });
  }
  const open: OpenTile[] = edges.map((e, i) => {
    const bytes = stored[i];
    const width = bytes === undefined ? 0 : tileWidth(bytes);
    // Exactly: fewer hashes means lost data, more means someone appended past oldSize.
    if (width !== e.width) {
      throw inconsistent(`tile ${e.level}/${e.index} does not match a tree of ${oldSize} leaves`, {
        level: e.level,
        index: e.index,
        width,
        expected: e.width,
      });
    }
    const tile = emptyTile(e.index);
    if (bytes !== undefined) tile.hashes.set(bytes);
    tile.width = width;
    return tile;
  });

  const writes: Tile[] = [];
  for (const leaf of leafHashes) {
    let hash = leaf;
    for (let level = 0; ; level++) {
      const tile = (open[level] ??= emptyTile(0)); // a level with no hashes yet starts at tile 0
      pushEntry(tile, hash);
      if (tile.width < TILE_WIDTH) break;
      // A full tile is final; its root (the last stored hash) is the next entry one level up.
      writes.push({ level, index: tile.index, hashes: tile.hashes });
      hash = storedHash(tile.hashes, FULL_TILE_HASHES - 1);
      open[level] = emptyTile(tile.index + 1);
    }
  }
  open.forEach((tile, level) => {
    if (tile.dirty) {
      writes.push({
        level,
        index: tile.index,
        hashes: tile.hashes.slice(0, storedHashCount(tile.width) * HASH_SIZE),
      });
    }
  });

  // The root needs only the open (rightmost) tiles, which are all in memory now.
  let root: Hash;
  if (newSize === 0) {
    root = emptyRoot();
  } else {
    root = foldRight(
      perfectSubtrees(0, newSize).map((st) => {
        const at = locate(st);
        const tile = open[at.level];
        if (tile?.index !== at.index || at.minWidth > tile.width) {
          throw new VaultError("INTERNAL", "append lost track of the rightmost tiles");
        }
        return storedHash(tile.hashes, at.position);
      }),
    ).slice();
  }
  if (writes.length > 0) await store.writeTiles(writes);
  return { size: newSize, root };
}
