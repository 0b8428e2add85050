import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import {
  COSIGNATURE_V1_SIZE,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  cosignatureMessage,
  cosignatureTimestamp,
  ed25519CosignatureVerifier,
  ed25519Cosigner,
  ed25519NoteSigner,
  formatNote,
  generateKeyStrings,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  signerKeyString,
  verifierKeyString,
} from "../../src/tlog/index.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isVaultError(e) ? e.code : `non-VaultError: ${String(e)}`;
  }
  return undefined;
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));
const CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

describe("cosignature/v1 format", () => {
  it("builds the signed message of the spec example", () => {
    // c2sp.org/tlog-cosignature §Ed25519 signed message
    expect(Buffer.from(cosignatureMessage(CHECKPOINT, 1679315147)).toString()).toBe(
      "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    );
    expect(Buffer.from(cosignatureMessage(CHECKPOINT, 0)).toString().split("\n")[1]).toBe("time 0");
    expect(codeOf(() => cosignatureMessage(CHECKPOINT, -1))).toBe("INVALID_ARGUMENT");
  });

  it("derives witness key ids with type 0x04 (remora.n621.de public witness key)", () => {
    const v = parseVerifierKey("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2");
    expect([v.name, v.keyId, v.type]).toEqual(["remora.n621.de", 0xda77ade7, SIGNATURE_TYPE_COSIGNATURE_V1]);
    // The same public key as a plain Ed25519 note key has another id.
    const pub = b64("BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2").subarray(1);
    expect(parseVerifierKey(verifierKeyString("remora.n621.de", 0x01, pub)).keyId).not.toBe(0xda77ade7);
  });

  it("reads timestamps (transparency-dev/formats note_cosigv1_test.go vectors)", () => {
    const sig = b64(
      "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
    );
    expect(cosignatureTimestamp(sig.subarray(4))).toBe(1727964367);
    // The spec's example line carries the example's time, 1679315147.
    const spec = b64(
      "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==",
    );
    expect(cosignatureTimestamp(spec.subarray(4))).toBe(1679315147);
    // A plain Ed25519 note signature is not a cosignature.
    const plain = b64(
      "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=",
    );
    expect(codeOf(() => cosignatureTimestamp(plain.subarray(4)))).toBe("NOTE_INVALID");
    const huge = new Uint8Array(COSIGNATURE_V1_SIZE).fill(0x7f);
    expect(codeOf(() => cosignatureTimestamp(huge))).toBe("NOTE_INVALID");
  });
});

describe("cosigning", () => {
  const seed = new Uint8Array(32).fill(5);
  const name = "witness.example/w1";

  it("stamps the clock's time and verifies", async () => {
    const keys = generateKeyStrings(name, 0x04);
    const witness = parseSignerKey(keys.signerKey, () => 1_800_000_000);
    expect(witness.type).toBe(0x04);
    const verifier = parseVerifierKey(keys.verifierKey);
    const note = await signNote(CHECKPOINT, [witness]);
    const [sig] = parseNote(note).signatures;
    expect(sig!.signature.length).toBe(COSIGNATURE_V1_SIZE);
    expect(cosignatureTimestamp(sig!.signature)).toBe(1_800_000_000);
    expect(openNote(note, [verifier]).verified.length).toBe(1);

    // The timestamp is signed: changing it breaks the signature.
    const stamped = Uint8Array.from(sig!.signature);
    stamped[7]! ^= 1;
    const altered = formatNote({ text: CHECKPOINT, signatures: [{ ...sig!, signature: stamped }] });
    expect(codeOf(() => openNote(altered, [verifier]))).toBe("NOTE_INVALID");
  });

  it("is not interchangeable with a plain Ed25519 signature by the same key", async () => {
    const keys = generateKeyStrings(name, 0x04);
    const cosigner = parseSignerKey(keys.signerKey, () => 1_800_000_000);
    const cosVerifier = parseVerifierKey(keys.verifierKey);
    // A type-0x01 signer key carrying the type-0x04 key id is refused.
    const plainKey = signerKeyString(name, 0x01, seedOf(keys.signerKey));
    const relabelled = plainKey.replace(
      /\+[0-9a-f]{8}\+/,
      `+${cosVerifier.keyId.toString(16).padStart(8, "0")}+`,
    );
    expect(relabelled).not.toBe(plainKey);
    expect(codeOf(() => parseSignerKey(relabelled))).toBe("INVALID_ARGUMENT");

    // A plain signature presented under the cosigner's name and key id fails.
    const plain = ed25519NoteSigner(name, seedOf(keys.signerKey));
    const [plainSig] = parseNote(await signNote(CHECKPOINT, [plain])).signatures;
    const forged = formatNote({ text: CHECKPOINT, signatures: [{ ...plainSig!, keyId: cosVerifier.keyId }] });
    expect(codeOf(() => openNote(forged, [cosVerifier]))).toBe("NOTE_INVALID");

    // A cosignature presented as a plain signature fails too.
    const [coSig] = parseNote(await signNote(CHECKPOINT, [cosigner])).signatures;
    const plainVerifier = parseVerifierKey(verifierKeyString(name, 0x01, publicKeyOfVkey(keys.verifierKey)));
    const swapped = formatNote({ text: CHECKPOINT, signatures: [{ ...coSig!, keyId: plainVerifier.keyId }] });
    expect(codeOf(() => openNote(swapped, [plainVerifier]))).toBe("NOTE_INVALID");
  });

  it("signs only checkpoints", async () => {
    const witness = ed25519Cosigner(name, seed, () => 1);
    await expect(signNote("not a checkpoint\n", [witness])).rejects.toMatchObject({
      code: "CHECKPOINT_INVALID",
    });
    // Called directly, the signer rejects rather than throwing synchronously.
    const pending = witness.sign(new TextEncoder().encode("x\n"));
    await expect(pending).rejects.toMatchObject({ code: "CHECKPOINT_INVALID" });
    expect(codeOf(() => ed25519Cosigner("bad name", seed))).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => ed25519CosignatureVerifier(name, new Uint8Array(31)))).toBe("INVALID_ARGUMENT");
  });

  it("covers extension lines", async () => {
    const keys = generateKeyStrings(name, 0x04);
    const text = `${CHECKPOINT}extension\n`;
    const note = await signNote(text, [parseSignerKey(keys.signerKey, () => 7)]);
    expect(openNote(note, [parseVerifierKey(keys.verifierKey)]).text).toBe(text);
    expect(
      codeOf(() => openNote(note.replace("extension", "extensioN"), [parseVerifierKey(keys.verifierKey)])),
    ).toBe("NOTE_INVALID");
  });

  it("uses the current time by default", async () => {
    const before = Math.floor(Date.now() / 1000);
    const note = await signNote(CHECKPOINT, [ed25519Cosigner(name, seed)]);
    const t = cosignatureTimestamp(parseNote(note).signatures[0]!.signature);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
  });
});

function seedOf(signerKey: string): Uint8Array {
  return b64(signerKey.split("+").slice(4).join("+")).subarray(1);
}

function publicKeyOfVkey(vkey: string): Uint8Array {
  return b64(vkey.split("+").slice(2).join("+")).subarray(1);
}
