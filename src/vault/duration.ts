import { VaultError } from "../errors.js";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "0", "90s", "15m", "72h", "30d" into milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m)
    throw new VaultError(
      "INVALID_ARGUMENT",
      `not a duration: ${JSON.stringify(s)} (use e.g. 90s, 15m, 72h, 30d)`,
    );
  const n = Number(m[1]);
  if (n !== 0 && m[2] === undefined) throw new VaultError("INVALID_ARGUMENT", `duration ${s} needs a unit`);
  return n * (UNITS[m[2] ?? "ms"] ?? 1);
}

export function formatDuration(ms: number): string {
  for (const [u, f] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}
