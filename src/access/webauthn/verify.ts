/**
 * Verifying WebAuthn ceremonies (W3C Web Authentication Level 3): a registration (§7.1) with no
 * attestation (`fmt: "none"`, which is what the vault asks for: it trusts the contractor's choice of
 * authenticator, not a vendor's certificate), and an authentication assertion (§7.2). Only ES256
 * (COSE -7, P-256) and EdDSA (COSE -8, Ed25519) keys are accepted. User presence and user
 * verification are both required. Every failure is one error with a reason; nothing is partial.
 */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { equalBytes, utf8Bytes } from "../../crypto/bytes.js";
import { sha256 } from "../../crypto/kdf.js";
import { VaultError } from "../../errors.js";
import { decodeCbor, decodeCborAll, type CborValue } from "./cbor.js";

export interface RelyingParty {
  /** The RP ID: the vault's host name (§5.1.2). */
  readonly id: string;
  /** The exact origin pages are served from, e.g. https://vault.example.org. */
  readonly origin: string;
}

export interface NewCredential {
  readonly credentialId: Uint8Array;
  /** The COSE_Key bytes as the authenticator sent them. */
  readonly publicKey: Uint8Array;
  readonly alg: -7 | -8;
  readonly signCount: number;
  readonly backupEligible: boolean;
}

export interface StoredCredential {
  readonly publicKey: Uint8Array;
  readonly signCount: number;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_AT = 0x40;
const FLAG_ED = 0x80;
const MAX_CREDENTIAL_ID = 1023; // §5.8.3

const fail = (why: string) => new VaultError("UNAUTHENTICATED", `passkey refused: ${why}`);

export function fromBase64Url(s: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new VaultError("BAD_REQUEST", `${what} is not base64url`);
  return new Uint8Array(Buffer.from(s, "base64url"));
}

export const toBase64Url = (b: Uint8Array): string => Buffer.from(b).toString("base64url");

/** §7.1 steps 5-12 / §7.2 steps 9-14: the client data the browser signed over. */
function checkClientData(
  clientDataJSON: Uint8Array,
  type: "webauthn.create" | "webauthn.get",
  challenge: Uint8Array,
  rp: RelyingParty,
): void {
  let c: unknown;
  try {
    c = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(clientDataJSON));
  } catch {
    throw fail("client data is not JSON");
  }
  const cd = c as {
    type?: unknown;
    challenge?: unknown;
    origin?: unknown;
    crossOrigin?: unknown;
    topOrigin?: unknown;
  };
  if (cd.type !== type) throw fail(`client data type is not ${type}`);
  if (typeof cd.challenge !== "string" || !equalBytes(fromBase64Url(cd.challenge, "challenge"), challenge))
    throw fail("the challenge does not match");
  if (cd.origin !== rp.origin) throw fail(`origin ${String(cd.origin)} is not ${rp.origin}`);
  if (cd.crossOrigin === true || cd.topOrigin !== undefined) throw fail("cross-origin ceremony");
}

interface AuthData {
  readonly flags: number;
  readonly signCount: number;
  readonly credential?: { id: Uint8Array; publicKey: Uint8Array; key: CborValue };
}

/** §6.1: rpIdHash (32) ‖ flags (1) ‖ signCount (4, big-endian) ‖ [attested credential data] ‖ [extensions]. */
function parseAuthData(data: Uint8Array, rp: RelyingParty, expectCredential: boolean): AuthData {
  if (data.length < 37) throw fail("authenticator data too short");
  if (!equalBytes(data.subarray(0, 32), sha256(utf8Bytes(rp.id)))) throw fail("RP ID hash does not match");
  const flags = data[32]!;
  if (!(flags & FLAG_UP)) throw fail("user presence not asserted");
  if (!(flags & FLAG_UV)) throw fail("user verification not performed");
  const signCount = new DataView(data.buffer, data.byteOffset + 33, 4).getUint32(0);
  let pos = 37;
  let credential: AuthData["credential"];
  if (flags & FLAG_AT) {
    if (!expectCredential) throw fail("unexpected attested credential data");
    if (data.length < pos + 18) throw fail("attested credential data truncated");
    pos += 16; // AAGUID: not used without attestation
    const len = (data[pos]! << 8) | data[pos + 1]!;
    pos += 2;
    if (len === 0 || len > MAX_CREDENTIAL_ID || data.length < pos + len)
      throw fail("bad credential id length");
    const id = data.slice(pos, pos + len);
    pos += len;
    const key = decodeCbor(data, pos);
    credential = { id, publicKey: data.slice(pos, key.end), key: key.value };
    pos = key.end;
  } else if (expectCredential) throw fail("no attested credential data");
  if (flags & FLAG_ED) pos = decodeCbor(data, pos).end;
  if (pos !== data.length) throw fail("trailing bytes in authenticator data");
  return credential ? { flags, signCount, credential } : { flags, signCount };
}

/** A COSE_Key (RFC 9052 §7, RFC 9053 §2.1/§7.1) as a Node public key; ES256 and EdDSA only. */
export function coseToKey(cose: CborValue): { key: KeyObject; alg: -7 | -8 } {
  if (!(cose instanceof Map)) throw fail("credential public key is not a COSE map");
  const get = (k: number) => cose.get(k);
  const bytes = (k: number, n: number): string => {
    const v = get(k);
    if (!(v instanceof Uint8Array) || v.length !== n) throw fail("bad COSE key coordinates");
    return toBase64Url(v);
  };
  const kty = get(1);
  const alg = get(3);
  if (kty === 2 && alg === -7 && get(-1) === 1)
    return {
      key: createPublicKey({
        key: { kty: "EC", crv: "P-256", x: bytes(-2, 32), y: bytes(-3, 32) },
        format: "jwk",
      }),
      alg: -7,
    };
  if (kty === 1 && alg === -8 && get(-1) === 6)
    return {
      key: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: bytes(-2, 32) }, format: "jwk" }),
      alg: -8,
    };
  throw fail("only ES256 (P-256) and EdDSA (Ed25519) passkeys are accepted");
}

export interface RegistrationResponse {
  readonly rawId: string;
  readonly clientDataJSON: string;
  readonly attestationObject: string;
}

/** §7.1: a new credential, created for `challenge` on this RP. */
export function verifyRegistration(
  r: RegistrationResponse,
  challenge: Uint8Array,
  rp: RelyingParty,
): NewCredential {
  checkClientData(fromBase64Url(r.clientDataJSON, "clientDataJSON"), "webauthn.create", challenge, rp);
  const att = decodeCborAll(fromBase64Url(r.attestationObject, "attestationObject"));
  if (!(att instanceof Map)) throw fail("attestation object is not a map");
  const fmt = att.get("fmt");
  const stmt = att.get("attStmt");
  const authData = att.get("authData");
  // §8.7: "none" carries an empty statement. The vault asks for no attestation (§5.4.7).
  if (fmt !== "none" || !(stmt instanceof Map) || stmt.size !== 0)
    throw fail(`attestation format ${typeof fmt === "string" ? fmt : "?"} is not "none"`);
  if (!(authData instanceof Uint8Array)) throw fail("no authenticator data");
  const parsed = parseAuthData(authData, rp, true);
  const cred = parsed.credential!;
  if (!equalBytes(cred.id, fromBase64Url(r.rawId, "rawId")))
    throw fail("credential id does not match the authenticator data");
  const { alg } = coseToKey(cred.key);
  return {
    credentialId: cred.id,
    publicKey: cred.publicKey,
    alg,
    signCount: parsed.signCount,
    backupEligible: (parsed.flags & FLAG_BE) !== 0,
  };
}

export interface AssertionResponse {
  readonly rawId: string;
  readonly clientDataJSON: string;
  readonly authenticatorData: string;
  readonly signature: string;
}

/** §7.2: an assertion by a stored credential over `challenge`; returns the new signature counter. */
export function verifyAssertion(
  r: AssertionResponse,
  stored: StoredCredential,
  challenge: Uint8Array,
  rp: RelyingParty,
): number {
  const clientData = fromBase64Url(r.clientDataJSON, "clientDataJSON");
  checkClientData(clientData, "webauthn.get", challenge, rp);
  const authData = fromBase64Url(r.authenticatorData, "authenticatorData");
  const parsed = parseAuthData(authData, rp, false);
  const { key, alg } = coseToKey(decodeCborAll(stored.publicKey));
  const signed = Buffer.concat([authData, sha256(clientData)]);
  const signature = fromBase64Url(r.signature, "signature");
  // ES256 signatures are ASN.1 DER (§6.5.6); Ed25519 ones are the raw 64 bytes.
  const ok =
    alg === -7
      ? verify("sha256", signed, { key, dsaEncoding: "der" }, signature)
      : verify(null, signed, key, signature);
  if (!ok) throw fail("signature does not verify");
  // §6.1.1: a counter that does not grow, where either side is non-zero, means a cloned authenticator.
  if ((parsed.signCount !== 0 || stored.signCount !== 0) && parsed.signCount <= stored.signCount)
    throw fail("signature counter went backwards (cloned authenticator?)");
  return parsed.signCount;
}
