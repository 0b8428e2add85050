import { VaultError } from "../../../errors.js";

interface S3ErrorShape {
  readonly name?: string;
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

export function httpStatus(e: unknown): number | undefined {
  return (e as S3ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

export function errorName(e: unknown): string {
  const s = e as S3ErrorShape | undefined;
  return s?.name ?? s?.Code ?? "";
}

/** A missing object (a missing bucket is not: that is a configuration error, STORE_IO). */
export function isNotFound(e: unknown): boolean {
  const n = errorName(e);
  if (n === "NoSuchBucket") return false;
  return n === "NoSuchKey" || n === "NotFound" || n === "NoSuchUpload" || httpStatus(e) === 404;
}

/** 412 (conditional write refused: the name exists) and 409 (a concurrent conditional write). */
export function isPreconditionFailed(e: unknown): boolean {
  const n = errorName(e);
  return n === "PreconditionFailed" || httpStatus(e) === 412 || n === "ConditionalRequestConflict";
}

/** S3 errors as the vault's codes; the bucket name and the message stay, credentials never appear. */
export function translateS3Error(e: unknown, what: string): VaultError {
  if (e instanceof VaultError) return e;
  if (isNotFound(e)) return new VaultError("BLOB_NOT_FOUND", `${what}: no such object`, { cause: e });
  const status = httpStatus(e);
  const name = errorName(e) || "error";
  const hint =
    name === "AccessDenied" || status === 403
      ? " (check the credentials and the bucket policy)"
      : name === "NoSuchBucket"
        ? " (the bucket does not exist)"
        : "";
  return new VaultError("STORE_IO", `${what}: S3 ${name}${status ? ` (HTTP ${status})` : ""}${hint}`, {
    cause: e,
  });
}
