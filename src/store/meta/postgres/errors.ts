import { VaultError } from "../../../errors.js";

/** SQLSTATE classes (PostgreSQL Appendix A) that map to vault errors. */
export function translatePostgresError(e: unknown): unknown {
  if (e instanceof VaultError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") {
    const msg = e instanceof Error ? e.message : "";
    if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|Connection terminated/.test(msg)) {
      return new VaultError("STORE_IO", "cannot reach the PostgreSQL metadata store", { cause: e });
    }
    return e;
  }
  if (code === "40001" || code === "40P01" || code === "55P03") {
    return new VaultError("VAULT_BUSY", "metadata transaction conflicted; try again", { cause: e });
  }
  if (code === "XX001" || code === "XX002") {
    return new VaultError("VAULT_CORRUPT", "the metadata database is damaged", { cause: e });
  }
  if (code.startsWith("08") || code.startsWith("53") || code.startsWith("57P")) {
    return new VaultError("STORE_IO", `PostgreSQL unavailable (${code})`, { cause: e });
  }
  if (code === "3F000" || code === "42P01") {
    return new VaultError("VAULT_NOT_FOUND", "no voxvault schema in that PostgreSQL database", { cause: e });
  }
  return e;
}
