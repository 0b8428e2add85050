/**
 * Deletion certificates: a signed statement of what a shred destroyed (docs/format.md §10).
 *
 *   signed message = "voxvault/deletion-certificate/v1\n" || JCS(certificate without "signature")
 *   signature      = Ed25519(vault certificate key, signed message)   (RFC 8032, RFC 8785)
 */
import { z } from "zod";
import { fromBase64, toBase64, toHex, utf8Bytes } from "../crypto/bytes.js";
import { ed25519PrivateKey, ed25519PublicKey, ed25519Sign, ed25519Verify } from "../crypto/ed25519.js";
import { canonicalJson } from "../crypto/jcs.js";
import { sha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";

export const CERT_SECRET = "deletion-certificate-signing";
export const CERT_TYPE = "voxvault.deletion-certificate/v1";
const SIGNING_PREFIX = "voxvault/deletion-certificate/v1\n";

export const DeletionCertificateSchema = z.strictObject({
  type: z.literal(CERT_TYPE),
  certificateId: z.string(),
  vaultId: z.string(),
  subjectId: z.string(),
  tenant: z.string(),
  requestedAt: z.string(),
  shreddedAt: z.string(),
  destroyed: z.strictObject({
    subjectKeyVersions: z.array(z.number().int()),
    keyTreeNodesRekeyed: z.number().int(),
    keysRewrapped: z.number().int(),
    retiredRootKeyVersion: z.number().int(),
    externalReference: z.boolean(),
  }),
  counts: z.strictObject({ blobs: z.number().int(), bytes: z.number().int() }),
  auditEventId: z.string(),
  signature: z.strictObject({
    alg: z.literal("Ed25519"),
    keyId: z.string(),
    publicKey: z.string(),
    value: z.string(),
  }),
});
export type DeletionCertificate = z.infer<typeof DeletionCertificateSchema>;
export type UnsignedCertificate = Omit<DeletionCertificate, "signature">;

export function certificateKeyId(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey).subarray(0, 8));
}

function message(body: UnsignedCertificate): Uint8Array {
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
 * Verifies a certificate against the vault's published certificate key. The key inside the
 * certificate is only a hint: trusting it would let anyone mint certificates.
 */
export function verifyCertificate(input: unknown, trustedPublicKey: Uint8Array): DeletionCertificate {
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
  if (
    signature.keyId !== certificateKeyId(trustedPublicKey) ||
    !ed25519Verify(ed25519PublicKey(trustedPublicKey), message(body), sig)
  ) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      "certificate signature does not verify under this vault's certificate key",
    );
  }
  return cert;
}
