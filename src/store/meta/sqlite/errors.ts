import { VaultError } from "../../../errors.js";

export function translateSqliteError(e: unknown): unknown {
  if (e instanceof VaultError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return e;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new VaultError("VAULT_BUSY", "another process holds the vault's write lock", { cause: e });
  }
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    return new VaultError("VAULT_CORRUPT", "the metadata database is damaged", { cause: e });
  }
  if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR") || code === "SQLITE_FULL") {
    return new VaultError("STORE_IO", `metadata database I/O failed (${code})`, { cause: e });
  }
  if (code.startsWith("SQLITE_READONLY")) {
    return new VaultError("STORE_IO", "metadata database is read-only", { cause: e });
  }
  return e;
}
