import { createCipheriv } from "node:crypto";
import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ChaChaWordStream, chacha20Block } from "../../src/template/index.js";
import { blockBytes } from "../../src/template/chacha20.js";

describe("ChaCha20 block function (RFC 8439)", () => {
  it("matches the RFC 8439 §2.3.2 test vector", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = hexToBytes("000000090000004a00000000");
    const out = blockBytes(chacha20Block(key, 1, nonce));
    expect(bytesToHex(out)).toBe(
      "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e" +
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
    );
  });

  fcTest.prop([fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 300 })])(
    "the word stream equals OpenSSL's ChaCha20 keystream (nonce 0, counter 0)",
    (key, words) => {
      const s = new ChaChaWordStream(key);
      const mine = new Uint8Array(words * 4);
      const view = new DataView(mine.buffer);
      for (let i = 0; i < words; i++) view.setUint32(4 * i, s.nextU32(), true);
      const ref = createCipheriv("chacha20", key, new Uint8Array(16)).update(new Uint8Array(words * 4));
      expect(bytesToHex(mine)).toBe(bytesToHex(ref));
    },
  );

  it("nextBelow stays in range and is roughly uniform; wipe() disables the stream", () => {
    const s = new ChaChaWordStream(new Uint8Array(32).fill(9));
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[s.nextBelow(7)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(s.nextUnit()).toBeLessThan(1);
    s.wipe();
    expect(() => s.nextU32()).toThrow();
    expect(() => new ChaChaWordStream(new Uint8Array(31))).toThrow();
    expect(() => chacha20Block(new Uint8Array(32), -1, new Uint8Array(12))).toThrow();
  });
});
