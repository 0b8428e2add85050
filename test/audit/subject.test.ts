/** The per-subject view: every event about a contractor, verified client-side (subject-view.ts). */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseLeaf, subjectCommitment } from "../../src/audit/leaf.js";
import { verifySubjectBundle, type SubjectBundle } from "../../src/audit/subject-view.js";
import { fromBase64 } from "../../src/crypto/bytes.js";
import {
  SIGNATURE_TYPE_ED25519,
  ed25519NoteSigner,
  parseCheckpoint,
  parseNote,
  signCheckpoint,
  verifierKeyString,
} from "../../src/tlog/index.js";
import { ed25519PrivateKey, ed25519RawPublicKey } from "../../src/crypto/ed25519.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";
import { cliEnv, codeOfSync } from "./helpers.js";

describe.each(BACKENDS)("per-subject log view ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let env: NodeJS.ProcessEnv;
  let a: string;
  let b: string;
  let keys: string[];
  beforeEach(async () => {
    sb = sandbox(backend);
    v = await sb.init();
    env = cliEnv(sb);
    a = (await v.subjects.add({ ref: "ana" })).id;
    b = (await v.subjects.add({ ref: "bo" })).id;
    const blob = await v.blobs.put({ subjectId: a, kind: "raw", data: [Buffer.from("ana's voice")] });
    await v.blobs.put({ subjectId: b, kind: "raw", data: [Buffer.from("bo's voice")] });
    await v.blobs.read(blob.id);
    await v.subjects.revealRef(a);
    keys = (await v.log.keys()).map((k) => k.vkey);
  });
  afterEach(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("gives every event about the subject, each proven, and nothing about others", async () => {
    const bundle = await v.log.subject(a);
    const r = verifySubjectBundle(bundle, keys);
    expect(r.events.map((e) => e.type)).toEqual([
      "subject.created",
      "blob.written",
      "blob.read",
      "subject.reference_revealed",
    ]);
    expect(r.events.every((e) => e.payload.subjectId === a)).toBe(true);
    expect(r.checkpoint.size).toBe(7);
    // With the subject key the contractor can scan the whole log and finds exactly these leaves:
    // the vault cannot leave one out without it showing.
    const skey = fromBase64(bundle.subjectKey);
    const mine: number[] = [];
    for (let n = 0; n < r.checkpoint.size; n++) {
      const leaf = parseLeaf(await v.log.leaf(n));
      if (leaf.subject && Buffer.from(leaf.subject).equals(Buffer.from(subjectCommitment(skey, leaf.id))))
        mine.push(n);
    }
    expect(mine).toEqual(bundle.events.map((e) => e.index));
    const other = await v.log.subject(b);
    expect(other.subjectKey).not.toBe(bundle.subjectKey);
    expect(other.events).toHaveLength(2);
    expect(await codeOf(v.log.subject("sub_0000000000000000000000000a"))).toBe("SUBJECT_NOT_FOUND");
    expect(await codeOf(v.log.subject("bo"))).toBe("INVALID_ARGUMENT");
    // A shredded subject's history stays provable, ending with the shred.
    await v.shredding.request(b);
    const shredded = verifySubjectBundle(await v.log.subject(b), keys);
    expect(shredded.events.map((e) => e.type)).toEqual([
      "subject.created",
      "blob.written",
      "subject.shredded",
    ]);
  });

  it("links to the checkpoint seen last time with a consistency proof", async () => {
    const first = await v.log.subject(a);
    await v.blobs.put({ subjectId: a, kind: "raw", data: [Buffer.from("more")] });
    const second = await v.log.subject(a, { since: first.checkpoint });
    const r = verifySubjectBundle(second, keys, first.checkpoint);
    expect(r.consistentWith).toBe(7);
    expect(r.events).toHaveLength(5);
    // A "previous" checkpoint not signed by the log is refused; a doctored proof does not verify.
    const origin = await v.log.origin();
    const prev = parseCheckpoint(parseNote(first.checkpoint).text);
    expect(
      await codeOf(async () =>
        verifySubjectBundle(second, keys, await forgeWithVaultKey(v, origin, prev.size)),
      ),
    ).toBe("CHECKPOINT_INVALID");
    const doctored = structuredClone(second);
    const h = Buffer.from(doctored.consistency!.proof[0]!, "base64");
    h[0] = h[0]! ^ 1;
    doctored.consistency!.proof[0] = h.toString("base64");
    expect(codeOfSync(() => verifySubjectBundle(doctored, keys, first.checkpoint))).toBe("PROOF_INVALID");
    const missing: SubjectBundle = { ...second };
    delete (missing as { consistency?: unknown }).consistency;
    expect(codeOfSync(() => verifySubjectBundle(missing, keys, first.checkpoint))).toBe("PROOF_INVALID");
  });

  it("rejects a doctored bundle", async () => {
    const bundle = await v.log.subject(a);
    const bOnes = await v.log.subject(b);
    const edits: [string, (x: SubjectBundle) => SubjectBundle, string][] = [
      [
        "changed record",
        (x) => ({
          ...x,
          events: x.events.map((e, i) =>
            i === 1 ? { ...e, record: e.record.replace('"kind":"raw"', '"kind":"pcm"') } : e,
          ),
        }),
        "PROOF_INVALID",
      ],
      ["another subject's key", (x) => ({ ...x, subjectKey: bOnes.subjectKey }), "PROOF_INVALID"],
      [
        "another subject's event",
        (x) => ({ ...x, events: [...x.events, bOnes.events[0]!] }),
        "PROOF_INVALID",
      ],
      [
        "proof for another tree size",
        (x) => ({
          ...x,
          events: x.events.map((e, i) => (i === 0 ? { ...e, inclusion: e.inclusion.slice(1) } : e)),
        }),
        "PROOF_INVALID",
      ],
      [
        "leaf index shifted",
        (x) => ({ ...x, events: x.events.map((e, i) => (i === 2 ? { ...e, index: e.index + 1 } : e)) }),
        "PROOF_INVALID",
      ],
      [
        "opening of another event",
        (x) => ({
          ...x,
          events: x.events.map((e, i) => (i === 0 ? { ...e, opening: x.events[1]!.opening } : e)),
        }),
        "PROOF_INVALID",
      ],
      [
        "checkpoint by another key",
        (x) => ({
          ...x,
          checkpoint: x.checkpoint.replace(
            /\u2014 (\S+) (\S+)\n$/,
            (_m, n: string) => `\u2014 ${n} ${Buffer.alloc(68, 1).toString("base64")}\n`,
          ),
        }),
        "CHECKPOINT_INVALID",
      ],
    ];
    for (const [what, edit, code] of edits) {
      expect(
        codeOfSync(() => verifySubjectBundle(edit(structuredClone(bundle)), keys)),
        what,
      ).toBe(code);
    }
    expect(verifySubjectBundle(bundle, keys).events).toHaveLength(4);
  });

  it("audit subject ID --verify, with --save-checkpoint and --since-checkpoint", async () => {
    const saved = path.join(sb.root, "seen.checkpoint");
    const r1 = await cli(["audit", "subject", a, "--verify", "--save-checkpoint", saved], env);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/OK: 4 events about sub_\w+, each included in checkpoint 7\n$/);
    await v.subjects.findByRef("ana");
    const r2 = await cli(["audit", "subject", a, "--verify", "--since-checkpoint", saved, "--json"], env);
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ verified: true, checkpointSize: 8, consistentWith: 7 });
    const bundle = JSON.parse((await cli(["audit", "subject", a, "--json"], env)).stdout) as SubjectBundle;
    expect(bundle.events).toHaveLength(5);
    const wrongKey = "voxvault.local/x+00000000+AQ" + "A".repeat(42);
    const r3 = await cli(["audit", "subject", a, "--verify", "--log-key", wrongKey], env);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/^error\[INVALID_ARGUMENT\]/); // a malformed key is refused as such
    const otherKey = verifierKeyString(
      await v.log.origin(),
      SIGNATURE_TYPE_ED25519,
      ed25519RawPublicKey(ed25519PrivateKey(new Uint8Array(32).fill(6))),
    );
    expect((await cli(["audit", "subject", a, "--verify", "--log-key", otherKey], env)).stderr).toMatch(
      /^error\[CHECKPOINT_INVALID\]: checkpoint note rejected: note has no signature by a known key/,
    );
    writeFileSync(saved, readFileSync(saved, "utf8").replace(/\n(\d+)\n/, "\n1$1\n"));
    const r4 = await cli(["audit", "subject", a, "--verify", "--since-checkpoint", saved], env);
    expect(r4.code).toBe(1);
  });
});

/** A checkpoint of `size` with a zero root, signed by a key that is not the log's. */
async function forgeWithVaultKey(_v: Vault, origin: string, size: number): Promise<string> {
  return signCheckpoint({ origin, size, rootHash: new Uint8Array(32), extensions: [] }, [
    ed25519NoteSigner(origin, new Uint8Array(32).fill(5)),
  ]);
}
