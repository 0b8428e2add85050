/**
 * Strict text encodings shared by the note, checkpoint and cosignature formats.
 *
 * Everything here rejects rather than repairs: two different byte strings must never parse to
 * the same value, or a signed text could be re-encoded without breaking its signature.
 */

// RFC 4648 §4 standard alphabet with padding. Buffer's decoder is lenient (it skips junk and
// accepts missing padding), so the shape is checked first and the result re-encoded below.
const BASE64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical padded base64 (RFC 4648 §4); undefined for anything else. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!BASE64_SHAPE.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  // Non-zero pad bits ("AB==" vs "AA==") decode to the same bytes; only the canonical form passes.
  if (bytes.toString("base64") !== text) return undefined;
  return new Uint8Array(bytes); // a copy: small Buffers are views into a shared pool
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

const UTF8 = new TextEncoder();
const UTF8_FATAL = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return UTF8.encode(text);
}

/** Decodes UTF-8, rejecting invalid sequences instead of substituting U+FFFD. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return UTF8_FATAL.decode(bytes);
  } catch {
    return undefined;
  }
}

// A lone surrogate cannot be encoded as UTF-8; in u-mode a valid pair is one code point (not Cs).
const LONE_SURROGATE = /\p{Cs}/u;
/** True when `text` is valid Unicode and contains no ASCII control character except U+000A. */
export function isNoteSafeText(text: string): boolean {
  // C2SP signed-note §Format: no ASCII control characters (below U+0020) other than newline.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return false;
  }
  return !LONE_SURROGATE.test(text);
}

// C2SP signed-note §Format: key names are non-empty and contain no Unicode space and no "+".
// Go's unicode.IsSpace also counts U+0085, which \s does not; control characters never belong.
const KEY_NAME = /^[^\s\u0085+\p{Cc}]+$/u;

export function isValidKeyName(name: string): boolean {
  return KEY_NAME.test(name) && !LONE_SURROGATE.test(name);
}

/** Key ids are printed as exactly 8 lowercase hex digits (C2SP signed-note §Verifier keys). */
export function formatKeyId(keyId: number): string {
  return keyId.toString(16).padStart(8, "0");
}

export function parseKeyId(text: string): number | undefined {
  return /^[0-9a-f]{8}$/.test(text) ? Number.parseInt(text, 16) : undefined;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
