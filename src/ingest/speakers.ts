/**
 * Which voice of a recording to enrol (issue 15 §2): only the contractor's, never a mixture.
 *
 * A recording with one voice enrols the whole recording's embedding, as before diarisation. With
 * several voices (each with at least SIGNIFICANT_SEC of speech), the candidates are the voices that
 * match no staff voice of the tenant (interviewers, AI interviewers' synthetic voices, enrolled as
 * `staff` subjects); when the subject already has templates, only candidates that match them stay.
 * Exactly one candidate is enrolled from the embedding of all its speech; otherwise the decision is
 * "ambiguous" and nothing is enrolled (AMBIGUOUS_SPEAKER in the result). Scores are computed in the
 * protected domain (src/template), like verify-speaker's.
 */
import {
  DEFAULT_MAX_DISTANCE,
  DEFAULT_MERGE_DISTANCE,
  HOP_FRAMES,
  WINDOW_HOPS,
  type Diarisation,
} from "../diarise/index.js";
import type { EnrolmentDecision, SpeakersSummary } from "../derivations/speakers.js";
import { decodeTemplate, type TemplateProtector } from "../template/index.js";

/** Less speech than this is not a voice to decide about (a cough, a backchannel). */
export const SIGNIFICANT_SEC = 3;

export interface EnrolmentChoice {
  readonly summary: SpeakersSummary;
  /** The embedding to enrol (a fresh array the caller wipes), or undefined. */
  readonly embedding: Float32Array | undefined;
}

/** Mean of the best three comparisons, as verify-speaker scores (src/ingest/service.ts). */
export function scoreAgainst(
  protector: TemplateProtector,
  templates: readonly Uint8Array[],
  probe: Float32Array,
): number | null {
  if (templates.length === 0) return null;
  const p = protector.protect(probe);
  const scores = templates.map((t) => protector.compare(decodeTemplate(t), p)).sort((a, b) => b - a);
  const top = scores.slice(0, 3);
  return top.reduce((a, b) => a + b, 0) / top.length;
}

/** A voice to decide about: enough speech for a reliable embedding of it. */
function isSignificant(s: Diarisation["speakers"][number]): boolean {
  return s.speakingSec >= SIGNIFICANT_SEC && s.frames >= 50 && s.centroid.some((x) => x !== 0);
}

/**
 * One voice, on all of its speech: its score against the subject's templates and its best score
 * against a staff subject's; null for a voice with too little speech to score.
 */
function scoreVoice(
  s: Diarisation["speakers"][number],
  protector: TemplateProtector,
  subject: readonly Uint8Array[],
  staff: readonly (readonly Uint8Array[])[],
): { subjectScore: number | null; staffScore: number | null } | null {
  if (!isSignificant(s)) return null;
  let staffScore: number | null = null;
  for (const t of staff) {
    const sc = scoreAgainst(protector, t, s.centroid);
    if (sc !== null && (staffScore === null || sc > staffScore)) staffScore = sc;
  }
  return { subjectScore: scoreAgainst(protector, subject, s.centroid), staffScore };
}

export function chooseEnrolment(input: {
  readonly diarisation: Diarisation;
  /** The whole recording's embedding (used when there is one voice). */
  readonly wholeEmbedding: Float32Array | undefined;
  readonly protector: TemplateProtector | undefined;
  readonly subjectTemplates: readonly Uint8Array[];
  /** Per staff subject, their templates. */
  readonly staffTemplates: readonly (readonly Uint8Array[])[];
  readonly threshold: number | undefined;
}): EnrolmentChoice {
  const { diarisation: d, protector, threshold } = input;
  const significant = d.speakers.map(isSignificant);
  const count = significant.filter(Boolean).length;
  const scored = d.speakers.map((s) => {
    const sc = protector ? scoreVoice(s, protector, input.subjectTemplates, input.staffTemplates) : null;
    const staffScore = sc?.staffScore ?? null;
    return {
      speakingSec: s.speakingSec,
      subjectScore: sc?.subjectScore ?? null,
      staffScore,
      staff: staffScore !== null && threshold !== undefined && staffScore >= threshold,
    };
  });
  const summary = (decision: EnrolmentDecision, enrolled: number | null): SpeakersSummary => ({
    segments: d.segments,
    speakers: scored,
    enrolled,
    decision,
    threshold: threshold ?? null,
  });
  if (count === 0)
    return {
      summary: summary(input.wholeEmbedding ? "single" : "none", null),
      embedding: input.wholeEmbedding,
    };
  if (count === 1) {
    const only = significant.indexOf(true);
    return {
      summary: summary(input.wholeEmbedding ? "single" : "none", input.wholeEmbedding ? only : null),
      embedding: input.wholeEmbedding,
    };
  }
  if (threshold === undefined || protector === undefined)
    return { summary: summary("ambiguous", null), embedding: undefined };
  let candidates = scored.map((_, i) => i).filter((i) => significant[i] && !scored[i]!.staff);
  let decision: EnrolmentDecision = "exclusion";
  if (input.subjectTemplates.length > 0) {
    candidates = candidates.filter((i) => (scored[i]!.subjectScore ?? -Infinity) >= threshold);
    decision = "match";
  }
  if (candidates.length !== 1) return { summary: summary("ambiguous", null), embedding: undefined };
  const chosen = candidates[0]!;
  return { summary: summary(decision, chosen), embedding: Float32Array.from(d.speakers[chosen]!.centroid) };
}

/** The `speakers` derivation's recipe parameters. */
export function diarisationRecipe(embedderId: string): Record<string, number | string> {
  return {
    embedder: embedderId,
    windows: `${(WINDOW_HOPS * HOP_FRAMES) / 100} s windows every ${HOP_FRAMES / 100} s over VAD speech frames`,
    clustering: "average-linkage AHC on cosine distance, then merging clusters of whole-speech embeddings",
    maxDistanceMilli: Math.round(DEFAULT_MAX_DISTANCE * 1000),
    mergeDistanceMilli: Math.round(DEFAULT_MERGE_DISTANCE * 1000),
    significantSec: SIGNIFICANT_SEC,
  };
}

/** A voice other than the subject's and the staff's must speak this long to count as a proxy. */
export const PROXY_MIN_SEC = 10;

export interface VoiceVerdict {
  readonly speakingSec: number;
  /** Score against the subject (null for a voice with too little speech to score). */
  readonly score: number | null;
  readonly match: boolean;
  readonly staff: boolean;
}

/**
 * Below the threshold by this much, one turn counts as another voice; negative: a turn must clear
 * the threshold by that much to count as the subject's. Chosen on the tuning voices (analysed with
 * fold models that never heard them) as the margin detecting the most swaps with at most 2 % false
 * alarms, ties to the margin nearest 0 (bench/diarise/proxy.ts, docs/diarisation.md).
 */
export const TURN_MARGIN = -0.04;

/**
 * Verification of a diarised recording, per voice and per turn. The result's score is the best
 * non-staff voice's. `proxySuspected` when the subject's voice is present (a matching voice, or
 * matching turns) and another voice answered for at least PROXY_MIN_SEC: either a whole non-staff
 * voice that does not match, or non-staff turns scoring below threshold − margin (someone the
 * clustering merged into the candidate's voice). Interviewers not enrolled as staff count as
 * non-staff: enrol them, or the flag fires on them.
 */
export function verifyVoices(input: {
  readonly diarisation: Diarisation;
  readonly protector: TemplateProtector;
  readonly subject: readonly Uint8Array[];
  readonly staff: readonly (readonly Uint8Array[])[];
  readonly threshold: number;
  readonly turnMargin?: number;
}): {
  score: number | undefined;
  speakers: VoiceVerdict[];
  segments: Diarisation["segments"];
  proxySuspected: boolean;
  /** Turns judged to be another voice than the subject's (non-staff), with their times. */
  proxyTurns: { start: number; end: number }[];
} {
  const { diarisation: d, protector, threshold } = input;
  const margin = input.turnMargin ?? TURN_MARGIN;
  const speakers = d.speakers.map((s) => {
    const sc = scoreVoice(s, protector, input.subject, input.staff);
    const score = sc?.subjectScore ?? null;
    const staff = sc?.staffScore != null && sc.staffScore >= threshold;
    return { speakingSec: s.speakingSec, score, match: score !== null && score >= threshold, staff };
  });
  const candidates = speakers.filter((s) => !s.staff && s.score !== null);
  const score = candidates.length > 0 ? Math.max(...candidates.map((s) => s.score!)) : undefined;
  // per turn, among non-staff voices
  let matchSec = 0;
  const proxyTurns: { start: number; end: number }[] = [];
  for (const t of d.turns) {
    const v = speakers[t.speaker];
    if (!v || v.staff || !t.embedding) continue;
    const sc = scoreAgainst(protector, input.subject, t.embedding)!;
    // A negative margin is a stricter turn threshold: turns just above the threshold count as
    // another voice too (they never count as the subject's).
    if (sc < threshold - margin) proxyTurns.push({ start: t.start, end: t.end });
    else if (sc >= threshold) matchSec += t.end - t.start;
  }
  const otherSec = proxyTurns.reduce((n, t) => n + t.end - t.start, 0);
  const otherVoices = new Set(
    speakers
      .map((s, i) => (!s.staff && s.score !== null && !s.match && s.speakingSec >= PROXY_MIN_SEC ? i : -1))
      .filter((i) => i >= 0),
  );
  const voiceLevel = candidates.some((s) => s.match) && otherVoices.size > 0;
  const turnLevel = matchSec >= SIGNIFICANT_SEC && otherSec >= PROXY_MIN_SEC;
  if (voiceLevel) {
    for (const t of d.turns) {
      if (otherVoices.has(t.speaker) && !proxyTurns.some((p) => p.start === t.start)) {
        proxyTurns.push({ start: t.start, end: t.end });
      }
    }
    proxyTurns.sort((a, b) => a.start - b.start);
  }
  return { score, speakers, segments: d.segments, proxySuspected: voiceLevel || turnLevel, proxyTurns };
}
