import { createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import {
  type Checkpoint,
  addNoteSignatures,
  ed25519Cosigner,
  ed25519CosignatureVerifier,
  formatCheckpoint,
  generateKeyStrings,
  openCheckpoint,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signCheckpoint,
} from "../../src/tlog/index.js";

function failure(fn: () => unknown): { code?: string; reason?: unknown } {
  try {
    fn();
  } catch (e) {
    if (isVaultError(e)) return { code: e.code, reason: e.details?.reason };
    throw e;
  }
  return {};
}

// c2sp.org/tlog-checkpoint, example note text.
const SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

// A real checkpoint of the transparency.dev staging CT log "arche2025h1", cosigned by public
// witnesses (as published; quoted in the tlog-scales test suite). Verified below with the log's
// Ed25519 key and the remora.n621.de witness key.
const ARCHE = `arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
`;
const ARCHE_LOG_VKEY =
  "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f";
const REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

describe("checkpoint text", () => {
  it("parses and re-formats the spec example exactly", () => {
    const cp = parseCheckpoint(SPEC_TEXT);
    expect(cp.origin).toBe("example.com/behind-the-sofa");
    expect(cp.size).toBe(20852163);
    expect(Buffer.from(cp.rootHash).toString("base64")).toBe("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    expect(cp.extensions).toEqual([]);
    expect(formatCheckpoint(cp)).toBe(SPEC_TEXT);
  });

  it("keeps extension lines", () => {
    const text = `${SPEC_TEXT}ext one\next two\n`;
    expect(parseCheckpoint(text).extensions).toEqual(["ext one", "ext two"]);
    expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
  });

  it("accepts the empty tree", () => {
    const text = "log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    expect(parseCheckpoint(text).size).toBe(0);
  });

  it("rejects anything but the canonical form", () => {
    const root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    const bad = [
      SPEC_TEXT.slice(0, -1), // no final newline
      `example.com/log\n020852163\n${root}\n`, // leading zero
      `example.com/log\n-1\n${root}\n`,
      `example.com/log\n+5\n${root}\n`,
      `example.com/log\n1e3\n${root}\n`,
      `example.com/log\n 5\n${root}\n`,
      `example.com/log\n9007199254740992\n${root}\n`, // 2^53
      `example.com/log\n5\n${root.slice(0, -1)}\n`, // unpadded
      `example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n`, // non-canonical pad bits
      `example.com/log\n5\n${Buffer.alloc(31).toString("base64")}\n`, // 31 bytes
      `example.com/log\n5\n`, // two lines
      `\n5\n${root}\n`, // empty origin
      `example.com/log\n5\n${root}\n\next\n`, // empty extension line
      `example.com/log\r\n5\n${root}\n`, // control character
    ];
    for (const text of bad) {
      expect(failure(() => parseCheckpoint(text)).code, JSON.stringify(text)).toBe("CHECKPOINT_INVALID");
    }
  });

  it("refuses to format values the text cannot carry", () => {
    const good: Checkpoint = { origin: "o", size: 1, rootHash: new Uint8Array(32), extensions: [] };
    for (const cp of [
      { ...good, origin: "" },
      { ...good, origin: "two\nlines" },
      { ...good, size: -1 },
      { ...good, size: 1.5 },
      { ...good, rootHash: new Uint8Array(31) },
      { ...good, extensions: [""] },
    ]) {
      expect(failure(() => formatCheckpoint(cp)).code).toBe("CHECKPOINT_INVALID");
    }
  });
});

describe("a real witnessed checkpoint", () => {
  const log = parseVerifierKey(ARCHE_LOG_VKEY);
  const remora = parseVerifierKey(REMORA_VKEY);

  it("opens with the log key and a one-witness quorum", () => {
    const opened = openCheckpoint(ARCHE, {
      origin: "arche2025h1.staging.ct.transparency.dev",
      logVerifiers: [log],
      witnesses: [remora],
      witnessQuorum: 1,
    });
    expect(opened.checkpoint.size).toBe(1432088532);
    expect(Buffer.from(opened.checkpoint.rootHash).toString("base64")).toBe(
      "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=",
    );
    expect(opened.logSignatures.map((s) => s.keyId)).toEqual([0xba2f06c0]);
    expect(opened.cosignatures).toEqual([
      { name: "remora.n621.de", keyId: 0xda77ade7, timestamp: 1779573024 },
    ]);
    // The log's RFC 6962 signature and three other witnesses are not configured: ignored.
    expect(opened.unverified.length).toBe(4);
  });

  it("fails when the size is altered", () => {
    const altered = ARCHE.replace("1432088532", "1432088533");
    const f = failure(() =>
      openCheckpoint(altered, { origin: "arche2025h1.staging.ct.transparency.dev", logVerifiers: [log] }),
    );
    expect(f).toEqual({ code: "CHECKPOINT_INVALID", reason: "note" });
  });

  it("fails a quorum the witnesses do not meet", () => {
    const other = parseVerifierKey(generateKeyStrings("witness.example/w2", 0x04).verifierKey);
    const f = failure(() =>
      openCheckpoint(ARCHE, {
        origin: "arche2025h1.staging.ct.transparency.dev",
        logVerifiers: [log],
        witnesses: [remora, other],
        witnessQuorum: 2,
      }),
    );
    expect(f).toEqual({ code: "CHECKPOINT_INVALID", reason: "quorum" });
  });

  it("fails on the wrong origin, and without the log's signature", () => {
    expect(
      failure(() => openCheckpoint(ARCHE, { origin: "other.example/log", logVerifiers: [log] })),
    ).toEqual({
      code: "CHECKPOINT_INVALID",
      reason: "origin",
    });
    const stranger = parseVerifierKey(
      generateKeyStrings("arche2025h1.staging.ct.transparency.dev").verifierKey,
    );
    expect(
      failure(() =>
        openCheckpoint(ARCHE, {
          origin: "arche2025h1.staging.ct.transparency.dev",
          logVerifiers: [stranger],
          witnesses: [remora],
        }),
      ),
    ).toEqual({ code: "CHECKPOINT_INVALID", reason: "no-log-signature" });
  });

  it("validates the policy itself", () => {
    const origin = "arche2025h1.staging.ct.transparency.dev";
    expect(failure(() => openCheckpoint(ARCHE, { origin, logVerifiers: [] })).code).toBe("INVALID_ARGUMENT");
    expect(failure(() => openCheckpoint(ARCHE, { origin, logVerifiers: [log], witnessQuorum: 1 })).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect(failure(() => openCheckpoint(ARCHE, { origin, logVerifiers: [log], witnesses: [log] })).code).toBe(
      "INVALID_ARGUMENT",
    );
  });
});

describe("signing and cosigning our own checkpoints", () => {
  it("signs, cosigns and opens", async () => {
    const logKeys = generateKeyStrings("vault.example/audit");
    const w1 = { seed: new Uint8Array(32).fill(11), name: "w1.example" };
    const w2 = { seed: new Uint8Array(32).fill(12), name: "w2.example" };
    const cp: Checkpoint = {
      origin: "vault.example/audit",
      size: 42,
      rootHash: new Uint8Array(32).fill(3),
      extensions: [],
    };
    const signed = await signCheckpoint(cp, [parseSignerKey(logKeys.signerKey)]);
    const cosigned = await addNoteSignatures(signed, [
      ed25519Cosigner(w1.name, w1.seed, () => 1_700_000_000),
      ed25519Cosigner(w2.name, w2.seed, () => 1_700_000_001),
    ]);
    const witnesses = [w1, w2].map((w) => ed25519CosignatureVerifier(w.name, publicKeyOf(w.seed)));
    const opened = openCheckpoint(cosigned, {
      origin: cp.origin,
      logVerifiers: [parseVerifierKey(logKeys.verifierKey)],
      witnesses,
      witnessQuorum: 2,
    });
    expect(opened.checkpoint).toEqual(cp);
    expect(opened.cosignatures.map((c) => c.timestamp)).toEqual([1_700_000_000, 1_700_000_001]);
  });
});

function publicKeyOf(seed: Uint8Array): Uint8Array {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" })).export({
    format: "der",
    type: "spki",
  });
  return spki.subarray(12);
}
