export type { BlobContext } from "./context.js";
export { encodeBlobContext } from "./context.js";
export {
  DEFAULT_SEGMENT_LOG2,
  FORMAT_VERSION,
  HEADER_LENGTH,
  MAGIC,
  MAX_SEGMENT_LOG2,
  MIN_SEGMENT_LOG2,
  TAG_LENGTH,
  parseHeaderFields,
} from "./header.js";
export { sealStream, sealBuffer, type SealOptions } from "./seal.js";
export { openStream, openBuffer, type OpenOptions } from "./open.js";
export { openRange, blobLayout, type RandomAccessSource, type BlobLayout } from "./range.js";
export { collect } from "./io.js";
