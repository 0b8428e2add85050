/**
 * An outside verifier, written from RFC 9162 and the C2SP specs alone (node:crypto only, nothing
 * from src/tlog), checks what the CLI publishes: `audit key`, `audit checkpoint`,
 * `audit leaf N --json`, `audit proof --index N [--size S] --json`,
 * `audit consistency --from A --to B --json`.
 */
import { createHash, createPublicKey, verify as edVerify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { cli, spawnCli } from "../support/cli.js";
import { cliEnv } from "./helpers.js";

// --- RFC 9162 §2.1 ----------------------------------------------------------------------------
const sha256 = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
const hashLeaf = (d: Buffer) => sha256(Buffer.from([0]), d);
const hashChildren = (l: Buffer, r: Buffer) => sha256(Buffer.from([1]), l, r);

/** §2.1.3.2: verifying an inclusion proof. */
function verifyInclusion(
  leafIndex: number,
  treeSize: number,
  leaf: Buffer,
  path: Buffer[],
  root: Buffer,
): boolean {
  if (leafIndex >= treeSize) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = hashLeaf(leaf);
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        do {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        } while (fn % 2 === 0 && fn !== 0);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** §2.1.4.2: verifying a consistency proof. */
function verifyConsistency(
  first: number,
  second: number,
  firstHash: Buffer,
  secondHash: Buffer,
  proof: Buffer[],
): boolean {
  if (first === second) return proof.length === 0 && firstHash.equals(secondHash);
  if (first === 0 || first > second) return false;
  let path = proof;
  if ((first & (first - 1)) === 0) path = [firstHash, ...proof]; // first is an exact power of 2
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        do {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        } while (fn % 2 === 0 && fn !== 0);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(firstHash) && sr.equals(secondHash) && sn === 0;
}

// --- C2SP signed-note, tlog-checkpoint ----------------------------------------------------------
interface Vkey {
  name: string;
  id: Buffer;
  publicKey: Buffer;
}

function parseVkey(vkey: string): Vkey {
  // <name>+<hex id>+<base64>: the base64 may itself contain "+", so split at the first two only.
  const a = vkey.indexOf("+");
  const b = vkey.indexOf("+", a + 1);
  const [name, idHex, b64] = [vkey.slice(0, a), vkey.slice(a + 1, b), vkey.slice(b + 1)];
  if (a < 1 || b < 0 || !/^[0-9a-f]{8}$/.test(idHex)) throw new Error("vkey shape");
  const material = Buffer.from(b64, "base64");
  if (material.toString("base64") !== b64 || material.length !== 33 || material[0] !== 0x01)
    throw new Error("vkey key");
  const publicKey = material.subarray(1);
  // Key ID = SHA-256(name || 0x0A || type || public key)[:4]
  const id = sha256(Buffer.from(name, "utf8"), Buffer.from([0x0a, 0x01]), publicKey).subarray(0, 4);
  if (id.toString("hex") !== idHex) throw new Error("vkey id");
  return { name, id, publicKey };
}

const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** Returns the note text if some signature line is a valid Ed25519 signature by `key`. */
function openNote(note: string, key: Vkey): string {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new Error("note shape");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  const pub = createPublicKey({
    key: Buffer.concat([SPKI_ED25519, key.publicKey]),
    format: "der",
    type: "spki",
  });
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new Error("signature line shape");
    const sig = Buffer.from(m[2]!, "base64");
    if (m[1] !== key.name || !sig.subarray(0, 4).equals(key.id)) continue;
    if (edVerify(null, Buffer.from(text, "utf8"), pub, sig.subarray(4))) return text;
    throw new Error("bad signature by the log key");
  }
  throw new Error("no signature by the log key");
}

function parseCheckpoint(text: string): { origin: string; size: number; root: Buffer } {
  const lines = text.slice(0, -1).split("\n");
  const [origin, size, root] = lines;
  if (!origin || !size || !/^(0|[1-9][0-9]*)$/.test(size) || !root) throw new Error("checkpoint shape");
  const r = Buffer.from(root, "base64");
  if (r.length !== 32) throw new Error("root");
  return { origin, size: Number(size), root: r };
}

describe.each(BACKENDS)("an independent verifier ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let env: NodeJS.ProcessEnv;
  const run = async (...args: string[]) => {
    const r = await cli(args, env);
    if (r.code !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const earlier: { size: number; note: string }[] = [];

  beforeAll(async () => {
    sb = sandbox(backend);
    v = await sb.init();
    env = cliEnv(sb);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3 + round * 4; i++) {
        const s = await v.subjects.add({ ref: `r${round}-${i}` });
        await v.blobs.put({ subjectId: s.id, kind: "raw", data: [Buffer.from("x")] });
      }
      const note = await run("audit", "checkpoint");
      earlier.push({ size: parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1)).size, note });
    }
  });
  afterAll(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("checks the key, every leaf's inclusion, and consistency between every pair of checkpoints", async () => {
    const vkey = (await run("audit", "key")).trim();
    const key = parseVkey(vkey);
    const note = await run("audit", "checkpoint");
    // The built binary prints the same bytes.
    const spawned = await spawnCli(["audit", "checkpoint", "--no-refresh"], env);
    expect(spawned.stdout).toBe(note);
    const cp = parseCheckpoint(openNote(note, key));
    expect(cp.origin).toBe(key.name);
    expect(cp.size).toBe(earlier[earlier.length - 1]!.size);

    for (let n = 0; n < cp.size; n++) {
      const leaf = JSON.parse(await run("audit", "leaf", String(n), "--json")) as {
        index: number;
        data: string;
      };
      const proof = JSON.parse(await run("audit", "proof", "--index", String(n), "--json")) as {
        index: number;
        treeSize: number;
        inclusion: string[];
      };
      expect([leaf.index, proof.index, proof.treeSize]).toEqual([n, n, cp.size]);
      const data = Buffer.from(leaf.data, "base64");
      const entry = JSON.parse(data.toString("utf8")) as { format: string; id: string; type: string };
      expect(entry.format).toBe("voxvault/audit-leaf/v1");
      expect(
        verifyInclusion(
          n,
          cp.size,
          data,
          proof.inclusion.map((h) => Buffer.from(h, "base64")),
          cp.root,
        ),
      ).toBe(true);
      // A changed leaf or the proof against another tree's root fails.
      const changed = Buffer.from(data);
      changed[changed.length - 3] = changed[changed.length - 3]! ^ 1;
      expect(
        verifyInclusion(
          n,
          cp.size,
          changed,
          proof.inclusion.map((h) => Buffer.from(h, "base64")),
          cp.root,
        ),
      ).toBe(false);
    }

    for (const [i, a] of earlier.entries()) {
      const older = parseCheckpoint(openNote(a.note, key));
      // Proofs at an older size verify against the older checkpoint, not the newer one.
      const p = JSON.parse(
        await run("audit", "proof", "--index", "0", "--size", String(older.size), "--json"),
      ) as { inclusion: string[] };
      const leaf0 = Buffer.from(
        (JSON.parse(await run("audit", "leaf", "0", "--json")) as { data: string }).data,
        "base64",
      );
      const path = p.inclusion.map((h) => Buffer.from(h, "base64"));
      expect(verifyInclusion(0, older.size, leaf0, path, older.root)).toBe(true);
      if (older.size !== cp.size) expect(verifyInclusion(0, cp.size, leaf0, path, cp.root)).toBe(false);
      for (const b of earlier.slice(i)) {
        const newer = parseCheckpoint(openNote(b.note, key));
        const c = JSON.parse(
          await run(
            "audit",
            "consistency",
            "--from",
            String(older.size),
            "--to",
            String(newer.size),
            "--json",
          ),
        ) as {
          from: number;
          to: number;
          consistency: string[];
        };
        expect([c.from, c.to]).toEqual([older.size, newer.size]);
        const proof = c.consistency.map((h) => Buffer.from(h, "base64"));
        expect(verifyConsistency(older.size, newer.size, older.root, newer.root, proof)).toBe(true);
        if (older.size !== newer.size) {
          expect(
            verifyConsistency(
              older.size,
              newer.size,
              older.root,
              cp.root.equals(newer.root) ? Buffer.alloc(32) : cp.root,
              proof,
            ),
          ).toBe(false);
        }
      }
    }
    // A note whose signature was tampered with is rejected.
    const sigAt = note.lastIndexOf(" ") + 5;
    const tampered = note.slice(0, sigAt) + (note[sigAt] === "A" ? "B" : "A") + note.slice(sigAt + 1);
    expect(() => openNote(tampered, key)).toThrow();
  }, 120_000);
});
