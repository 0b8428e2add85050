/**
 * The associated data every blob is bound to. A blob moved to another tenant, subject, blob id or
 * kind fails to open with BLOB_CONTEXT_MISMATCH (docs/format.md §3).
 */
import { encodeFields } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";

export interface BlobContext {
  readonly tenant: string;
  readonly subject: string;
  readonly blobId: string;
  readonly kind: string;
}

const CONTEXT_LABEL = "voxvault/blob-context/v1";
const MAX_FIELD = 256;

export function encodeBlobContext(ctx: BlobContext): Uint8Array {
  const fields = [ctx.tenant, ctx.subject, ctx.blobId, ctx.kind];
  for (const f of fields) {
    if (typeof f !== "string" || f.length === 0 || f.length > MAX_FIELD) {
      throw new VaultError(
        "INVALID_ARGUMENT",
        "blob context fields must be non-empty strings of at most 256 characters",
      );
    }
  }
  return encodeFields([CONTEXT_LABEL, ...fields]);
}
