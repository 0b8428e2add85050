import { VaultError } from "../../../errors.js";

/** Seconds a client should wait before retrying while PostgreSQL is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SEC = 2;

/** Socket-level failures: the server is down, restarting, or the network between is. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Messages pg gives for a connection lost, refused or unusable (they carry no code). */
const LOST_RE =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection refused|socket hang up/i;

/**
 * Whether an error means "PostgreSQL cannot be reached right now": SQLSTATE classes 08
 * (connection exception), 57P (operator intervention: admin shutdown 57P01, crash shutdown
 * 57P02, cannot connect now 57P03), 53 (insufficient resources, e.g. too many connections), or a
 * lost or refused socket.
 */
export function isUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code))
      return code.startsWith("08") || code.startsWith("53") || code.startsWith("57P");
  }
  return e instanceof Error && LOST_RE.test(e.message);
}

export function unavailable(e: unknown): VaultError {
  return new VaultError(
    "METADATA_UNAVAILABLE",
    "the PostgreSQL metadata store cannot be reached; retry later",
    {
      cause: e,
      details: { retryAfterSec: UNAVAILABLE_RETRY_AFTER_SEC },
    },
  );
}

/** SQLSTATE classes (PostgreSQL Appendix A) that map to vault errors. */
export function translatePostgresError(e: unknown): unknown {
  if (e instanceof VaultError) return e;
  if (isUnavailable(e)) return unavailable(e);
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return e;
  if (code === "40001" || code === "40P01" || code === "55P03") {
    return new VaultError("VAULT_BUSY", "metadata transaction conflicted; try again", { cause: e });
  }
  if (code === "XX001" || code === "XX002") {
    return new VaultError("VAULT_CORRUPT", "the metadata database is damaged", { cause: e });
  }
  if (code === "3F000" || code === "42P01") {
    return new VaultError("VAULT_NOT_FOUND", "no voxvault schema in that PostgreSQL database", { cause: e });
  }
  return e;
}
