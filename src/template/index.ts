/**
 * Biometric template protection (ISO/IEC 24745): keyed, renewable, unlinkable speaker templates.
 * See docs/template-protection.md. Browser-safe: no node:* modules, no Buffer.
 */

export { createTemplateProtector } from "./protector.js";
export type { TemplateProtector, TemplateProtectorOptions } from "./protector.js";
export {
  compareTemplates,
  decodeTemplate,
  encodeTemplate,
  bitsPerCode,
  TEMPLATE_FORMAT_VERSION,
  TEMPLATE_HEADER_BYTES,
  TEMPLATE_MAGIC,
  SCHEME_GRP_IOM,
} from "./format.js";
export type { ProtectedTemplate } from "./format.js";
export { templateKeyId, TEMPLATE_KEY_BYTES, KEY_ID_BYTES } from "./keyid.js";
export { prepareProfile, MAX_DIM } from "./profile.js";
export type { EmbeddingProfile, LinearTransform, PreparedProfile } from "./profile.js";
export {
  compareCodes,
  deriveProjections,
  iomHash,
  checkIomParams,
  DEFAULT_HASHES,
  DEFAULT_Q,
  MAX_COEFFICIENTS,
} from "./iom.js";
export type { IomParams } from "./iom.js";
export { chacha20Block, ChaChaWordStream } from "./chacha20.js";
