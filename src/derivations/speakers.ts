/**
 * `speakers`: who spoke when in a recording (src/diarise), and which voice was enrolled. Times and
 * scores only: segment boundaries, a speaker label per segment, per speaker the speaking time and
 * the protected-domain match score against the subject's enrolled templates and the tenant's
 * staff voices. Nothing in it can be turned back into a voice; canonical JSON.
 */
import { canonicalJson } from "../crypto/jcs.js";
import { defineKind, milli, type Recipe, type SummaryInput } from "./types.js";

/** How the enrolled voice was chosen (src/ingest/speakers.ts). */
export type EnrolmentDecision =
  /** one voice in the recording */
  | "single"
  /** the one voice that matches the subject's enrolled templates */
  | "match"
  /** the one voice left once the staff voices are set aside */
  | "exclusion"
  /** several candidate voices and nothing to tell them apart: nothing enrolled */
  | "ambiguous"
  /** no speech or no template to make */
  | "none";

export interface SpeakersSummary {
  readonly segments: readonly { readonly start: number; readonly end: number; readonly speaker: number }[];
  readonly speakers: readonly {
    readonly speakingSec: number;
    /** Score against the subject's enrolled templates (null when none, or not scored). */
    readonly subjectScore: number | null;
    /** Best score against a staff voice of the tenant (null when there is none). */
    readonly staffScore: number | null;
    readonly staff: boolean;
  }[];
  /** Speaker index enrolled, or null. */
  readonly enrolled: number | null;
  readonly decision: EnrolmentDecision;
  readonly threshold: number | null;
}

export function speakersRecipe(params: Record<string, number | string>): Recipe<"speakers"> {
  return { name: "speakers", version: 1, params };
}

export function speakersPayload(s: SpeakersSummary): Uint8Array {
  const ms = (x: number): number => Math.round(x * 1000);
  const payload = {
    segments: s.segments.map((g) => [ms(g.start), ms(g.end), g.speaker]),
    speakers: s.speakers.map((p, i) => ({
      label: i,
      speakingMs: ms(p.speakingSec),
      subjectScoreMilli: milli(p.subjectScore),
      staffScoreMilli: milli(p.staffScore),
      staff: p.staff,
    })),
    enrolled: s.enrolled,
    decision: s.decision,
    thresholdMilli: milli(s.threshold),
  };
  return new TextEncoder().encode(canonicalJson(payload));
}

export const speakers = defineKind({
  name: "speakers",
  reconstructable: false,
  contentType: "application/json",
  description: "who spoke when: segment times, speaker labels, speaking time and match scores per speaker",
  production: {
    kind: "summary",
    summarize: (input: SummaryInput) =>
      input.speakers
        ? { recipe: speakersRecipe(input.speakers.recipe), payload: speakersPayload(input.speakers.summary) }
        : null,
  },
});
