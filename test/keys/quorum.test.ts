import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VaultError } from "../../src/errors.js";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { combineShares, newQuorum, parseShare, type ParsedShare } from "../../src/keys/quorum.js";

const VAULT = "vlt_0123456789abcdefghjkmnpqrs";
const OFFICERS = ["alice", "bob", "carol", "dave", "erin"];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof VaultError ? e.code : `not a VaultError: ${String(e)}`;
  }
  return undefined;
}

async function codeOfAsync(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof VaultError ? e.code : `not a VaultError: ${String(e)}`;
  }
  return undefined;
}

describe("quorum shares", () => {
  it("any threshold of distinct officers gives the seal key; fewer are refused, never guessed", () => {
    const q = newQuorum(VAULT, 3, OFFICERS);
    const shares = OFFICERS.map((o) => parseShare(q.shares.get(o)!));
    fc.assert(
      fc.property(fc.shuffledSubarray(shares, { minLength: 1, maxLength: 5 }), (subset) => {
        if (subset.length >= 3) expect(combineShares(q.quorum, VAULT, subset)).toEqual(q.sealKey);
        else expect(codeOf(() => combineShares(q.quorum, VAULT, subset))).toBe("UNSEAL_QUORUM_SHORT");
      }),
    );
    // the same officer's share twice counts once
    expect(codeOf(() => combineShares(q.quorum, VAULT, [shares[0]!, shares[0]!, shares[1]!]))).toBe(
      "UNSEAL_QUORUM_SHORT",
    );
  });

  it("refuses an altered share, naming whose it claims to be, and shares of another vault or set", () => {
    const q = newQuorum(VAULT, 2, OFFICERS.slice(0, 3));
    const bob = parseShare(q.shares.get("bob")!);
    const y = bob.y.slice();
    y[5]! ^= 0x01;
    const altered: ParsedShare = { ...bob, y };
    expect(() => combineShares(q.quorum, VAULT, [altered, parseShare(q.shares.get("alice")!)])).toThrow(
      /bob's share does not match its commitment/,
    );
    const other = newQuorum(VAULT, 2, OFFICERS.slice(0, 3));
    expect(() => combineShares(q.quorum, VAULT, [parseShare(other.shares.get("bob")!)])).toThrow(
      /was replaced/,
    );
    expect(() => combineShares(q.quorum, "vlt_other", [parseShare(q.shares.get("bob")!)])).toThrow(
      /another vault/,
    );
    // a share relabelled to another officer
    expect(() => combineShares(q.quorum, VAULT, [{ ...bob, officer: "carol" }])).toThrow(/not carol's/);
  });

  it("a quorum whose threshold was lowered in the file does not combine to a usable key", () => {
    const q = newQuorum(VAULT, 3, OFFICERS);
    const lowered = { ...q.quorum, threshold: 2 };
    const two = ["alice", "bob"].map((o) => parseShare(q.shares.get(o)!));
    expect(codeOf(() => combineShares(lowered, VAULT, two))).toBe("ROOT_KEY_INVALID");
  });

  it("parses shares strictly: round trip, and any other text is UNSEAL_SHARE_INVALID", () => {
    const q = newQuorum(VAULT, 2, ["a", "b"]);
    const text = q.shares.get("a")!;
    expect(parseShare(`  ${text}\n`)).toEqual(parseShare(text));
    fc.assert(
      fc.property(fc.string(), fc.nat(text.length), (junk, at) => {
        const mutated = text.slice(0, at) + junk + text.slice(at + 1);
        try {
          const s = parseShare(mutated);
          // whatever parses must be a well-formed share
          expect(s.y.length).toBe(32);
        } catch (e) {
          expect(e).toBeInstanceOf(VaultError);
          expect((e as VaultError).code).toBe("UNSEAL_SHARE_INVALID");
        }
      }),
    );
    expect(codeOf(() => parseShare(text.replace(/ \d+ a /, " 0 a ")))).toBe("UNSEAL_SHARE_INVALID");
    expect(codeOf(() => parseShare(text.trim().slice(0, -1)))).toBe("UNSEAL_SHARE_INVALID");
  });

  it("refuses quorums that are not one: one officer, threshold 1, names twice", () => {
    expect(codeOf(() => newQuorum(VAULT, 1, ["a", "b"]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => newQuorum(VAULT, 2, ["a"]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => newQuorum(VAULT, 3, ["a", "b"]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => newQuorum(VAULT, 2, ["a", "a"]))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => newQuorum(VAULT, 2, ["a", "b c"]))).toBe("INVALID_ARGUMENT");
  });
});

describe("a quorum-sealed key file", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vv-quorum-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens only with a quorum; reshare makes the old shares open nothing", async () => {
    const file = path.join(dir, "keys", "k.json");
    const q = newQuorum(VAULT, 2, ["alice", "bob", "carol"]);
    const p = await FileKeyProvider.create({ file, vaultId: VAULT, generations: [1], quorum: q });
    const wrapped = await p.wrap(1, 7, new Uint8Array(32).fill(9), new Uint8Array(0));
    await p.close();
    const onDisk = await readFile(file, "utf8");
    expect(onDisk).not.toContain(q.shares.get("alice")!.split(" ")[5]!);
    expect(JSON.parse(onDisk)).toMatchObject({ kind: "quorum", quorum: { threshold: 2 } });

    expect(await codeOfAsync(FileKeyProvider.open({ file, vaultId: VAULT }))).toBe("VAULT_SEALED");
    const one = [parseShare(q.shares.get("bob")!)];
    expect(await codeOfAsync(FileKeyProvider.open({ file, vaultId: VAULT, shares: one }))).toBe(
      "UNSEAL_QUORUM_SHORT",
    );
    expect(
      await codeOfAsync(
        FileKeyProvider.open({ file, vaultId: VAULT, passphrase: "a passphrase long enough" }),
      ),
    ).toBe("CONFIG_INVALID");

    const old = ["alice", "carol"].map((o) => parseShare(q.shares.get(o)!));
    const opened = await FileKeyProvider.open({ file, vaultId: VAULT, shares: old });
    expect(await opened.unwrap(1, 7, wrapped, new Uint8Array(0))).toEqual(new Uint8Array(32).fill(9));
    expect(opened.sealing.describe()).toMatchObject({ kind: "quorum", quorum: { threshold: 2 } });

    const newShares = await opened.sealing.reshare(3, ["alice", "bob", "carol", "dave"]);
    // the running provider keeps working (it re-reads the file it re-sealed)
    await opened.refresh();
    expect(await opened.unwrap(1, 7, wrapped, new Uint8Array(0))).toEqual(new Uint8Array(32).fill(9));
    await opened.close();

    expect(await codeOfAsync(FileKeyProvider.open({ file, vaultId: VAULT, shares: old }))).toBe(
      "UNSEAL_SHARE_INVALID",
    );
    const fresh = ["bob", "carol", "dave"].map((o) => parseShare(newShares.get(o)!));
    const again = await FileKeyProvider.open({ file, vaultId: VAULT, shares: fresh });
    expect(await again.unwrap(1, 7, wrapped, new Uint8Array(0))).toEqual(new Uint8Array(32).fill(9));
    await again.close();
  });

  it("an altered quorum or sealed content is refused, never opened with a wrong key", async () => {
    const file = path.join(dir, "keys", "k.json");
    const q = newQuorum(VAULT, 2, ["alice", "bob", "carol"]);
    await (await FileKeyProvider.create({ file, vaultId: VAULT, generations: [1], quorum: q })).close();
    const shares = ["alice", "bob"].map((o) => parseShare(q.shares.get(o)!));
    const original = JSON.parse(await readFile(file, "utf8")) as {
      quorum: { createdAt: string };
      sealed: string;
    };
    // a changed (bound) quorum field
    await writeFile(file, JSON.stringify({ ...original, quorum: { ...original.quorum, createdAt: "x" } }), {
      mode: 0o600,
    });
    expect(await codeOfAsync(FileKeyProvider.open({ file, vaultId: VAULT, shares }))).toBe(
      "ROOT_KEY_INVALID",
    );
    // a flipped ciphertext byte
    const sealed = Buffer.from(original.sealed, "base64");
    sealed[40]! ^= 1;
    await writeFile(file, JSON.stringify({ ...original, sealed: sealed.toString("base64") }), {
      mode: 0o600,
    });
    expect(await codeOfAsync(FileKeyProvider.open({ file, vaultId: VAULT, shares }))).toBe(
      "ROOT_KEY_INVALID",
    );
  });

  it("a plain key file can be put under a quorum; its plaintext copy is gone", async () => {
    const file = path.join(dir, "keys", "k.json");
    const p = await FileKeyProvider.create({ file, vaultId: VAULT, generations: [1] });
    const plainKey = (
      JSON.parse(await readFile(file, "utf8")) as { content: { generations: { key: string }[] } }
    ).content.generations[0]!.key;
    const shares = await p.sealing.reshare(2, ["alice", "bob"]);
    await p.close();
    const now = await readFile(file, "utf8");
    expect(now).not.toContain(plainKey);
    expect(await codeOfAsync(FileKeyProvider.open({ file, vaultId: VAULT }))).toBe("VAULT_SEALED");
    const opened = await FileKeyProvider.open({
      file,
      vaultId: VAULT,
      shares: [...shares.values()].map(parseShare),
    });
    expect(await opened.generations()).toEqual([1]);
    await opened.close();
  });
});
