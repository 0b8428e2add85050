/**
 * transparency-dev/merkle testdata/{inclusion,consistency}: 196 verification probes (happy paths
 * and systematic corruptions), bundled in fixtures/transparency-dev-merkle.json.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import { verifyConsistency, verifyInclusion } from "../../src/tlog/index.js";

interface InclusionProbe {
  file: string;
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  wantErr: boolean;
}
interface ConsistencyProbe {
  file: string;
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  wantErr: boolean;
}
interface Fixture {
  inclusion: InclusionProbe[];
  consistency: ConsistencyProbe[];
}

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/transparency-dev-merkle.json", import.meta.url), "utf8"),
) as Fixture;
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

function outcome(fn: () => void): "ok" | "rejected" {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (isVaultError(e, "PROOF_INVALID")) return "rejected";
    throw e;
  }
}

/**
 * One deliberate difference: transparency-dev accepts equal-size "proofs" whose two roots are
 * equal but not 32 bytes long ("ZG9uJ3QgY2FyZSAy"); this implementation rejects any root that is
 * not a SHA-256 output.
 */
function expected(wantErr: boolean, hashes: readonly string[]): "ok" | "rejected" {
  return wantErr || hashes.some((h) => b64(h).length !== 32) ? "rejected" : "ok";
}

describe("transparency-dev/merkle inclusion probes", () => {
  it("bundles the full set", () => {
    expect(fixture.inclusion.length).toBe(98);
    expect(fixture.inclusion.filter((p) => !p.wantErr).length).toBeGreaterThan(5);
  });
  for (const p of fixture.inclusion) {
    it(p.file, () => {
      const proof = (p.proof ?? []).map(b64);
      const got = outcome(() => {
        verifyInclusion(b64(p.leafHash), p.leafIdx, p.treeSize, proof, b64(p.root));
      });
      expect(got).toBe(expected(p.wantErr, [p.leafHash, p.root]));
    });
  }
});

describe("transparency-dev/merkle consistency probes", () => {
  it("bundles the full set", () => {
    expect(fixture.consistency.length).toBe(98);
  });
  for (const p of fixture.consistency) {
    it(p.file, () => {
      const proof = (p.proof ?? []).map(b64);
      const got = outcome(() => {
        verifyConsistency(p.size1, p.size2, proof, b64(p.root1), b64(p.root2));
      });
      expect(got).toBe(expected(p.wantErr, [p.root1, p.root2]));
    });
  }
});
