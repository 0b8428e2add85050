import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import {
  MAX_NOTE_SIGNATURES,
  addNoteSignatures,
  computeKeyId,
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

function reasonOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return isVaultError(e) ? e.details?.reason : undefined;
  }
  return undefined;
}

// c2sp.org/signed-note §Verifier keys, example.
const C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const C2SP_NOTE =
  "This is an example message.\n\n" +
  "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

// golang.org/x/mod/sumdb/note note_test.go.
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG =
  "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const peter = parseVerifierKey(PETER_VKEY);
const enoch = parseVerifierKey(ENOCH_VKEY);

describe("the C2SP signed-note example", () => {
  it("derives the key id and verifies the note", () => {
    const v = parseVerifierKey(C2SP_VKEY);
    expect([v.name, v.keyId, v.type]).toEqual(["example.com/foo", 0x530d903a, 0x01]);
    const opened = openNote(C2SP_NOTE, [v]);
    expect(opened.text).toBe("This is an example message.\n");
    expect(opened.verified.map((s) => s.name)).toEqual(["example.com/foo"]);
  });

  it("rejects the note once its text changes", () => {
    expect(
      reasonOf(() =>
        openNote(C2SP_NOTE.replace("example message", "exemplary message"), [parseVerifierKey(C2SP_VKEY)]),
      ),
    ).toBe("bad-signature");
  });
});

describe("Go note package vectors", () => {
  it("parses keys and derives the same ids", () => {
    expect([peter.name, peter.keyId]).toEqual(["PeterNeumann", 0xc74f20a3]);
    const signer = parseSignerKey(PETER_SKEY);
    expect([signer.name, signer.keyId, signer.type]).toEqual(["PeterNeumann", 0xc74f20a3, 0x01]);
  });

  it("signs deterministically to the expected note", async () => {
    expect(await signNote(TEXT, [parseSignerKey(PETER_SKEY)])).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it("opens with one known key, keeping the other signature unverified", () => {
    const n = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter]);
    expect(n.text).toBe(TEXT);
    expect(n.verified.map((s) => [s.name, s.keyId])).toEqual([["PeterNeumann", 0xc74f20a3]]);
    expect(n.unverified.map((s) => [s.name, s.keyId])).toEqual([["EnochRoot", 0xaf0cfe78]]);
    const both = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter, enoch]);
    expect(both.verified.map((s) => s.name)).toEqual(["PeterNeumann", "EnochRoot"]);
    expect(both.unverified).toEqual([]);
  });

  it("requires at least one verified signature", () => {
    expect(reasonOf(() => openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, []))).toBe("unverified");
    expect(reasonOf(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [peter]))).toBe("unverified");
  });

  it("rejects the whole note when a known key's signature is bad", () => {
    const bad = `${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    expect(reasonOf(() => openNote(`${TEXT}\n${bad}`, [peter]))).toBe("bad-signature");
    expect(reasonOf(() => openNote(`${TEXT}\n${PETER_SIG}${bad}`, [peter]))).toBe("bad-signature");
  });

  it("drops duplicate signatures", () => {
    const badEnoch = `${ENOCH_SIG.slice(0, 60)}ABCD${ENOCH_SIG.slice(60)}`;
    const n = openNote(`${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${badEnoch}`, [peter]);
    expect(n.verified.length).toBe(1);
    expect(n.unverified.length).toBe(2); // enoch and the altered enoch line
  });

  it("rejects malformed notes", () => {
    const bad = [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
      `\u0001${TEXT}\n${PETER_SIG}`,
      `${TEXT}\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
      `${TEXT}\n${PETER_SIG.replace("\u2014", "-")}`,
      `${TEXT}\n${PETER_SIG.replace("PeterNeumann ", "PeterNeumann  ")}`,
      `${TEXT}\n${PETER_SIG.replace("PeterNeumann", "Peter+Neumann")}`,
      `${TEXT}\n${PETER_SIG.replace("AM=", "AM")}`, // unpadded base64
      `${TEXT}\n${PETER_SIG.replace("AM=", "AN=")}`, // non-canonical pad bits
      `${TEXT}\n\u2014 PeterNeumann AAAA\n`, // key id without signature
      `${TEXT.replace("\n", "\r\n")}\n${PETER_SIG}`,
      `${TEXT}\n${PETER_SIG}\n`,
      `\ud800${TEXT}\n${PETER_SIG}`,
    ];
    for (const msg of bad) {
      expect(
        codeOf(() => openNote(msg, [peter])),
        JSON.stringify(msg),
      ).toBe("NOTE_INVALID");
    }
    // Invalid UTF-8 given as bytes.
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${TEXT}\n${PETER_SIG}`)]);
    expect(codeOf(() => openNote(bytes, [peter]))).toBe("NOTE_INVALID");
    expect(openNote(Buffer.from(`${TEXT}\n${PETER_SIG}`), [peter]).text).toBe(TEXT);
  });

  it("caps the number of signature lines", () => {
    expect(openNote(`${TEXT}\n${PETER_SIG.repeat(MAX_NOTE_SIGNATURES)}`, [peter]).verified.length).toBe(1);
    expect(codeOf(() => openNote(`${TEXT}\n${PETER_SIG.repeat(MAX_NOTE_SIGNATURES + 1)}`, [peter]))).toBe(
      "NOTE_INVALID",
    );
  });

  it("refuses ambiguous verifier lists", () => {
    expect(codeOf(() => openNote(`${TEXT}\n${PETER_SIG}`, [peter, parseVerifierKey(PETER_VKEY)]))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("splits text from signatures at the last blank line", () => {
    const text = "a\n\nb\n\n";
    const n = parseNote(`${text}\n${PETER_SIG}`);
    expect(n.text).toBe(text);
    expect(n.signatures.length).toBe(1);
  });
});

describe("key strings", () => {
  // Like Go's TestNewVerifier: every proper substring and every single-byte change must fail.
  for (const [label, key, parse] of [
    ["verifier", PETER_VKEY, parseVerifierKey],
    ["signer", PETER_SKEY, (k: string) => parseSignerKey(k)],
  ] as const) {
    it(`rejects every mangling of a ${label} key`, () => {
      for (let i = 0; i <= key.length; i++) {
        for (let j = i + 1; j <= key.length; j++) {
          if (i === 0 && j === key.length) continue;
          expect(
            codeOf(() => parse(key.slice(i, j))),
            key.slice(i, j),
          ).toBe("INVALID_ARGUMENT");
        }
      }
      for (let i = 0; i < key.length; i++) {
        const changed = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
        expect(
          codeOf(() => parse(changed)),
          changed,
        ).toBe("INVALID_ARGUMENT");
      }
    });
  }

  it("rejects wrong lengths and unknown types even with a matching key id", () => {
    // Go note_test.go: wrong-length key and unknown algorithm, each with an adjusted key hash.
    expect(
      codeOf(() =>
        parseVerifierKey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
      ),
    ).toBe("INVALID_ARGUMENT");
    expect(
      codeOf(() => parseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")),
    ).toBe("INVALID_ARGUMENT");
    expect(codeOf(() => parseVerifierKey(PETER_VKEY.replace("c74f20a3", "C74F20A3")))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("parses a vkey whose base64 contains '+' (transparency-dev/formats test key)", () => {
    const v = parseVerifierKey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
    expect([v.name, v.keyId, v.type]).toEqual(["TEST", 0x7997405c, 0x01]);
  });

  it("round-trips generated keys", async () => {
    const { signerKey, verifierKey } = generateKeyStrings("vault.example/log");
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    expect([signer.name, signer.keyId]).toEqual([verifier.name, verifier.keyId]);
    const msg = await signNote("hello\n", [signer]);
    expect(openNote(msg, [verifier]).text).toBe("hello\n");
    expect(signerKey.startsWith("PRIVATE+KEY+vault.example/log+")).toBe(true);
  });

  it("encodes raw keys the way Go does", () => {
    const seed = Buffer.from("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "base64").subarray(1);
    const pub = Buffer.from("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "base64").subarray(1);
    expect(signerKeyString("PeterNeumann", 0x01, seed)).toBe(PETER_SKEY);
    expect(verifierKeyString("PeterNeumann", 0x01, pub)).toBe(PETER_VKEY);
    expect(computeKeyId("PeterNeumann", 0x01, pub)).toBe(0xc74f20a3);
    expect(codeOf(() => verifierKeyString("Peter Neumann", 0x01, pub))).toBe("INVALID_ARGUMENT");
  });
});

describe("signing and formatting", () => {
  const seed = new Uint8Array(32).fill(1);
  const signer = ed25519NoteSigner("signer.example", seed);

  it("appends signatures, replacing one by the same key", async () => {
    const a = generateKeyStrings("a.example");
    const b = generateKeyStrings("b.example");
    const [sa, sb] = [parseSignerKey(a.signerKey), parseSignerKey(b.signerKey)];
    const verifiers = [parseVerifierKey(a.verifierKey), parseVerifierKey(b.verifierKey)];
    const first = await signNote("body\n", [sa]);
    const both = await addNoteSignatures(first, [sb]);
    expect(parseNote(both).signatures.map((s) => s.name)).toEqual(["a.example", "b.example"]);
    const again = await addNoteSignatures(both, [sa]);
    expect(parseNote(again).signatures.map((s) => s.name)).toEqual(["b.example", "a.example"]);
    expect(openNote(again, verifiers).verified.length).toBe(2);
  });

  it("refuses texts a note cannot carry", async () => {
    for (const text of ["no newline", "tab\there\n", ""]) {
      await expect(signNote(text, [signer])).rejects.toMatchObject({ code: "NOTE_INVALID" });
    }
    await expect(signNote("x\n", [])).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(codeOf(() => formatNote({ text: "x\n", signatures: [] }))).toBe("NOTE_INVALID");
    expect(codeOf(() => ed25519NoteSigner("bad name", seed))).toBe("INVALID_ARGUMENT");
  });

  it("round-trips parse and format", async () => {
    const msg = await signNote("line one\n\nline three\n", [signer]);
    expect(formatNote(parseNote(msg))).toBe(msg);
  });
});
