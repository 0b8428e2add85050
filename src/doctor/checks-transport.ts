/**
 * Doctor checks of transport: the server's TLS certificate (expiry, key strength) and the
 * metadata connection (TLS to PostgreSQL off loopback, a superuser role).
 */
import { X509Certificate } from "node:crypto";
import { promises as fs } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { Vault } from "../platform/vault.js";
import { TLS_CERT_FILE } from "../vault/secret-names.js";
import type { Finding } from "./finding.js";

const DAY = 86_400_000;

export async function checkTls(vault: Vault, now: Date): Promise<Finding[]> {
  const file = path.join(vault.dataDir, TLS_CERT_FILE);
  let pem: string;
  try {
    pem = await fs.readFile(file, "utf8");
  } catch {
    return []; // no embedded certificate (serve not run yet, or TLS ends at a proxy)
  }
  const out: Finding[] = [];
  const cert = new X509Certificate(pem);
  const left = Math.floor((Date.parse(cert.validTo) - now.getTime()) / DAY);
  if (left < 30)
    out.push({
      rule: "transport.tls-expiry",
      severity: left < 0 ? "high" : "medium",
      area: "transport",
      what:
        left < 0
          ? `the server certificate expired ${-left} days ago`
          : `the server certificate expires in ${left} days`,
      why: "clients that pin or verify it stop connecting, and operators learn to click through warnings",
      fix: `remove ${file} and restart voxvault serve (a new one is made), or renew the certificate you supply`,
      location: file,
    });
  const key = cert.publicKey;
  const d = key.asymmetricKeyDetails;
  const weak =
    (key.asymmetricKeyType === "rsa" && (d?.modulusLength ?? 0) < 2048) ||
    (key.asymmetricKeyType === "ec" &&
      !["prime256v1", "secp384r1", "secp521r1"].includes(d?.namedCurve ?? ""));
  if (weak)
    out.push({
      rule: "transport.tls-weak-key",
      severity: "high",
      area: "transport",
      what: `the server certificate's key is weak (${key.asymmetricKeyType ?? "?"} ${d?.modulusLength ?? d?.namedCurve ?? ""})`,
      why: "a weak key lets traffic with voice and tokens be decrypted or impersonated",
      fix: "issue a certificate on an ECDSA P-256 (or RSA ≥ 2048) key",
      location: file,
    });
  return out;
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host.startsWith("/")) return true; // a Unix socket
  const h = host.replace(/^\[|\]$/g, "");
  if (net.isIPv4(h)) return h.startsWith("127.");
  return h === "::1";
}

/** The PostgreSQL URL's TLS settings (the URL itself is never printed: it may hold a password). */
export function checkPostgresUrl(url: string): Finding[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [];
  }
  const host = u.searchParams.get("host") ?? u.hostname;
  if (isLoopback(host)) return [];
  const mode = u.searchParams.get("sslmode");
  if (mode === "verify-full") return [];
  return [
    {
      rule: "transport.postgres-tls",
      severity: "high",
      area: "transport",
      what: `PostgreSQL at ${host} is reached with sslmode=${mode ?? "(none)"}`,
      why: "without verified TLS the metadata (wrapped keys, audit log, tokens' hashes) crosses the network open to tampering",
      fix: "add sslmode=verify-full (and sslrootcert) to VOXVAULT_PG_URL",
    },
  ];
}

export async function checkPostgresRole(vault: Vault): Promise<Finding[]> {
  const role = await vault.health.databaseRole();
  if (!role?.superuser) return [];
  return [
    {
      rule: "transport.postgres-superuser",
      severity: "high",
      area: "transport",
      what: `the vault connects to PostgreSQL as ${role.name}, a superuser`,
      why: "a superuser can disable the audit table's append-only trigger and read every schema",
      fix: "connect as a role that owns only the vault's schema (CREATE ROLE voxvault LOGIN; GRANT … ON SCHEMA …)",
    },
  ];
}
