import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkHostKey,
  generateHostKey,
  hostKeyFingerprint,
  openSealedToHost,
  sealToHost,
} from "../../src/crypto/host-seal.js";
import { utf8Bytes } from "../../src/crypto/bytes.js";

const ctx = utf8Bytes("vault vlt_x / generation 3");

describe("sealing to a host key", () => {
  it("opens only with the recipient's key and the same context", () => {
    const a = generateHostKey();
    const b = generateHostKey();
    const secret = new Uint8Array(2000).map((_, i) => i % 251);
    const sealed = sealToHost(a.publicKey, secret, ctx);
    expect(Buffer.from(openSealedToHost(a, sealed, ctx)).equals(Buffer.from(secret))).toBe(true);
    expect(() => openSealedToHost(b, sealed, ctx)).toThrow(/unwrap|malformed|KEY|key/i);
    expect(() => openSealedToHost(a, sealed, utf8Bytes("vault vlt_x / generation 4"))).toThrow();
    for (const i of [0, 5, 40, sealed.length - 1]) {
      const t = Uint8Array.from(sealed);
      t[i]! ^= 1;
      expect(() => openSealedToHost(a, t, ctx)).toThrow();
    }
    // ephemeral keys: two seals of the same secret differ
    expect(Buffer.from(sealToHost(a.publicKey, secret, ctx)).equals(Buffer.from(sealed))).toBe(false);
  });

  it("agrees with node's own X25519 (cross-check of the key encoding)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    const jwkPriv = privateKey.export({ format: "jwk" });
    const pair = {
      publicKey: new Uint8Array(Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url")),
      privateKey: new Uint8Array(Buffer.from(jwkPriv.d!, "base64url")),
    };
    checkHostKey(pair);
    const sealed = sealToHost(pair.publicKey, utf8Bytes("x"), ctx);
    expect(new TextDecoder().decode(openSealedToHost(pair, sealed, ctx))).toBe("x");
  });

  it("refuses a key pair whose halves do not match, and low-order public keys", () => {
    const a = generateHostKey();
    const b = generateHostKey();
    expect(() => {
      checkHostKey({ publicKey: b.publicKey, privateKey: a.privateKey });
    }).toThrow(/do not match/);
    // the all-zero point gives an all-zero shared secret (RFC 7748 §6.1)
    expect(() => sealToHost(new Uint8Array(32), utf8Bytes("x"), ctx)).toThrow();
  });

  it("fingerprints are stable and short", () => {
    const a = generateHostKey();
    expect(hostKeyFingerprint(a.publicKey)).toMatch(/^([0-9a-f]{4}:){7}[0-9a-f]{4}$/);
    expect(hostKeyFingerprint(a.publicKey)).toBe(hostKeyFingerprint(Uint8Array.from(a.publicKey)));
  });
});
