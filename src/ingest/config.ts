/**
 * Abstraction settings kept in vault.json: which purposes exist and what each may receive,
 * what reconstructable material is kept and for how long, input limits, and the embedder.
 * Every section is optional; the defaults are the privacy-preserving choice.
 */
import { z } from "zod";
import { VaultError } from "../errors.js";
import { parseDuration } from "../vault/duration.js";

import { DERIVATION_NAMES, RECONSTRUCTABLE } from "../derivations/index.js";

const durationString = z.string().refine((s) => {
  try {
    return parseDuration(s) > 0;
  } catch {
    return false;
  }
}, "a positive duration such as 30d");

export const RetentionRuleSchema = z.union([
  z.strictObject({ mode: z.literal("discard") }),
  z.strictObject({ mode: z.literal("keep"), ttl: durationString }),
]);
export type RetentionRule = z.infer<typeof RetentionRuleSchema>;

export const PurposeSchema = z.strictObject({
  description: z.string().min(1).max(500),
  derivations: z.array(z.enum(DERIVATION_NAMES)).min(1),
  /** Whether reconstructable material may ever be granted for this purpose (break-glass only). */
  reconstructable: z.boolean(),
});
export type Purpose = z.infer<typeof PurposeSchema>;

export const EmbedderConfigSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("builtin") }),
  z.strictObject({ kind: z.literal("onnx"), model: z.string().min(1) }),
]);
export type EmbedderConfig = z.infer<typeof EmbedderConfigSchema>;

export const IngestLimitsSchema = z.strictObject({
  maxInputBytes: z.number().int().positive().optional(),
  maxDurationSec: z.number().positive().optional(),
  minDurationSec: z.number().nonnegative().optional(),
  maxChannels: z.number().int().min(1).max(8).optional(),
  minSpeechSec: z.number().nonnegative().optional(),
  /** Analysis gives up with NO_SPEECH once this much audio held less than minSpeechSec of speech. */
  speechSearchSec: z.number().positive().optional(),
});
export type IngestLimits = z.infer<typeof IngestLimitsSchema>;

export const AbstractionConfigSchema = z.strictObject({
  retention: z.strictObject({ raw: RetentionRuleSchema, frames: RetentionRuleSchema }).optional(),
  purposes: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,62}$/), PurposeSchema).optional(),
  limits: IngestLimitsSchema.optional(),
  embedder: EmbedderConfigSchema.optional(),
  /** Decision threshold for verify-speaker; default: the embedder's calibrated EER threshold. */
  verificationThreshold: z.number().min(0).max(1).optional(),
  /**
   * "native": decode with ffmpeg from PATH (faster, outside the WebAssembly sandbox); default
   * "sandbox" (docs/audio-input.md, "Native fast path").
   */
  decoder: z.enum(["sandbox", "native"]).optional(),
});
export type AbstractionConfig = z.infer<typeof AbstractionConfigSchema>;

export const DEFAULT_PURPOSES: Readonly<Record<string, Purpose>> = Object.freeze({
  "identity-verification": {
    description:
      "Check that a new recording (e.g. an interview) is the enrolled contractor, against proxy applicants.",
    derivations: ["speaker-template"],
    reconstructable: false,
  },
  "quality-review": {
    description: "Recording quality: duration, speech ratio, noise, clipping, loudness.",
    derivations: ["quality"],
    reconstructable: false,
  },
  "research-aggregates": {
    description: "Utterance-level voice statistics only (F0 percentiles, speaking rate, voiced ratio).",
    derivations: ["voice-stats"],
    reconstructable: false,
  },
  "asr-training": {
    description:
      "Frame-level features for speech-recognition training. Reconstructable: explicit consent and retention required.",
    derivations: ["frames"],
    reconstructable: true,
  },
});

export interface ResolvedAbstraction {
  readonly retention: { readonly raw: RetentionRule; readonly frames: RetentionRule };
  readonly purposes: Readonly<Record<string, Purpose>>;
  readonly limits: IngestLimits;
  readonly embedder: EmbedderConfig;
  readonly verificationThreshold: number | undefined;
  readonly decoder: "sandbox" | "native";
}

export function resolveAbstraction(c: AbstractionConfig | undefined): ResolvedAbstraction {
  const purposes = c?.purposes ?? DEFAULT_PURPOSES;
  for (const [name, p] of Object.entries(purposes)) {
    const wantsReconstructable = p.derivations.some((d) => RECONSTRUCTABLE.has(d));
    if (wantsReconstructable && !p.reconstructable) {
      throw new VaultError(
        "CONFIG_INVALID",
        `purpose ${name} lists reconstructable derivations but reconstructable is false`,
      );
    }
  }
  const discard: RetentionRule = { mode: "discard" };
  const builtin: EmbedderConfig = { kind: "builtin" };
  return Object.freeze({
    retention: c?.retention ?? { raw: discard, frames: discard },
    purposes,
    limits: c?.limits ?? {},
    embedder: c?.embedder ?? builtin,
    verificationThreshold: c?.verificationThreshold,
    decoder: c?.decoder ?? "sandbox",
  });
}

export function retentionExpiry(rule: RetentionRule, now: Date): Date | undefined {
  return rule.mode === "keep" ? new Date(now.getTime() + parseDuration(rule.ttl)) : undefined;
}
