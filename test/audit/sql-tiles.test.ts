/** The SQL TileStore against the docs/tlog.md §3 contract, on every metadata backend. */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqlTileStore } from "../../src/audit/sql-tiles.js";
import {
  connectMetadata,
  createSchema,
  type DialectDriver,
  type MetadataConfig,
} from "../../src/store/meta/index.js";
import {
  MemoryTileStore,
  appendLeaves,
  consistencyProof,
  inclusionProof,
  leafHash,
  treeHash,
  verifyInclusion,
  type Hash,
} from "../../src/tlog/index.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";

function leaves(from: number, n: number): Hash[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(from + i));
    return leafHash(b);
  });
}

describe.each(BACKENDS)("SqlTileStore ($name)", (backend) => {
  let sb: Sandbox;
  let driver: DialectDriver;
  beforeEach(async () => {
    sb = sandbox(backend);
    mkdirSync(sb.dataDir, { recursive: true });
    const config: MetadataConfig =
      backend.name === "sqlite"
        ? { driver: "sqlite", file: path.join(sb.dataDir, "meta.sqlite") }
        : { driver: "postgres", url: backend.pgUrl!, schema: sb.schema };
    driver = connectMetadata(config);
    await createSchema(driver, config);
  });
  afterEach(async () => {
    await driver.close();
    await sb.cleanup();
  });

  it("grows like the in-memory store: same roots and proofs for every size, one read and one write per append", async () => {
    const mem = new MemoryTileStore();
    let size = 0;
    const sizes: number[] = [];
    // Batch sizes that cross tile boundaries at levels 0 and 1 (256 and 65,536 leaves).
    for (const n of [1, 2, 253, 1, 300, 1000, 7, 65_000, 3, 700]) {
      const batch = leaves(size, n);
      const st = new SqlTileStore(driver.db, driver.dialect);
      const r = await driver.write(async (trx) => {
        const s = new SqlTileStore(trx, driver.dialect);
        const out = await appendLeaves(s, size, batch);
        expect([s.reads, s.writes]).toEqual([1, 1]);
        return out;
      });
      const m = await appendLeaves(mem, size, batch);
      expect(Buffer.from(r.root).equals(Buffer.from(m.root))).toBe(true);
      size = r.size;
      sizes.push(size);
      expect(Buffer.from(await treeHash(st, size)).equals(Buffer.from(m.root))).toBe(true);
    }
    const st = new SqlTileStore(driver.db, driver.dialect);
    for (let k = 0; k < 40; k++) {
      const s = sizes[Math.floor(Math.random() * sizes.length)]!;
      const i = Math.floor(Math.random() * s);
      const proof = await inclusionProof(st, i, s);
      expect(proof).toEqual(await inclusionProof(mem, i, s));
      verifyInclusion(leaves(i, 1)[0]!, i, s, proof, await treeHash(mem, s));
      const old = 1 + Math.floor(Math.random() * s);
      expect(await consistencyProof(st, old, s)).toEqual(await consistencyProof(mem, old, s));
    }
    // Each proof is one statement.
    const before = st.reads;
    await inclusionProof(st, 12_345, size);
    expect(st.reads - before).toBe(1);
  }, 120_000);

  it("reads align with the request, with undefined for missing tiles", async () => {
    await driver.write((trx) => appendLeaves(new SqlTileStore(trx, driver.dialect), 0, leaves(0, 300)));
    const st = new SqlTileStore(driver.db, driver.dialect);
    const got = await st.readTiles([
      { level: 0, index: 1 },
      { level: 5, index: 0 },
      { level: 0, index: 0 },
      { level: 1, index: 0 },
    ]);
    expect(got.map((t) => t?.length)).toEqual([44 * 2 * 32 - 3 * 32, undefined, 511 * 32, 32]);
  });

  it("refuses any write that does not extend the stored tile, and the transaction rolls back", async () => {
    await driver.write((trx) => appendLeaves(new SqlTileStore(trx, driver.dialect), 0, leaves(0, 10)));
    const st = new SqlTileStore(driver.db, driver.dialect);
    const [stored] = await st.readTiles([{ level: 0, index: 0 }]);
    const altered = Uint8Array.from(stored!);
    altered[5] = altered[5]! ^ 1;
    const shorter = stored!.slice(0, stored!.length - 3 * 32);
    const longerButForked = new Uint8Array(stored!.length + 2 * 32 - 32 + 32);
    longerButForked.set(randomBytes(longerButForked.length));
    for (const bytes of [altered, shorter, longerButForked]) {
      const code = await codeOf(
        driver.write(async (trx) => {
          const s = new SqlTileStore(trx, driver.dialect);
          await s.writeTiles([
            { level: 3, index: 9, hashes: leaves(0, 1)[0]! }, // a fresh row in the same batch
            { level: 0, index: 0, hashes: bytes },
          ]);
        }),
      );
      expect(code).toBe("LOG_INCONSISTENT");
    }
    const after = await st.readTiles([
      { level: 0, index: 0 },
      { level: 3, index: 9 },
    ]);
    expect(Buffer.from(after[0]!).equals(Buffer.from(stored!))).toBe(true);
    expect(after[1]).toBeUndefined(); // rolled back with the refused row
    // And appendLeaves detects a store that is ahead of or behind the caller's size.
    expect(
      await codeOf(
        driver.write((trx) => appendLeaves(new SqlTileStore(trx, driver.dialect), 9, leaves(9, 1))),
      ),
    ).toBe("LOG_INCONSISTENT");
    expect(
      await codeOf(
        driver.write((trx) => appendLeaves(new SqlTileStore(trx, driver.dialect), 11, leaves(11, 1))),
      ),
    ).toBe("LOG_INCONSISTENT");
  });
});
