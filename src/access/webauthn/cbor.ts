/**
 * The subset of CBOR (RFC 8949) that WebAuthn uses: unsigned and negative integers, byte and text
 * strings, arrays, maps, true/false/null, with definite lengths only. Anything else — indefinite
 * lengths, tags, floats, 64-bit lengths, nesting deeper than 8, duplicate map keys, trailing
 * bytes where the caller says none may follow — is refused (fail closed: WebAuthn §6.5.1 requires
 * the CTAP2 canonical form, and nothing here is allowed to be ambiguous).
 */
import { VaultError } from "../../errors.js";

export type CborValue =
  number | Uint8Array | string | boolean | null | CborValue[] | Map<CborValue, CborValue>;

const MAX_DEPTH = 8;
const MAX_ITEMS = 256;

const bad = (why: string) => new VaultError("BAD_REQUEST", `WebAuthn CBOR: ${why}`);

/** Decodes one item at `offset`; returns it and the offset after it. */
export function decodeCbor(bytes: Uint8Array, offset = 0, depth = 0): { value: CborValue; end: number } {
  if (depth > MAX_DEPTH) throw bad("nested too deep");
  if (offset >= bytes.length) throw bad("truncated");
  const head = bytes[offset]!;
  const major = head >> 5;
  const info = head & 0x1f;
  let pos = offset + 1;
  let arg: number;
  if (info < 24) arg = info;
  else if (info === 24 || info === 25 || info === 26) {
    const n = info === 24 ? 1 : info === 25 ? 2 : 4;
    if (pos + n > bytes.length) throw bad("truncated");
    arg = 0;
    for (let i = 0; i < n; i++) arg = arg * 256 + bytes[pos + i]!;
    pos += n;
  } else throw bad(`unsupported additional information ${info}`);
  const take = (n: number): Uint8Array => {
    if (n > bytes.length - pos) throw bad("truncated");
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  switch (major) {
    case 0:
      return { value: arg, end: pos };
    case 1:
      return { value: -1 - arg, end: pos };
    case 2:
      return { value: Uint8Array.from(take(arg)), end: pos };
    case 3: {
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(take(arg));
      } catch {
        throw bad("text is not UTF-8");
      }
      return { value: text, end: pos };
    }
    case 4: {
      if (arg > MAX_ITEMS) throw bad("array too long");
      const out: CborValue[] = [];
      for (let i = 0; i < arg; i++) {
        const item = decodeCbor(bytes, pos, depth + 1);
        out.push(item.value);
        pos = item.end;
      }
      return { value: out, end: pos };
    }
    case 5: {
      if (arg > MAX_ITEMS) throw bad("map too long");
      const out = new Map<CborValue, CborValue>();
      for (let i = 0; i < arg; i++) {
        const k = decodeCbor(bytes, pos, depth + 1);
        if (typeof k.value !== "number" && typeof k.value !== "string")
          throw bad("map key is not an integer or text");
        if (out.has(k.value)) throw bad("duplicate map key");
        const v = decodeCbor(bytes, k.end, depth + 1);
        out.set(k.value, v.value);
        pos = v.end;
      }
      return { value: out, end: pos };
    }
    case 7:
      if (info === 20) return { value: false, end: pos };
      if (info === 21) return { value: true, end: pos };
      if (info === 22) return { value: null, end: pos };
      throw bad("unsupported simple value or float");
    default:
      throw bad("tags are not supported");
  }
}

/** Decodes exactly one item filling `bytes`. */
export function decodeCborAll(bytes: Uint8Array): CborValue {
  const { value, end } = decodeCbor(bytes);
  if (end !== bytes.length) throw bad("trailing bytes");
  return value;
}
