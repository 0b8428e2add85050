/**
 * Random identifiers: a type prefix and 128 random bits in Crockford base32 (26 characters).
 * They carry no personal data, no time and no order; parsing is strict so an id can never smuggle
 * a path or a query into a store.
 */
import { randomBytes } from "node:crypto";
import { VaultError } from "./errors.js";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
export type IdKind =
  | "vlt"
  | "sub"
  | "blb"
  | "evt"
  | "crt"
  | "rec"
  | "drv"
  | "prn"
  | "tok"
  | "cns"
  | "bgr"
  | "upl"
  | "hst"
  | "imp";

export function newId(kind: IdKind): string {
  const bytes = randomBytes(17); // 136 bits drawn, the top 130 used: 26 symbols
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      bits -= 5;
      out += ALPHABET.charAt((acc >> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  return `${kind}_${out}`;
}

const ID_RE = /^(vlt|sub|blb|evt|crt|rec|drv|prn|tok|cns|bgr|upl|hst)_[0-9a-hjkmnp-tv-z]{26}$/;

export function isId(kind: IdKind, s: unknown): s is string {
  return typeof s === "string" && ID_RE.test(s) && s.startsWith(`${kind}_`);
}

export function parseId(kind: IdKind, s: unknown, what = "id"): string {
  if (!isId(kind, s))
    throw new VaultError("INVALID_ARGUMENT", `malformed ${what}: expected ${kind}_ and 26 base32 characters`);
  return s;
}
