/**
 * Deletion certificates: a signed statement of what a shred destroyed (docs/format.md §10).
 *
 *   signed message = "voxvault/deletion-certificate/v1\n" || JCS(certificate without "signature")
 *   signature      = Ed25519(vault certificate key, signed message)   (RFC 8032, RFC 8785)
 *
 * Type v2 (root generations) replaced v1 (root versions); both verify. The certificate key can
 * be rotated: certificates stay verifiable under the key that signed them, which the vault keeps
 * publishing as retired.
 */
import { z } from "zod";
import { fromBase64, toBase64, toHex, utf8Bytes } from "../crypto/bytes.js";
import { ed25519PrivateKey, ed25519PublicKey, ed25519Sign, ed25519Verify } from "../crypto/ed25519.js";
import { canonicalJson } from "../crypto/jcs.js";
import { sha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";
import { parseStrictJson } from "../crypto/strict-json.js";

export const CERT_SECRET = "deletion-certificate-signing";
export const CERT_TYPE = "voxvault.deletion-certificate/v2";
export const LEGACY_CERT_TYPE = "voxvault.deletion-certificate/v1";
const SIGNING_PREFIX = "voxvault/deletion-certificate/v1\n";

const common = {
  certificateId: z.string(),
  vaultId: z.string(),
  subjectId: z.string(),
  tenant: z.string(),
  requestedAt: z.string(),
  shreddedAt: z.string(),
  counts: z.strictObject({ blobs: z.number().int(), bytes: z.number().int() }),
  auditEventId: z.string(),
  signature: z.strictObject({
    alg: z.literal("Ed25519"),
    keyId: z.string(),
    publicKey: z.string(),
    value: z.string(),
  }),
};

export const DeletionCertificateSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal(CERT_TYPE),
    ...common,
    destroyed: z.strictObject({
      subjectKeyVersions: z.array(z.number().int()),
      /** Generations whose key at the subject's slot is punctured. */
      rootGenerationsPunctured: z.array(z.number().int()),
      externalReference: z.boolean(),
      /** Consents and uploads deleted, reference-index entries rehashed (the bucket's other subjects). */
      recordsErased: z.strictObject({
        consents: z.number().int(),
        uploads: z.number().int(),
        referenceIndexRehashed: z.number().int(),
      }),
    }),
  }),
  z.strictObject({
    type: z.literal(LEGACY_CERT_TYPE),
    ...common,
    destroyed: z.strictObject({
      subjectKeyVersions: z.array(z.number().int()),
      keyTreeNodesRekeyed: z.number().int(),
      keysRewrapped: z.number().int(),
      retiredRootKeyVersion: z.number().int(),
      externalReference: z.boolean(),
    }),
  }),
]);
export type DeletionCertificate = z.infer<typeof DeletionCertificateSchema>;
export type UnsignedCertificate = Omit<Extract<DeletionCertificate, { type: typeof CERT_TYPE }>, "signature">;

/**
 * A certificate (or a JSON document holding one) from text: strict JSON, so a duplicate member
 * name — two "subjectId"s, one naming another subject — is refused, not resolved.
 */
export function parseCertificateDocument(text: string): unknown {
  try {
    return parseStrictJson(text);
  } catch (e) {
    throw new VaultError("INVALID_ARGUMENT", `not a certificate document: ${(e as Error).message}`);
  }
}

export function certificateKeyId(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey).subarray(0, 8));
}

function message(body: Omit<DeletionCertificate, "signature">): Uint8Array {
  return utf8Bytes(SIGNING_PREFIX + canonicalJson(body));
}

export function signCertificate(
  body: UnsignedCertificate,
  seed: Uint8Array,
  publicKey: Uint8Array,
): DeletionCertificate {
  return {
    ...body,
    signature: {
      alg: "Ed25519",
      keyId: certificateKeyId(publicKey),
      publicKey: toBase64(publicKey),
      value: toBase64(ed25519Sign(ed25519PrivateKey(seed), message(body))),
    },
  };
}

/**
 * Verifies a certificate against the vault's published certificate keys (current and retired).
 * The key inside the certificate is only a hint to pick one: trusting it would let anyone mint
 * certificates.
 */
export function verifyCertificate(
  input: unknown,
  trusted: Uint8Array | readonly Uint8Array[],
): DeletionCertificate {
  const keys = trusted instanceof Uint8Array ? [trusted] : trusted;
  const parsed = DeletionCertificateSchema.safeParse(input);
  if (!parsed.success) throw new VaultError("INVALID_ARGUMENT", "not a voxvault deletion certificate");
  const cert = parsed.data;
  const { signature, ...body } = cert;
  let sig: Uint8Array;
  try {
    sig = fromBase64(signature.value);
  } catch {
    throw new VaultError("INVALID_ARGUMENT", "certificate signature is not base64");
  }
  const key = keys.find((k) => certificateKeyId(k) === signature.keyId);
  if (!key || !ed25519Verify(ed25519PublicKey(key), message(body), sig)) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      "certificate signature does not verify under this vault's certificate key",
    );
  }
  return cert;
}
