/**
 * RFC 9162 §2.1 Merkle Hash Trees over SHA-256: leaf and node hashing, the Merkle Tree Hash of
 * an in-memory list of leaf hashes, proof generation from such a list, and proof verification.
 *
 * Verification follows the RFC's iterative algorithms (§2.1.3.2, §2.1.4.2) step by step and
 * throws VaultError PROOF_INVALID on any failure; it never returns a boolean that could be ignored.
 * Store-backed proof generation for large logs lives in tree.ts.
 */

import { createHash, hash as digest } from "node:crypto";
import { VaultError } from "../errors.js";
import { bytesEqual } from "./encoding.js";
import { consistencyRanges, inclusionRanges, largestPowerOfTwoBelow } from "./ranges.js";

export const HASH_SIZE = 32;

/** A 32-byte SHA-256 output. Treat as immutable. */
export type Hash = Uint8Array;

// RFC 9162 §2.1.1 domain separation: 0x00 before leaf data, 0x01 before a pair of child hashes.
const LEAF_PREFIX = new Uint8Array([0x00]);
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

/** MTH({d}) = SHA-256(0x00 || d). */
export function leafHash(data: Uint8Array): Hash {
  return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Hash, right: Hash): Hash {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new VaultError("INVALID_ARGUMENT", "node hash inputs must be 32 bytes each");
  }
  return hashChildren(left, right);
}

/** nodeHash without the length checks, for callers that validated already. */
export function hashChildren(left: Hash, right: Hash): Hash {
  // One reused input buffer and the one-shot digest: this is the hot loop of every proof.
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return digest("sha256", nodeInput, "buffer");
}

/** MTH({}) = SHA-256() (RFC 9162 §2.1.1). */
export function emptyRoot(): Hash {
  return createHash("sha256").digest();
}

export function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

/** The Merkle Tree Hash of the leaves whose hashes are given, in order. */
export function merkleRoot(leafHashes: readonly Hash[]): Hash {
  checkLeafHashes(leafHashes);
  return leafHashes.length === 0 ? emptyRoot() : mth(leafHashes, 0, leafHashes.length);
}

/** PATH(index, D[n]) for n = leafHashes.length (RFC 9162 §2.1.3.1). */
export function inclusionProofFromLeaves(leafHashes: readonly Hash[], index: number): Hash[] {
  checkLeafHashes(leafHashes);
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafHashes.length) {
    throw new VaultError("INVALID_ARGUMENT", "leaf index must lie inside the tree", {
      details: { index, size: leafHashes.length },
    });
  }
  return inclusionRanges(index, leafHashes.length).map((r) => mth(leafHashes, r.lo, r.hi));
}

/** PROOF(oldSize, D[n]) for n = leafHashes.length and 0 < oldSize <= n (RFC 9162 §2.1.4.1). */
export function consistencyProofFromLeaves(leafHashes: readonly Hash[], oldSize: number): Hash[] {
  checkLeafHashes(leafHashes);
  if (!Number.isSafeInteger(oldSize) || oldSize < 1 || oldSize > leafHashes.length) {
    throw new VaultError("INVALID_ARGUMENT", "old size must satisfy 0 < old size <= tree size", {
      details: { oldSize, size: leafHashes.length },
    });
  }
  return consistencyRanges(oldSize, leafHashes.length).map((r) => mth(leafHashes, r.lo, r.hi));
}

// RFC 9162 §2.1.1, literally: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
function mth(leaves: readonly Hash[], lo: number, hi: number): Hash {
  if (hi - lo === 1) return leaves[lo]!;
  const k = largestPowerOfTwoBelow(hi - lo);
  return hashChildren(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

function checkLeafHashes(leafHashes: readonly Hash[]): void {
  for (let i = 0; i < leafHashes.length; i++) {
    if (!isHash(leafHashes[i])) {
      throw new VaultError("INVALID_ARGUMENT", "leaf hashes must be 32-byte values", {
        details: { index: i },
      });
    }
  }
}

function invalid(reason: string, details: Record<string, string | number | boolean> = {}): VaultError {
  return new VaultError("PROOF_INVALID", `proof does not verify: ${reason}`, {
    details: { reason, ...details },
  });
}

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(`${name} is not a valid tree size or index`);
}

function checkProofHashes(proof: readonly Hash[]): void {
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) throw invalid("proof element is not a 32-byte hash", { element: i });
  }
}

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/**
 * RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its inclusion proof.
 * Throws PROOF_INVALID if index >= treeSize or the proof has the wrong number of elements.
 */
export function rootFromInclusionProof(
  leafHash: Hash,
  index: number,
  treeSize: number,
  proof: readonly Hash[],
): Hash {
  checkSize("index", index);
  checkSize("tree size", treeSize);
  if (index >= treeSize) throw invalid("leaf index is not below the tree size", { index, treeSize });
  if (!isHash(leafHash)) throw invalid("leaf hash is not a 32-byte hash");
  checkProofHashes(proof);

  let fn = index; // step 2
  let sn = treeSize - 1;
  let r = leafHash; // step 3
  for (const p of proof) {
    if (sn === 0) throw invalid("proof has more elements than the tree needs"); // step 4a
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r); // step 4b.i
      if (!isOdd(fn)) {
        // step 4b.ii: skip the levels where this node has no right sibling
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p); // step 4b, otherwise
    }
    fn = half(fn); // step 4c
    sn = half(sn);
  }
  if (sn !== 0) throw invalid("proof has fewer elements than the tree needs"); // step 5
  return r;
}

/** RFC 9162 §2.1.3.2: throws PROOF_INVALID unless the proof ties leafHash at index to root. */
export function verifyInclusion(
  leafHash: Hash,
  index: number,
  treeSize: number,
  proof: readonly Hash[],
  root: Hash,
): void {
  if (!isHash(root)) throw invalid("root is not a 32-byte hash");
  const computed = rootFromInclusionProof(leafHash, index, treeSize, proof);
  if (!bytesEqual(computed, root)) throw invalid("computed root does not match", { index, treeSize });
}

/**
 * RFC 9162 §2.1.4.2: throws PROOF_INVALID unless the tree of newSize with newRoot extends the
 * tree of oldSize with oldRoot.
 *
 * Beyond the RFC's 0 < first < second: equal sizes need an empty proof and equal roots, and an
 * old size of 0 is rejected (nothing about an empty tree can be proven; callers accept the
 * empty tree without a proof). This matches transparency-dev/merkle's test vectors.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): void {
  checkSize("old size", oldSize);
  checkSize("new size", newSize);
  if (!isHash(oldRoot) || !isHash(newRoot)) throw invalid("roots must be 32-byte hashes");
  checkProofHashes(proof);
  if (oldSize > newSize) throw invalid("old size exceeds new size", { oldSize, newSize });
  if (oldSize === 0) throw invalid("no consistency proof exists from the empty tree");
  if (oldSize === newSize) {
    if (proof.length !== 0) throw invalid("proof between equal sizes must be empty");
    if (!bytesEqual(oldRoot, newRoot)) throw invalid("roots of equal sizes differ", { oldSize });
    return;
  }
  if (proof.length === 0) throw invalid("proof is empty"); // step 1

  // step 2: the old root is itself a node of the new tree and is left out of the proof
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  let fn = oldSize - 1; // step 3
  let sn = newSize - 1;
  while (isOdd(fn)) {
    // step 4
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!; // step 5
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw invalid("proof has more elements than the trees need"); // step 6a
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr); // step 6b.i
      sr = hashChildren(c, sr);
      if (!isOdd(fn)) {
        // step 6b.ii
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c); // step 6b, otherwise
    }
    fn = half(fn); // step 6c
    sn = half(sn);
  }
  // step 7
  if (sn !== 0) throw invalid("proof has fewer elements than the trees need");
  if (!bytesEqual(fr, oldRoot)) throw invalid("proof does not reproduce the old root", { oldSize });
  if (!bytesEqual(sr, newRoot)) throw invalid("proof does not reproduce the new root", { newSize });
}
