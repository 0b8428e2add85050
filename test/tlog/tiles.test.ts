import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import {
  FULL_TILE_HASHES,
  MemoryTileStore,
  appendLeaves,
  edgeTiles,
  storedHashCount,
  storedPosition,
  tileEntries,
  tilePath,
  tileWidth,
} from "../../src/tlog/index.js";
import { hex, randomLeaves, refMth } from "./reference.js";

async function rejects(code: string, p: Promise<unknown>): Promise<void> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isVaultError(e), `expected ${code}, got ${String(e)}`).toBe(true);
  expect((e as { code: string }).code).toBe(code);
}

describe("stored-hash layout inside a tile", () => {
  it("counts 2w - popcount(w) hashes", () => {
    expect([1, 2, 3, 4, 5, 8, 255, 256].map(storedHashCount)).toEqual([1, 3, 4, 7, 8, 15, 502, 511]);
    expect(FULL_TILE_HASHES).toBe(511);
  });

  it("stores entries and nodes in post-order", () => {
    // e0 e1 n(1,0) e2 e3 n(1,1) n(2,0) e4 e5 n(1,2) e6 e7 n(1,3) n(2,1) n(3,0)
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => storedPosition(0, i))).toEqual([0, 1, 3, 4, 7, 8, 10, 11]);
    expect([storedPosition(1, 0), storedPosition(1, 1), storedPosition(2, 0)]).toEqual([2, 5, 6]);
    expect([storedPosition(1, 3), storedPosition(2, 1), storedPosition(3, 0)]).toEqual([12, 13, 14]);
    expect(storedPosition(8, 0)).toBe(510);
  });

  it("recovers the width from the length, and rejects lengths no width has", () => {
    for (let w = 1; w <= 256; w++) expect(tileWidth(new Uint8Array(32 * storedHashCount(w)))).toBe(w);
    for (const bytes of [0, 31, 33, 64, 32 * 6, 32 * 512]) {
      let err: unknown;
      try {
        tileWidth(new Uint8Array(bytes));
      } catch (e) {
        err = e;
      }
      expect(isVaultError(err, "LOG_INCONSISTENT"), `${bytes} bytes`).toBe(true);
    }
  });

  it("keeps each in-tile node equal to the MTH of the entries under it", async () => {
    const store = new MemoryTileStore();
    const leaves = randomLeaves(256);
    await appendLeaves(store, 0, leaves);
    const [tile] = await store.readTiles([{ level: 0, index: 0 }]);
    expect(tile!.length).toBe(511 * 32);
    for (const height of [0, 1, 3, 7, 8]) {
      for (let k = 0; k < 256 / 2 ** height; k += 3) {
        const at = storedPosition(height, k) * 32;
        const span = 2 ** height;
        expect(hex(tile!.subarray(at, at + 32)), `node ${height}/${k}`).toBe(
          hex(refMth(leaves.slice(k * span, (k + 1) * span))),
        );
      }
    }
    expect(hex(tileEntries(tile!))).toBe(hex(Buffer.concat(leaves)));
  });
});

describe("C2SP tlog-tiles geometry", () => {
  it("finds the partial tiles of the spec's 70,000-leaf example", () => {
    // c2sp.org/tlog-tiles §Partial Tiles: 273 full level-0 tiles and one of width 112, one full
    // level-1 tile and one of width 17, and a level-2 tile of width 1.
    expect(edgeTiles(70_000)).toEqual([
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
    expect(edgeTiles(256)).toEqual([
      { level: 0, index: 1, width: 0 },
      { level: 1, index: 0, width: 1 },
    ]);
    expect(edgeTiles(0)).toEqual([{ level: 0, index: 0, width: 0 }]);
    expect(edgeTiles(1)).toEqual([{ level: 0, index: 0, width: 1 }]);
  });

  it("formats tile paths as the spec does", () => {
    expect(tilePath({ level: 0, index: 1_234_067 })).toBe("tile/0/x001/x234/067");
    expect(tilePath({ level: 2, index: 0 }, 1)).toBe("tile/2/000.p/1");
    expect(tilePath({ level: 1, index: 1000 }, 17)).toBe("tile/1/x001/000.p/17");
    expect(tilePath({ level: 63, index: 5 }, 256)).toBe("tile/63/005");
    for (const [coord, width] of [
      [{ level: 64, index: 0 }, 1],
      [{ level: -1, index: 0 }, 1],
      [{ level: 0, index: 1.5 }, 1],
      [{ level: 0, index: 0 }, 0],
      [{ level: 0, index: 0 }, 257],
    ] as const) {
      expect(() => tilePath(coord, width)).toThrow(/tile/);
    }
  });
});

describe("MemoryTileStore enforces the seam contract", () => {
  const h = (n: number): Uint8Array => new Uint8Array(32 * storedHashCount(n)).fill(n);

  it("stores, grows and reads tiles in batches", async () => {
    const store = new MemoryTileStore();
    const one = new Uint8Array(32).fill(7);
    await store.writeTiles([{ level: 0, index: 0, hashes: one }]);
    const grown = new Uint8Array(96);
    grown.set(one);
    grown.fill(9, 32);
    await store.writeTiles([{ level: 0, index: 0, hashes: grown }]);
    const got = await store.readTiles([
      { level: 0, index: 0 },
      { level: 0, index: 1 },
    ]);
    expect(got.map((t) => (t === undefined ? undefined : hex(t)))).toEqual([hex(grown), undefined]);
    expect([store.readCalls, store.writeCalls, store.tilesWritten, store.size]).toEqual([1, 2, 2, 1]);
  });

  it("refuses to change or drop a stored hash, atomically", async () => {
    const store = new MemoryTileStore();
    await store.writeTiles([{ level: 0, index: 0, hashes: h(2) }]);
    const changed = h(3);
    await rejects(
      "LOG_INCONSISTENT",
      store.writeTiles([
        { level: 1, index: 0, hashes: h(1) },
        { level: 0, index: 0, hashes: changed },
      ]),
    );
    await rejects("LOG_INCONSISTENT", store.writeTiles([{ level: 0, index: 0, hashes: h(1).fill(2) }]));
    // Nothing of the failed batches landed.
    const [a, b] = await store.readTiles([
      { level: 0, index: 0 },
      { level: 1, index: 0 },
    ]);
    expect(hex(a!)).toBe(hex(h(2)));
    expect(b).toBeUndefined();
  });

  it("rejects malformed batches", async () => {
    const store = new MemoryTileStore();
    await rejects(
      "INVALID_ARGUMENT",
      store.writeTiles([
        { level: 0, index: 0, hashes: h(1) },
        { level: 0, index: 0, hashes: h(1) },
      ]),
    );
    await rejects("LOG_INCONSISTENT", store.writeTiles([{ level: 0, index: 0, hashes: new Uint8Array(64) }]));
    await rejects("INVALID_ARGUMENT", store.writeTiles([{ level: -1, index: 0, hashes: h(1) }]));
    expect(store.size).toBe(0);
  });
});
