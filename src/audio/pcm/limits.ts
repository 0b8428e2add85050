import { VaultError } from "../../errors.js";
import type { AudioInfo, DecodeLimits } from "./types.js";

/** Safe defaults; every field can be overridden per call. */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxInputBytes: 4 * 1024 ** 3,
  maxDurationSec: 4 * 3600,
  minDurationSec: 0.5,
  minSampleRate: 8000,
  maxSampleRate: 192_000,
  maxChannels: 8,
  decodeFloorMs: 10_000,
  decodeMsPerMiB: 4_000,
  decodeMsPerAudioSec: 20,
});

/** Merges overrides onto the defaults and validates them (INVALID_ARGUMENT). */
export function resolveLimits(overrides?: Partial<DecodeLimits>): Readonly<DecodeLimits> {
  const l: DecodeLimits = { ...DEFAULT_DECODE_LIMITS, ...overrides };
  for (const [k, v] of Object.entries(l)) {
    if (typeof v !== "number" || !(v >= 0) || v === Infinity) {
      throw new VaultError("INVALID_ARGUMENT", `limit ${k} must be a finite number >= 0`);
    }
  }
  if (l.minSampleRate < 1 || l.minSampleRate > l.maxSampleRate) {
    throw new VaultError("INVALID_ARGUMENT", "sample rate limits are inconsistent");
  }
  if (l.maxChannels < 1 || !Number.isInteger(l.maxChannels)) {
    throw new VaultError("INVALID_ARGUMENT", "maxChannels must be an integer >= 1");
  }
  if (l.minDurationSec > l.maxDurationSec) {
    throw new VaultError("INVALID_ARGUMENT", "minDurationSec exceeds maxDurationSec");
  }
  return Object.freeze(l);
}

/** Header-time checks: layout, then declared duration. */
export function checkInfo(info: AudioInfo, limits: DecodeLimits): void {
  const { sampleRate, channels } = info;
  if (!Number.isInteger(channels) || channels < 1 || channels > limits.maxChannels) {
    throw new VaultError("UNSUPPORTED_LAYOUT", `unsupported channel count ${channels}`, {
      details: { channels },
    });
  }
  if (
    !Number.isInteger(sampleRate) ||
    sampleRate < limits.minSampleRate ||
    sampleRate > limits.maxSampleRate
  ) {
    throw new VaultError("UNSUPPORTED_LAYOUT", `unsupported sample rate ${sampleRate}`, {
      details: { sampleRate },
    });
  }
  if (info.declaredDurationSec !== undefined && info.declaredDurationSec > limits.maxDurationSec) {
    throw new VaultError("TOO_LONG", "declared duration exceeds the limit", {
      details: { declaredSec: Math.round(info.declaredDurationSec) },
    });
  }
}
