/**
 * TLS for the embedded default: a self-signed ECDSA P-256 certificate for localhost, made at
 * `voxvault init`. The certificate (public) lives in the data directory; its private key is a vault
 * secret, wrapped under the key tree like every other key, so a copy of the data directory cannot
 * impersonate the server. Production passes its own certificate and key to `serve`.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { wipe } from "../crypto/bytes.js";
import { writeFileAtomic } from "../fsutil/atomic.js";
import { selfSignedCertificate } from "./x509.js";
import type { Vault } from "../platform/vault.js";
import { TLS_CERT_FILE as CERT_FILE } from "../vault/secret-names.js";

export { TLS_SECRET } from "../vault/secret-names.js";

export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

export function fingerprint(certPem: string): string {
  const der = Buffer.from(certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const hex = createHash("sha256").update(der).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}

async function generate(hostnames: readonly string[]): Promise<{ certPem: string; keyDer: Uint8Array }> {
  const { certPem, privateKey } = selfSignedCertificate(hostnames);
  const keyDer = new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" }));
  return Promise.resolve({ certPem, keyDer });
}

function keyPem(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .match(/.{1,64}/g)!
    .join("\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

/** Creates the certificate and key if the vault has none; returns them (key as PEM, in memory only). */
export async function ensureServerTls(
  vault: Vault,
  hostnames: readonly string[] = ["localhost", "127.0.0.1", "::1"],
): Promise<ServerTls> {
  const certPath = path.join(vault.dataDir, CERT_FILE);
  let certPem: string | undefined;
  try {
    certPem = await fs.readFile(certPath, "utf8");
  } catch {
    certPem = undefined;
  }
  const current = certPem ? await vault.tlsKey.current() : undefined;
  if (certPem && current) {
    const pem = keyPem(current);
    wipe(current);
    return { cert: certPem, key: pem, fingerprint: fingerprint(certPem) };
  }
  // none yet, or a root rotation replaced the key: a new key and certificate
  const made = await generate(hostnames);
  await vault.tlsKey.replace(made.keyDer);
  await fs.mkdir(path.dirname(certPath), { recursive: true, mode: 0o700 });
  await writeFileAtomic(certPath, new TextEncoder().encode(made.certPem), { mode: 0o644 });
  const pem = keyPem(made.keyDer);
  wipe(made.keyDer);
  return { cert: made.certPem, key: pem, fingerprint: fingerprint(made.certPem) };
}
