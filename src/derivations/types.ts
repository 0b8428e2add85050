/** What every derivation kind declares (src/derivations/index.ts keeps the registry). */
import type { AudioInfo } from "../audio/decode/index.js";
import type { FeatureReport, LoudnessResult } from "../audio/features/index.js";
import type { CanonicalValue } from "../crypto/jcs.js";
import type { SpeakersSummary } from "./speakers.js";

/** Name + version + parameters, recorded with every result (so a result says how it was made). */
export interface Recipe<N extends string = string> {
  readonly name: N;
  readonly version: number;
  readonly params: Readonly<Record<string, CanonicalValue>>;
}

/** What the one analysis pass over a recording yields, for the kinds summarised from it. */
export interface SummaryInput {
  readonly info: AudioInfo;
  readonly report: FeatureReport;
  readonly loudness: LoudnessResult;
  /** Diarisation and the enrolment choice, when they ran (src/ingest/speakers.ts). */
  readonly speakers?: {
    readonly summary: SpeakersSummary;
    readonly recipe: Record<string, number | string>;
  };
}

export type ContentType = "application/json" | "application/octet-stream" | "audio/wav";

/** How ingest produces a kind. */
export type Production<N extends string> =
  /** From the analysis pass's summary: small, canonical bytes. */
  | {
      readonly kind: "summary";
      /** null: nothing to store for this recording (the input it needs did not arise). */
      summarize(input: SummaryInput): { recipe: Recipe<N>; payload: Uint8Array } | null;
    }
  /** From the speaker embedding, protected per application (src/template). */
  | { readonly kind: "template" }
  /** Written while the pass runs (frame features, audio), encrypted as it streams. */
  | { readonly kind: "stream" };

export interface DerivationKind<N extends string = string> {
  readonly name: N;
  /**
   * Frame-level features and audio can be inverted to intelligible speech (vocoders); such
   * material is kept only under a retention rule and served only with a break-glass grant.
   */
  readonly reconstructable: boolean;
  /** What the API serves it as. */
  readonly contentType: ContentType;
  readonly description: string;
  readonly production: Production<N>;
}

export function defineKind<const N extends string>(kind: DerivationKind<N>): DerivationKind<N> {
  return Object.freeze(kind);
}

/** Rounds for storage: metrics carry no meaning beyond these decimals, and JCS needs integers. */
export function milli(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1000);
}
