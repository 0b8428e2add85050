/** Derivation names (kept apart from the zod-based config so the CLI loads them cheaply). */
export const DERIVATION_NAMES = ["quality", "voice-stats", "speaker-template", "frames", "raw"] as const;
export type DerivationName = (typeof DERIVATION_NAMES)[number];
