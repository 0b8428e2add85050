import { fc, test } from "@fast-check/vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import {
  type Hash,
  MemoryTileStore,
  type TileCoord,
  type TileStore,
  appendLeaves,
  consistencyProof,
  consistencyProofFromLeaves,
  emptyRoot,
  inclusionProof,
  inclusionProofFromLeaves,
  merkleRoot,
  readLeafHashes,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../src/tlog/index.js";
import { hex, hexList, indexLeaves, randomLeaves, refMth, refPath, refProof } from "./reference.js";

async function rejects(code: string, p: Promise<unknown>): Promise<void> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isVaultError(e), `expected ${code}, got ${String(e)}`).toBe(true);
  expect((e as { code: string }).code).toBe(code);
}

describe("empty and one-leaf trees", () => {
  it("handles size 0 and 1", async () => {
    const store = new MemoryTileStore();
    expect(hex(await treeHash(store, 0))).toBe(hex(emptyRoot()));
    const none = await appendLeaves(store, 0, []);
    expect([none.size, hex(none.root), store.writeCalls]).toEqual([0, hex(emptyRoot()), 0]);
    const [leaf] = randomLeaves(1);
    const one = await appendLeaves(store, 0, [leaf!]);
    expect([one.size, hex(one.root)]).toEqual([1, hex(leaf!)]);
    expect(hex(await treeHash(store, 1))).toBe(hex(leaf!));
    expect(await inclusionProof(store, 0, 1)).toEqual([]);
    expect(await consistencyProof(store, 1, 1)).toEqual([]);
    verifyInclusion(leaf!, 0, 1, [], one.root);
  });
});

describe("a store grown one leaf at a time matches the reference at every size", () => {
  const N = 1100; // crosses tile boundaries at 256, 512, 768, 1024
  const D = randomLeaves(N);
  const roots: string[] = [];
  const store = new MemoryTileStore();

  beforeAll(async () => {
    for (let n = 0; n < N; n++) {
      const { size, root } = await appendLeaves(store, n, [D[n]!]);
      expect(size).toBe(n + 1);
      roots[n + 1] = hex(root);
    }
  });

  it("returns the reference root from each append", () => {
    for (let n = 1; n <= 600; n++) expect(roots[n], `size ${n}`).toBe(hex(refMth(D.slice(0, n))));
    for (const n of [767, 768, 769, 1023, 1024, 1025, 1100]) {
      expect(roots[n]).toBe(hex(refMth(D.slice(0, n))));
    }
  });

  it("recomputes every past root from the tiles", async () => {
    expect(hex(await treeHash(store, 0))).toBe(hex(emptyRoot()));
    for (let n = 1; n <= N; n++) expect(hex(await treeHash(store, n)), `size ${n}`).toBe(roots[n]);
  });

  it("gives the reference inclusion proof for leaves at boundary sizes", async () => {
    for (const n of [1, 2, 3, 255, 256, 257, 511, 512, 513, 1024, 1100]) {
      const tree = D.slice(0, n);
      // Every leaf of the small trees; tile edges and a stride of the larger ones.
      const indexes = Array.from({ length: n }, (_, i) => i).filter(
        (i) => n <= 257 || i % 37 === 0 || i % 256 < 2 || i % 256 > 253 || i > n - 3,
      );
      for (const i of indexes) {
        const proof = await inclusionProof(store, i, n);
        expect(hexList(proof), `${i} in ${n}`).toEqual(hexList(refPath(i, tree)));
      }
    }
  });

  it("gives the reference consistency proof between boundary sizes", async () => {
    const sizes = [1, 2, 3, 7, 8, 9, 255, 256, 257, 300, 511, 512, 513, 1023, 1024, 1025, 1100];
    for (const n of sizes) {
      for (const m of sizes.filter((s) => s <= n)) {
        const proof = await consistencyProof(store, m, n);
        expect(hexList(proof), `${m} -> ${n}`).toEqual(hexList(refProof(m, D.slice(0, n))));
      }
    }
  });

  it("reads back leaf hashes", async () => {
    expect(hexList(await readLeafHashes(store, 250, 530))).toEqual(hexList(D.slice(250, 530)));
    expect(await readLeafHashes(store, 7, 7)).toEqual([]);
    await rejects("LOG_INCONSISTENT", readLeafHashes(store, 1000, N + 1));
  });
});

describe("batching", () => {
  it("reads once per proof and writes each affected tile once per append", async () => {
    const store = new MemoryTileStore();
    await appendLeaves(store, 0, indexLeaves(0, 1000));
    // 1000 leaves: level-0 tiles 0..3 (three full, one of 232) and level-1 tile 0 (3 entries).
    expect([store.readCalls, store.writeCalls, store.tilesWritten]).toEqual([1, 1, 5]);

    await appendLeaves(store, 1000, indexLeaves(1000, 1030)); // fills tile 3, starts tile 4, grows level 1
    expect([store.readCalls, store.writeCalls, store.tilesWritten]).toEqual([2, 2, 8]);

    const before = store.readCalls;
    await inclusionProof(store, 17, 1030);
    await consistencyProof(store, 300, 1030);
    await treeHash(store, 999);
    expect(store.readCalls - before).toBe(3);
    expect(store.writeCalls).toBe(2);
  });
});

describe("random append schedules", () => {
  const schedule = fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 8 });

  test.prop([schedule, fc.nat(), fc.nat()], { numRuns: 40 })(
    "roots and proofs for old sizes survive later appends",
    async (batches, a, b) => {
      const store = new MemoryTileStore();
      const total = batches.reduce((x, y) => x + y, 0);
      const D = indexLeaves(0, total);
      const history: number[] = [0];
      let size = 0;
      for (const k of batches) {
        const res = await appendLeaves(store, size, D.slice(size, size + k));
        size += k;
        expect(res.size).toBe(size);
        expect(hex(res.root)).toBe(hex(refMth(D.slice(0, size))));
        history.push(size);
      }
      // Every size the log ever had, after all the appends.
      for (const s of history) expect(hex(await treeHash(store, s))).toBe(hex(refMth(D.slice(0, s))));
      if (size === 0) return;
      const old = history.filter((s) => s > 0);
      const m = old[a % old.length]!;
      const i = b % m;
      const tree = D.slice(0, m);
      const proof = await inclusionProof(store, i, m);
      expect(hexList(proof)).toEqual(hexList(refPath(i, tree)));
      verifyInclusion(D[i]!, i, m, proof, refMth(tree));
      const c = await consistencyProof(store, m, size);
      expect(hexList(c)).toEqual(hexList(refProof(m, D.slice(0, size))));
      verifyConsistency(m, size, c, refMth(tree), refMth(D.slice(0, size)));
    },
  );
});

describe("a tree reaching level-2 tiles", () => {
  const N = 70_000;
  const D = indexLeaves(0, N);
  const store = new MemoryTileStore();
  const sizes = [65_535, 65_536, 65_537, 65_792, N];
  const roots = new Map<number, Hash>();

  beforeAll(async () => {
    let size = 0;
    for (const end of [...sizes, N]) {
      // Irregular batches, ending exactly at each size of interest.
      while (size < end) {
        const k = Math.min(end - size, 1 + ((size * 7919) % 5000));
        ({ size } = await appendLeaves(store, size, D.slice(size, size + k)));
      }
      roots.set(size, await treeHash(store, size));
    }
  });

  it("matches the in-memory MTH at sizes around 256^2", () => {
    for (const n of sizes) expect(hex(roots.get(n)!), `size ${n}`).toBe(hex(merkleRoot(D.slice(0, n))));
  });

  it("proves inclusion and consistency across the level-2 boundary", async () => {
    for (const n of sizes) {
      const tree = D.slice(0, n);
      for (const i of [0, 256, 65_535, n - 1].filter((x) => x < n)) {
        const proof = await inclusionProof(store, i, n);
        expect(hexList(proof), `${i} in ${n}`).toEqual(hexList(inclusionProofFromLeaves(tree, i)));
        verifyInclusion(D[i]!, i, n, proof, roots.get(n)!);
      }
      for (const m of sizes.filter((s) => s < n)) {
        const proof = await consistencyProof(store, m, n);
        expect(hexList(proof), `${m} -> ${n}`).toEqual(hexList(consistencyProofFromLeaves(tree, m)));
        verifyConsistency(m, n, proof, roots.get(m)!, roots.get(n)!);
      }
    }
  });
});

describe("stores that disagree with the caller's tree size", () => {
  it("refuses appends when the stored tiles are ahead of or behind oldSize", async () => {
    const store = new MemoryTileStore();
    await appendLeaves(store, 0, indexLeaves(0, 300));
    await rejects("LOG_INCONSISTENT", appendLeaves(store, 299, indexLeaves(299, 300))); // store ahead
    await rejects("LOG_INCONSISTENT", appendLeaves(store, 301, indexLeaves(301, 302))); // store behind
    await rejects("LOG_INCONSISTENT", appendLeaves(store, 256, indexLeaves(256, 257))); // ahead by a partial tile
    await rejects("LOG_INCONSISTENT", appendLeaves(store, 512, indexLeaves(512, 513))); // behind by a tile
    expect(store.writeCalls).toBe(1);
    expect(hex(await treeHash(store, 300))).toBe(hex(refMth(indexLeaves(0, 300))));
  });

  it("refuses proofs for sizes the store does not have", async () => {
    const store = new MemoryTileStore();
    await appendLeaves(store, 0, indexLeaves(0, 300));
    await rejects("LOG_INCONSISTENT", treeHash(store, 301));
    await rejects("LOG_INCONSISTENT", inclusionProof(store, 0, 600));
    await rejects("LOG_INCONSISTENT", consistencyProof(store, 10, 301));
  });

  it("rejects a store that answers with the wrong number of tiles", async () => {
    const inner = new MemoryTileStore();
    await appendLeaves(inner, 0, indexLeaves(0, 10));
    const short: TileStore = {
      readTiles: async (coords: readonly TileCoord[]) => (await inner.readTiles(coords)).slice(1),
      writeTiles: (tiles) => inner.writeTiles(tiles),
    };
    await rejects("LOG_INCONSISTENT", treeHash(short, 10));
    await rejects("LOG_INCONSISTENT", appendLeaves(short, 10, indexLeaves(10, 11)));
  });
});

describe("argument checks", () => {
  it("rejects impossible sizes, indexes and leaf hashes", async () => {
    const store = new MemoryTileStore();
    await appendLeaves(store, 0, indexLeaves(0, 10));
    await rejects("INVALID_ARGUMENT", inclusionProof(store, 10, 10));
    await rejects("INVALID_ARGUMENT", inclusionProof(store, -1, 10));
    await rejects("INVALID_ARGUMENT", consistencyProof(store, 0, 10));
    await rejects("INVALID_ARGUMENT", consistencyProof(store, 6, 5));
    await rejects("INVALID_ARGUMENT", treeHash(store, 1.5));
    await rejects("INVALID_ARGUMENT", appendLeaves(store, 10, [new Uint8Array(31)]));
    await rejects("INVALID_ARGUMENT", appendLeaves(store, -1, []));
    await rejects("INVALID_ARGUMENT", appendLeaves(store, 2 ** 53 - 1, indexLeaves(0, 1)));
    await rejects("INVALID_ARGUMENT", readLeafHashes(store, 5, 4));
  });
});
