import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import {
  consistencyProofFromLeaves,
  emptyRoot,
  inclusionProofFromLeaves,
  leafHash,
  merkleRoot,
  nodeHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "../../src/tlog/index.js";
import { fromHex, hex, hexList, randomLeaves, refMth, refPath, refProof } from "./reference.js";

/** Asserts that fn throws a VaultError with the given code. */
function expectCode(code: string, fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isVaultError(thrown), `expected VaultError ${code}, got ${String(thrown)}`).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}

// transparency-dev/merkle testonly/constants.go: leaf inputs, their tree roots by size, and
// node hashes (level, index) of the 8-leaf tree.
const LEAF_INPUTS = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
];
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const LEAF_HASHES = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
  "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
  "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
  "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
  "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
  "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];
// transparency-dev/merkle cmd/proofgen (RFC 6962 examples), indexes made 0-based.
const INCLUSION = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  { index: 2, size: 3, proof: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
  {
    index: 1,
    size: 5,
    proof: [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
];
const CONSISTENCY = [
  { m: 1, n: 1, proof: [] },
  {
    m: 1,
    n: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    m: 6,
    n: 8,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  {
    m: 2,
    n: 5,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  {
    m: 6,
    n: 7,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];

const leaves = LEAF_INPUTS.map((h) => leafHash(fromHex(h)));

describe("RFC 9162 hashing (transparency-dev/merkle known answers)", () => {
  it("hashes leaves with the 0x00 prefix", () => {
    expect(hexList(leaves)).toEqual(LEAF_HASHES);
  });

  it("hashes interior nodes with the 0x01 prefix", () => {
    expect(hex(nodeHash(leaves[0]!, leaves[1]!))).toBe(
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    );
    expectCode("INVALID_ARGUMENT", () => nodeHash(leaves[0]!, leaves[1]!.subarray(1)));
  });

  it("computes MTH for every size 0..8", () => {
    expect(hex(emptyRoot())).toBe(ROOTS[0]);
    for (let n = 0; n <= 8; n++) expect(hex(merkleRoot(leaves.slice(0, n))), `size ${n}`).toBe(ROOTS[n]);
  });

  it("generates the expected inclusion proofs", () => {
    for (const v of INCLUSION) {
      const proof = inclusionProofFromLeaves(leaves.slice(0, v.size), v.index);
      expect(hexList(proof), `${v.index}/${v.size}`).toEqual(v.proof);
      verifyInclusion(leaves[v.index]!, v.index, v.size, proof, fromHex(ROOTS[v.size]!));
    }
  });

  it("generates the expected consistency proofs", () => {
    for (const v of CONSISTENCY) {
      const proof = consistencyProofFromLeaves(leaves.slice(0, v.n), v.m);
      expect(hexList(proof), `${v.m}->${v.n}`).toEqual(v.proof);
      verifyConsistency(v.m, v.n, proof, fromHex(ROOTS[v.m]!), fromHex(ROOTS[v.n]!));
    }
  });
});

describe("in-memory generation matches the naive RFC reference", () => {
  const D = randomLeaves(70);
  it("MTH for sizes 0..70", () => {
    for (let n = 0; n <= 70; n++) expect(hex(merkleRoot(D.slice(0, n)))).toBe(hex(refMth(D.slice(0, n))));
  });
  it("PATH for every index of every size up to 40", () => {
    for (let n = 1; n <= 40; n++) {
      for (let i = 0; i < n; i++) {
        expect(hexList(inclusionProofFromLeaves(D.slice(0, n), i))).toEqual(
          hexList(refPath(i, D.slice(0, n))),
        );
      }
    }
  });
  it("PROOF for every pair of sizes up to 40", () => {
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m <= n; m++) {
        expect(hexList(consistencyProofFromLeaves(D.slice(0, n), m))).toEqual(
          hexList(refProof(m, D.slice(0, n))),
        );
      }
    }
  });
  it("rejects out-of-range generation requests", () => {
    expectCode("INVALID_ARGUMENT", () => inclusionProofFromLeaves(D.slice(0, 3), 3));
    expectCode("INVALID_ARGUMENT", () => inclusionProofFromLeaves([], 0));
    expectCode("INVALID_ARGUMENT", () => consistencyProofFromLeaves(D.slice(0, 3), 0));
    expectCode("INVALID_ARGUMENT", () => consistencyProofFromLeaves(D.slice(0, 3), 4));
    expectCode("INVALID_ARGUMENT", () => merkleRoot([D[0]!, D[1]!.subarray(0, 31)]));
  });
});

describe("inclusion verification edge cases", () => {
  const root8 = fromHex(ROOTS[8]!);
  const proof = INCLUSION[1]!.proof.map(fromHex);
  it("accepts the single-leaf tree with an empty proof", () => {
    verifyInclusion(leaves[0]!, 0, 1, [], leaves[0]!);
    expect(hex(rootFromInclusionProof(leaves[3]!, 0, 1, []))).toBe(hex(leaves[3]!));
  });
  it("rejects index >= size and empty trees", () => {
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 8, 8, proof, root8);
    });
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 0, [], emptyRoot());
    });
  });
  it("rejects malformed numbers", () => {
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expectCode("PROOF_INVALID", () => {
        verifyInclusion(leaves[0]!, bad, 8, proof, root8);
      });
      expectCode("PROOF_INVALID", () => {
        verifyInclusion(leaves[0]!, 0, bad, proof, root8);
      });
    }
  });
  it("rejects hashes of the wrong length", () => {
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!.subarray(1), 0, 8, proof, root8);
    });
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 8, proof, root8.subarray(1));
    });
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 8, [...proof.slice(0, 2), new Uint8Array(33)], root8);
    });
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 8, [...proof, new Uint8Array(0)], root8);
    });
  });
  it("rejects missing and extra elements", () => {
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 8, proof.slice(0, 2), root8);
    });
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 8, [...proof, proof[0]!], root8);
    });
    expectCode("PROOF_INVALID", () => {
      verifyInclusion(leaves[0]!, 0, 1, [leaves[1]!], leaves[0]!);
    });
  });
});

describe("consistency verification edge cases", () => {
  const r = ROOTS.map(fromHex);
  it("accepts equal sizes with equal roots and an empty proof only", () => {
    verifyConsistency(5, 5, [], r[5]!, r[5]!);
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(5, 5, [], r[5]!, r[6]!);
    });
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(5, 5, [r[1]!], r[5]!, r[5]!);
    });
  });
  it("rejects an old size of 0, old > new, and empty proofs between different sizes", () => {
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(0, 3, [], r[0]!, r[3]!);
    });
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(0, 0, [], r[0]!, r[0]!);
    });
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(4, 3, [], r[4]!, r[3]!);
    });
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(2, 4, [], r[2]!, r[4]!);
    });
  });
  it("rejects roots and elements of the wrong length", () => {
    const proof = CONSISTENCY[3]!.proof.map(fromHex);
    verifyConsistency(2, 5, proof, r[2]!, r[5]!);
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(2, 5, proof, r[2]!.subarray(1), r[5]!);
    });
    expectCode("PROOF_INVALID", () => {
      verifyConsistency(2, 5, [proof[0]!, new Uint8Array(31)], r[2]!, r[5]!);
    });
  });
});

// Property tests: random trees, every proof verifies against the independent reference root,
// and every mutation of it fails.

const treeAndIndex = fc
  .integer({ min: 1, max: 300 })
  .chain((n) => fc.record({ n: fc.constant(n), i: fc.integer({ min: 0, max: n - 1 }), seed: fc.integer() }));

function flipBit(proof: readonly Uint8Array[], which: number, bit: number): Uint8Array[] {
  return proof.map((p, j) => {
    if (j !== which) return p;
    const q = Uint8Array.from(p);
    q[bit >> 3]! ^= 1 << (bit & 7);
    return q;
  });
}

function fails(fn: () => void): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    return isVaultError(e, "PROOF_INVALID");
  }
}

describe("inclusion proofs on random trees", () => {
  test.prop([treeAndIndex, fc.nat(), fc.nat(), fc.nat()], { numRuns: 150 })(
    "verify, and every mutation fails",
    ({ n, i }, a, b, c) => {
      const D = randomLeaves(n + 3); // three extra leaves give other tree sizes to confuse it with
      const tree = D.slice(0, n);
      const root = refMth(tree);
      const proof = inclusionProofFromLeaves(tree, i);
      expect(hexList(proof)).toEqual(hexList(refPath(i, tree)));
      verifyInclusion(D[i]!, i, n, proof, root);

      const verify =
        (leaf: Uint8Array, idx: number, size: number, p: readonly Uint8Array[], r: Uint8Array) => () => {
          verifyInclusion(leaf, idx, size, p, r);
        };
      expect(fails(verify(D[n]!, i, n, proof, root)), "other leaf").toBe(true);
      expect(fails(verify(D[i]!, i, n, proof, refMth(D.slice(0, n + 1)))), "other root").toBe(true);
      if (proof.length > 0) {
        const k = a % proof.length;
        expect(fails(verify(D[i]!, i, n, flipBit(proof, k, b % 256), root)), "flipped bit").toBe(true);
        expect(fails(verify(D[i]!, i, n, proof.toSpliced(k, 1), root)), "dropped element").toBe(true);
        const k2 = b % proof.length;
        if (hex(proof[k]!) !== hex(proof[k2]!)) {
          const swapped = proof.map((p, j) => (j === k ? proof[k2]! : j === k2 ? proof[k]! : p));
          expect(fails(verify(D[i]!, i, n, swapped, root)), "reordered").toBe(true);
        }
      }
      const at = a % (proof.length + 1);
      expect(fails(verify(D[i]!, i, n, proof.toSpliced(at, 0, D[n + 1]!), root)), "added element").toBe(true);
      if (n > 1) {
        const j = (i + 1 + (c % (n - 1))) % n; // any other index
        expect(fails(verify(D[i]!, j, n, proof, root)), `index ${j}`).toBe(true);
      }
      // Another size, checked against that size's true root.
      const other = i + 1 + (c % (n + 3 - i));
      if (other !== n) {
        expect(fails(verify(D[i]!, i, other, proof, refMth(D.slice(0, other)))), `size ${other}`).toBe(true);
      }
    },
  );
});

const sizePair = fc
  .integer({ min: 2, max: 300 })
  .chain((n) => fc.record({ n: fc.constant(n), m: fc.integer({ min: 1, max: n - 1 }) }));

describe("consistency proofs on random trees", () => {
  test.prop([sizePair, fc.nat(), fc.nat(), fc.nat()], { numRuns: 150 })(
    "verify, and every mutation fails",
    ({ n, m }, a, b, c) => {
      const D = randomLeaves(n + 2);
      const oldRoot = refMth(D.slice(0, m));
      const newRoot = refMth(D.slice(0, n));
      const proof = consistencyProofFromLeaves(D.slice(0, n), m);
      expect(hexList(proof)).toEqual(hexList(refProof(m, D.slice(0, n))));
      verifyConsistency(m, n, proof, oldRoot, newRoot);

      const verify =
        (m2: number, n2: number, p: readonly Uint8Array[], r1: Uint8Array, r2: Uint8Array) => () => {
          verifyConsistency(m2, n2, p, r1, r2);
        };
      expect(fails(verify(m, n, proof, newRoot, newRoot)), "wrong old root").toBe(true);
      expect(fails(verify(m, n, proof, oldRoot, refMth(D.slice(0, n + 1)))), "wrong new root").toBe(true);
      const k = a % proof.length;
      expect(fails(verify(m, n, flipBit(proof, k, b % 256), oldRoot, newRoot)), "flipped bit").toBe(true);
      expect(fails(verify(m, n, proof.toSpliced(k, 1), oldRoot, newRoot)), "dropped element").toBe(true);
      const at = b % (proof.length + 1);
      expect(fails(verify(m, n, proof.toSpliced(at, 0, D[n + 1]!), oldRoot, newRoot)), "added element").toBe(
        true,
      );
      const k2 = c % proof.length;
      if (hex(proof[k]!) !== hex(proof[k2]!)) {
        const swapped = proof.map((p, j) => (j === k ? proof[k2]! : j === k2 ? proof[k]! : p));
        expect(fails(verify(m, n, swapped, oldRoot, newRoot)), "reordered").toBe(true);
      }
      // Other sizes, each with its own true root.
      const m2 = 1 + ((m + c) % n);
      if (m2 !== m) {
        expect(fails(verify(m2, n, proof, refMth(D.slice(0, m2)), newRoot)), `old size ${m2}`).toBe(true);
      }
      const n2 = m + 1 + (c % (n + 2 - m));
      if (n2 !== n) {
        expect(fails(verify(m, n2, proof, oldRoot, refMth(D.slice(0, n2)))), `new size ${n2}`).toBe(true);
      }
    },
  );
});
