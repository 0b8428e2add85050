import { VaultError } from "../../../errors.js";

export function translateFsError(e: unknown, what: string): VaultError {
  if (e instanceof VaultError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === "ENOENT") return new VaultError("BLOB_NOT_FOUND", `${what}: no such object`, { cause: e });
  if (code === "ENOSPC") return new VaultError("STORE_IO", `${what}: no space left on device`, { cause: e });
  return new VaultError("STORE_IO", `${what}: ${typeof code === "string" ? code : "I/O error"}`, {
    cause: e,
  });
}
