/**
 * A software WebAuthn authenticator for tests: real keys (P-256 or Ed25519), real CBOR, real
 * signatures, built from the spec (W3C WebAuthn L3 §6.1 authenticator data, §6.5 attestation
 * object, §8.7 "none" attestation) — so the vault's verifier is checked against bytes it did not
 * make. Options let a test break one thing at a time.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

type Cbor = number | Uint8Array | string | boolean | null | Cbor[] | Map<Cbor, Cbor>;

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff];
  return [(major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** CBOR (RFC 8949) of the values WebAuthn uses, definite lengths. */
export function encodeCbor(v: Cbor): Uint8Array {
  const out: number[] = [];
  const put = (x: Cbor): void => {
    if (typeof x === "number") out.push(...(x >= 0 ? head(0, x) : head(1, -1 - x)));
    else if (x instanceof Uint8Array) out.push(...head(2, x.length), ...x);
    else if (typeof x === "string") {
      const b = Buffer.from(x, "utf8");
      out.push(...head(3, b.length), ...b);
    } else if (Array.isArray(x)) {
      out.push(...head(4, x.length));
      x.forEach(put);
    } else if (x instanceof Map) {
      out.push(...head(5, x.size));
      for (const [k, val] of x) {
        put(k);
        put(val);
      }
    } else out.push(x === false ? 0xf4 : x === true ? 0xf5 : 0xf6);
  };
  put(v);
  return Uint8Array.from(out);
}

const b64u = (b: Uint8Array | Buffer): string => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string): Buffer => createHash("sha256").update(b).digest();

export interface Tamper {
  readonly origin?: string;
  readonly rpId?: string;
  readonly type?: string;
  readonly challenge?: string;
  /** Authenticator flags (default UP|UV, plus AT on creation). */
  readonly flags?: number;
  readonly signCount?: number;
  readonly fmt?: string;
  readonly badSignature?: boolean;
  readonly crossOrigin?: boolean;
}

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  signCount = 0;
  readonly #key: KeyObject;
  readonly #cose: Uint8Array;

  constructor(readonly alg: -7 | -8 = -7) {
    const pair =
      alg === -7 ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
    this.#key = pair.privateKey;
    const jwk = pair.publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x!, "base64url");
    this.#cose = encodeCbor(
      alg === -7
        ? new Map<Cbor, Cbor>([
            [1, 2],
            [3, -7],
            [-1, 1],
            [-2, x],
            [-3, Buffer.from(jwk.y!, "base64url")],
          ])
        : new Map<Cbor, Cbor>([
            [1, 1],
            [3, -8],
            [-1, 6],
            [-2, x],
          ]),
    );
  }

  #authData(rpId: string, flags: number, count: number, attested: boolean): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(count);
    const parts = [sha256(rpId), Buffer.from([flags]), c];
    if (attested) {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(this.credentialId.length);
      parts.push(Buffer.alloc(16), len, this.credentialId, Buffer.from(this.#cose));
    }
    return Buffer.concat(parts);
  }

  #clientData(type: string, challenge: string, origin: string, t: Tamper): Buffer {
    return Buffer.from(
      JSON.stringify({
        type: t.type ?? type,
        challenge: t.challenge ?? challenge,
        origin: t.origin ?? origin,
        crossOrigin: t.crossOrigin ?? false,
      }),
    );
  }

  /** navigator.credentials.create() */
  create(options: { challenge: string; rp: { id: string } }, origin: string, t: Tamper = {}) {
    const clientData = this.#clientData("webauthn.create", options.challenge, origin, t);
    const authData = this.#authData(
      t.rpId ?? options.rp.id,
      t.flags ?? 0x45,
      t.signCount ?? this.signCount,
      true,
    );
    const attestationObject = encodeCbor(
      new Map<Cbor, Cbor>([
        ["fmt", t.fmt ?? "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]),
    );
    return {
      rawId: b64u(this.credentialId),
      clientDataJSON: b64u(clientData),
      attestationObject: b64u(attestationObject),
    };
  }

  /** navigator.credentials.get() */
  get(options: { challenge: string; rpId: string }, origin: string, t: Tamper = {}) {
    const clientData = this.#clientData("webauthn.get", options.challenge, origin, t);
    const count = t.signCount ?? ++this.signCount;
    const authData = this.#authData(t.rpId ?? options.rpId, t.flags ?? 0x05, count, false);
    const signed = Buffer.concat([authData, sha256(clientData)]);
    const signature = this.alg === -7 ? sign("sha256", signed, this.#key) : sign(null, signed, this.#key);
    if (t.badSignature) signature[signature.length - 1]! ^= 1;
    return {
      rawId: b64u(this.credentialId),
      clientDataJSON: b64u(clientData),
      authenticatorData: b64u(authData),
      signature: b64u(signature),
    };
  }
}
