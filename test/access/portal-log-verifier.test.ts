/**
 * The portal's log verifier (web/portal/log/, Web Crypto) against the library's
 * (src/audit/subject-view.ts, node:crypto): Merkle proofs of random trees made by src/tlog, and real
 * subject bundles from a vault, untouched and with one thing broken at a time. Both must accept
 * the same bundles and refuse the same ones.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentTextHash } from "../../src/access/consent-texts.js";
// Through the public entry: what a contractor's own tooling would import.
import { verifySubjectBundle, type SubjectBundle } from "../../src/index.js";
import type { Vault } from "../../src/platform/vault.js";
import {
  consistencyProofFromLeaves,
  inclusionProofFromLeaves,
  leafHash as nodeLeafHash,
  merkleRoot,
} from "../../src/tlog/merkle.js";
import { SIGNATURE_TYPE_ED25519, verifierKeyString } from "../../src/tlog/index.js";
import { verifyBundle } from "../../web/portal/log/bundle.js";
import { ProofError } from "../../web/portal/log/bytes.js";
import { verifyConsistency, verifyInclusion } from "../../web/portal/log/merkle.js";
import { parseVkey } from "../../web/portal/log/note.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";

/** A log vkey (type 0x01) as src/tlog writes it. */
function ed25519VerifierKey(name: string, key: KeyObject): string {
  const raw = Buffer.from(createPublicKey(key).export({ format: "jwk" }).x!, "base64url");
  return verifierKeyString(name, SIGNATURE_TYPE_ED25519, raw);
}

describe("the portal's Merkle proofs", () => {
  it("accept what src/tlog proves and refuse a flipped hash or a wrong index", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 70 })
          .chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1), fc.integer({ min: 1, max: n }))),
        async ([n, index, old]) => {
          const leaves = Array.from({ length: n }, (_, i) => nodeLeafHash(Uint8Array.of(i, n)));
          const root = merkleRoot(leaves);
          const path = inclusionProofFromLeaves(leaves, index);
          await verifyInclusion(leaves[index]!, index, n, path, root);
          if (path.length > 0) {
            const bad = path.map((h, i) =>
              i === 0 ? Uint8Array.from(h, (b, j) => (j === 0 ? b ^ 1 : b)) : h,
            );
            await expect(verifyInclusion(leaves[index]!, index, n, bad, root)).rejects.toThrow(ProofError);
          }
          if (n > 1)
            await expect(verifyInclusion(leaves[index]!, (index + 1) % n, n, path, root)).rejects.toThrow(
              ProofError,
            );
          const oldRoot = merkleRoot(leaves.slice(0, old));
          const proof = consistencyProofFromLeaves(leaves, old);
          await verifyConsistency(old, n, proof, oldRoot, root);
          if (old < n) {
            const other = merkleRoot([nodeLeafHash(Uint8Array.of(255)), ...leaves.slice(1, old)]);
            await expect(verifyConsistency(old, n, proof, other, root)).rejects.toThrow(ProofError);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("the portal's verifier keys", () => {
  it("read vkeys whose base64 holds '+' (only the first two '+' separate fields)", async () => {
    let plus = 0;
    for (let i = 0; i < 40; i++) {
      const { privateKey } = generateKeyPairSync("ed25519");
      const vkey = ed25519VerifierKey(`log.example/${i}`, privateKey);
      if (vkey.split("+").length > 3) plus++;
      const parsed = await parseVkey(vkey);
      expect(parsed.name).toBe(`log.example/${i}`);
    }
    expect(plus).toBeGreaterThan(0); // the case that matters was met
    await expect(parseVkey("name+1234567+AQ==")).rejects.toThrow(ProofError);
  });
});

describe.each(BACKENDS)("the portal's log verifier on real bundles ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let subjectId: string;
  let vkeys: string[];
  beforeAll(async () => {
    sb = sandbox(backend);
    v = await sb.init();
    const s = await v.subjects.add({ ref: "log@example.org" });
    subjectId = s.id;
    const text = "Quality metrics of my recordings.";
    await v.access.consentTexts.publish("quality-review", { en: text });
    await v.access.consents.grant(s.id, "quality-review", consentTextHash(text));
    await v.access.consents.revoke(s.id, "quality-review");
    await v.subjects.add({ ref: "someone-else@example.org" });
    vkeys = (await v.log.keys()).map((k) => k.vkey);
  });
  afterAll(async () => {
    await v.close();
    await sb.cleanup();
  });

  const web = async (bundle: SubjectBundle, previous?: string, keys = vkeys) =>
    verifyBundle(bundle, await Promise.all(keys.map(parseVkey)), [], previous);

  /** Both verifiers' verdicts: "ok" or "refused". */
  async function verdicts(bundle: SubjectBundle, previous?: string): Promise<[string, string]> {
    let node = "ok";
    try {
      verifySubjectBundle(bundle, vkeys, previous);
    } catch {
      node = "refused";
    }
    const w = await web(bundle, previous).then(
      () => "ok",
      () => "refused",
    );
    return [node, w];
  }

  it("accepts an untouched bundle with the same events as the library's verifier", async () => {
    const bundle = await v.log.subject(subjectId);
    const mine = await web(bundle);
    const lib = verifySubjectBundle(bundle, vkeys);
    expect(mine.events.map((e) => [e.index, e.id, e.type])).toEqual(
      lib.events.map((e) => [e.index, e.id, e.type]),
    );
    expect(mine.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["subject.created", "consent.granted", "consent.revoked"]),
    );
    expect(mine.checkpoint.size).toBe(lib.checkpoint.size);
  });

  it("refuses exactly what the library refuses", async () => {
    const bundle = await v.log.subject(subjectId);
    const e0 = bundle.events[0]!;
    const e1 = bundle.events[1]!;
    const flip = (b64: string) => {
      const b = Buffer.from(b64, "base64");
      b[b.length - 1]! ^= 1;
      return b.toString("base64");
    };
    const withEvent = (i: number, patch: Partial<SubjectBundle["events"][number]>): SubjectBundle => ({
      ...bundle,
      events: bundle.events.map((e, j) => (j === i ? { ...e, ...patch } : e)),
    });
    const broken: [string, SubjectBundle][] = [
      ["record edited", withEvent(0, { record: e0.record.replace(subjectId, subjectId.replace(/.$/, "0")) })],
      ["records swapped", withEvent(0, { record: e1.record })],
      ["leaf of another event", withEvent(0, { leaf: e1.leaf })],
      ["opening flipped", withEvent(0, { opening: flip(e0.opening) })],
      [
        "inclusion hash flipped",
        withEvent(1, { inclusion: e1.inclusion.map((h, i) => (i === 0 ? flip(h) : h)) }),
      ],
      ["index moved", withEvent(0, { index: e0.index + 1 })],
      ["another subject's key", { ...bundle, subjectKey: Buffer.alloc(32, 9).toString("base64") }],
      [
        "checkpoint signature flipped",
        {
          ...bundle,
          checkpoint: bundle.checkpoint.replace(/(\S)\n$/, (_, c: string) => `${c === "A" ? "B" : "A"}\n`),
        },
      ],
      ["another origin", { ...bundle, origin: `${bundle.origin}-x` }],
    ];
    for (const [why, b] of broken) expect([why, ...(await verdicts(b))]).toEqual([why, "refused", "refused"]);
    expect(await verdicts(bundle)).toEqual(["ok", "ok"]);
    // A key the reader does not trust proves nothing.
    await expect(web(bundle, undefined, [])).rejects.toThrow(/not signed by a log key you trust/);
  });

  it("proves the log extends the checkpoint seen last time, and refuses a broken proof", async () => {
    const first = await v.log.subject(subjectId);
    await v.subjects.add({ ref: `later-${Math.random()}` });
    await v.access.consents.grant(
      subjectId,
      "quality-review",
      consentTextHash("Quality metrics of my recordings."),
    );
    const second = await v.log.subject(subjectId, { since: first.checkpoint });
    const checked = await web(second, first.checkpoint);
    expect(checked.consistentWith).toBeGreaterThan(0);
    expect(checked.checkpoint.size).toBeGreaterThan(checked.consistentWith!);
    expect(await verdicts(second, first.checkpoint)).toEqual(["ok", "ok"]);
    const proof = second.consistency!.proof;
    const bad = {
      ...second,
      consistency: {
        from: second.consistency!.from,
        proof: proof.map((h, i) => (i === 0 ? Buffer.alloc(32).toString("base64") : h)),
      },
    };
    expect(await verdicts(bad, first.checkpoint)).toEqual(["refused", "refused"]);
    const none: SubjectBundle = { ...second };
    delete (none as { consistency?: unknown }).consistency;
    expect(await verdicts(none, first.checkpoint)).toEqual(["refused", "refused"]);
  });
});
