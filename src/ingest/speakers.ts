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
  type Piece,
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
  return scoreProtected(protector, templates, protector.protect(probe));
}

/** scoreAgainst for a probe already protected (one protection, many template sets). */
function scoreProtected(
  protector: TemplateProtector,
  templates: readonly Uint8Array[],
  p: ReturnType<TemplateProtector["protect"]>,
): number | null {
  if (templates.length === 0) return null;
  const scores = templates.map((t) => protector.compare(decodeTemplate(t), p)).sort((a, b) => b - a);
  const top = scores.slice(0, 3);
  return top.reduce((a, b) => a + b, 0) / top.length;
}

/** What scoring a voice needs: a diarised speaker, or a group of its segments (regroup). */
type Voice = Pick<Diarisation["speakers"][number], "speakingSec" | "frames" | "centroid">;

/** A voice to decide about: enough speech for a reliable embedding of it. */
function isSignificant(s: Voice): boolean {
  return s.speakingSec >= SIGNIFICANT_SEC && s.frames >= 50 && s.centroid.some((x) => x !== 0);
}

/**
 * One voice, on all of its speech: its score against the subject's templates and its best score
 * against a staff subject's; null for a voice with too little speech to score.
 */
function scoreVoice(
  s: Voice,
  protector: TemplateProtector,
  subject: readonly Uint8Array[],
  staff: readonly (readonly Uint8Array[])[],
): { subjectScore: number | null; staffScore: number | null; staffIndex: number | null } | null {
  if (!isSignificant(s)) return null;
  const p = protector.protect(s.centroid);
  let staffScore: number | null = null;
  let staffIndex: number | null = null;
  staff.forEach((t, j) => {
    const sc = scoreProtected(protector, t, p);
    if (sc !== null && (staffScore === null || sc > staffScore)) {
      staffScore = sc;
      staffIndex = j;
    }
  });
  return { subjectScore: scoreProtected(protector, subject, p), staffScore, staffIndex };
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
    return {
      speakingSec: s.speakingSec,
      subjectScore: sc?.subjectScore ?? null,
      staffScore: sc?.staffScore ?? null,
      staff: threshold !== undefined && isStaff(sc, threshold),
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

/**
 * Voices other than the subject's and the staff's must speak this long, together, to count as a
 * proxy.
 */
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
export const TURN_MARGIN = -0.08;

/**
 * A voice matching a staff subject is that staff member only within this much of the best score
 * any voice of the recording reaches against them; further below, it is another person who
 * resembles them. Chosen with TURN_MARGIN on the tuning voices (bench/diarise/proxy.ts).
 */
export const STAFF_MARGIN = 0.05;

/** A voice to verify: a diarised speaker, or a group of its segments (regroup, below). */
interface Unit {
  readonly speakingSec: number;
  readonly centroid: Float32Array;
  readonly frames: number;
  readonly segments: readonly { readonly start: number; readonly end: number }[];
  /** Index of the diarised speaker it comes from. */
  readonly origin: number;
  readonly score: number | null;
  readonly staff: boolean;
  /** Best score against a staff subject, and which one. */
  readonly staffScore: number | null;
  readonly staffIndex: number | null;
}

/**
 * Staff when it matches a staff voice better than the subject's: a candidate whose voice also
 * clears the threshold against an interviewer's template is still the candidate.
 */
function isStaff(
  sc: { subjectScore: number | null; staffScore: number | null } | null,
  threshold: number,
): boolean {
  if (sc?.staffScore == null || sc.staffScore < threshold) return false;
  return sc.subjectScore === null || sc.staffScore > sc.subjectScore;
}

/** A segment needs this much speech (frames) to be judged alone: 0.5 s. */
const PIECE_MIN_FRAMES = 50;

/**
 * One diarised voice's segments grouped by the enrolled voice each matches (staff, subject, or
 * neither), each group pooled and judged again on all of its speech. Returns the groups when at
 * least two of them, each with SIGNIFICANT_SEC of speech, are judged differently once pooled (the
 * clustering merged two voices); otherwise an empty list. Pooling undoes the noise of short
 * segments: a voice's own segments that scored low on their own pool back into a match.
 */
function regroup(
  d: Diarisation,
  pieces: readonly Piece[],
  judge: (v: Omit<Unit, "score" | "staff" | "staffScore" | "staffIndex">) => Unit,
  kind: (u: Unit) => string | null,
  origin: number,
): Unit[] {
  const label = new Map<Piece, string>();
  for (const p of pieces) {
    if (p.frames < PIECE_MIN_FRAMES) continue;
    const e = d.embed(Float64Array.from(p.stats), p.frames);
    if (!e) continue;
    // judged like a voice (isSignificant's speech-time floor is for whole voices, not segments)
    const k = kind(
      judge({ speakingSec: SIGNIFICANT_SEC, centroid: e, frames: p.frames, segments: [], origin }),
    );
    e.fill(0);
    if (k !== null) label.set(p, k);
  }
  const pool = (members: readonly Piece[]): Unit => {
    const acc = new Float64Array(members[0]!.stats.length);
    let frames = 0;
    for (const p of members) {
      for (let i = 0; i < acc.length; i++) acc[i]! += p.stats[i]!;
      frames += p.frames;
    }
    const centroid = d.embed(acc, frames) ?? new Float32Array(d.speakers[origin]!.centroid.length);
    acc.fill(0);
    const speakingSec = members.reduce((n, p) => n + p.end - p.start, 0);
    return judge({ speakingSec, centroid, frames, segments: members, origin });
  };
  const byLabel = new Map<string, Piece[]>();
  for (const [p, k] of label) {
    const g = byLabel.get(k);
    if (g) g.push(p);
    else byLabel.set(k, [p]);
  }
  if (byLabel.size < 2) return [];
  // pool each group; groups judged alike once pooled are one voice
  const byKind = new Map<string, Piece[]>();
  for (const members of byLabel.values()) {
    const u = pool(members);
    const k = u.speakingSec >= SIGNIFICANT_SEC ? kind(u) : null;
    u.centroid.fill(0);
    if (k !== null) byKind.set(k, [...(byKind.get(k) ?? []), ...members]);
  }
  if (byKind.size < 2) return [];
  const groups = [...byKind.values()];
  // the segments left out (short, or in a group too small) join the group of the nearest
  // grouped segment in time (pieces come in time order)
  const groupOf = new Map<Piece, number>();
  groups.forEach((g, k) => {
    for (const p of g) groupOf.set(p, k);
  });
  const before: (Piece | undefined)[] = [];
  let seen: Piece | undefined;
  for (const p of pieces) {
    if (groupOf.has(p)) seen = p;
    before.push(seen);
  }
  let after: Piece | undefined;
  for (let i = pieces.length - 1; i >= 0; i--) {
    const p = pieces[i]!;
    if (groupOf.has(p)) {
      after = p;
      continue;
    }
    const b = before[i];
    const near = !b || (after && after.start - p.end < p.start - b.end) ? after : b;
    if (near) groups[groupOf.get(near)!]!.push(p);
  }
  return groups.map((g) => pool(g.sort((x, y) => x.start - y.start)));
}

/**
 * Verification of a diarised recording, per voice and per turn (docs/diarisation.md).
 *
 * 1. A diarised voice whose segments, regrouped by the enrolled voice each matches and pooled, are
 *    judged differently counts as several voices: a proxy the clustering merged with the
 *    interviewer or the candidate, or a candidate merged with the interviewer.
 * 2. Staff: a voice matching a staff subject (isStaff) and within `staffMargin` of the best score
 *    any voice reaches against that staff subject; one staff member is one voice.
 * 3. The result's score is the best non-staff voice's. `proxySuspected` when that voice matches
 *    the subject and another voice answered for at least PROXY_MIN_SEC: other non-staff voices
 *    (each at least SIGNIFICANT_SEC) scoring below threshold − margin, together, or, within a
 *    voice left whole, turns scoring below it.
 *
 * Interviewers not enrolled as staff count as non-staff: enrol them, or the flag fires on them.
 */
export function verifyVoices(input: {
  readonly diarisation: Diarisation;
  readonly protector: TemplateProtector;
  readonly subject: readonly Uint8Array[];
  readonly staff: readonly (readonly Uint8Array[])[];
  readonly threshold: number;
  readonly turnMargin?: number;
  readonly staffMargin?: number;
}): {
  score: number | undefined;
  speakers: VoiceVerdict[];
  segments: Diarisation["segments"];
  proxySuspected: boolean;
  /** Stretches judged to be another voice than the subject's (non-staff), with their times. */
  proxyTurns: { start: number; end: number }[];
} {
  const { diarisation: d, protector, threshold } = input;
  const margin = input.turnMargin ?? TURN_MARGIN;
  const staffMargin = input.staffMargin ?? STAFF_MARGIN;
  const judge = (v: Omit<Unit, "score" | "staff" | "staffScore" | "staffIndex">): Unit => {
    const sc = scoreVoice(v, protector, input.subject, input.staff);
    return {
      ...v,
      score: sc?.subjectScore ?? null,
      staff: isStaff(sc, threshold),
      staffScore: sc?.staffScore ?? null,
      staffIndex: sc?.staffIndex ?? null,
    };
  };
  const kind = (u: Unit): string | null =>
    u.score === null ? null : u.staff ? "staff" : u.score >= threshold ? "subject" : "other";
  let units: Unit[] = [];
  const split = new Set<number>();
  d.speakers.forEach((s, i) => {
    const mine = d.pieces.filter((p) => p.speaker === i);
    const whole = judge({ ...s, segments: mine, origin: i });
    const groups = regroup(d, mine, judge, kind, i);
    if (groups.length >= 2) {
      units.push(...groups);
      split.add(i);
    } else units.push(whole);
  });
  // One staff member is one voice: of the voices matching the same staff subject, those scoring
  // far below the best are someone who resembles them (a proxy who sounds like the interviewer).
  const bestStaff = new Map<number, number>();
  for (const u of units)
    if (u.staff && u.staffIndex !== null)
      bestStaff.set(u.staffIndex, Math.max(bestStaff.get(u.staffIndex) ?? -Infinity, u.staffScore!));
  units = units.map((u) =>
    u.staff && u.staffScore! < bestStaff.get(u.staffIndex!)! - staffMargin ? { ...u, staff: false } : u,
  );
  const speakers = units.map((u) => ({
    speakingSec: u.speakingSec,
    score: u.score,
    match: u.score !== null && u.score >= threshold,
    staff: u.staff,
  }));
  const segments = units
    .flatMap((u, k) => u.segments.map((g) => ({ start: g.start, end: g.end, speaker: k })))
    .sort((x, y) => x.start - y.start);
  const candidates = units.filter((u) => !u.staff && u.score !== null);
  const best = candidates.reduce<Unit | undefined>((m, u) => (m && m.score! >= u.score! ? m : u), undefined);
  const score = best?.score ?? undefined;
  // per turn, within non-staff voices the split left whole
  let matchSec = 0;
  const proxyTurns: { start: number; end: number }[] = [];
  const wholeNonStaff = new Set(units.filter((u) => !u.staff && !split.has(u.origin)).map((u) => u.origin));
  for (const t of d.turns) {
    if (!wholeNonStaff.has(t.speaker) || !t.embedding) continue;
    const sc = scoreAgainst(protector, input.subject, t.embedding)!;
    // A negative margin is a stricter turn threshold: turns just above the threshold count as
    // another voice too (they never count as the subject's).
    if (sc < threshold - margin) proxyTurns.push({ start: t.start, end: t.end });
    else if (sc >= threshold) matchSec += t.end - t.start;
  }
  const otherSec = proxyTurns.reduce((n, t) => n + t.end - t.start, 0);
  // A proxy the clustering cut in two (two voices of 9 s) answered as long as one of 18 s: the
  // other voices' time is summed, each of them long enough to be a voice at all.
  const others = candidates.filter(
    (u) => u !== best && u.speakingSec >= SIGNIFICANT_SEC && u.score! < threshold - margin,
  );
  const othersSec = others.reduce((n, u) => n + u.speakingSec, 0);
  const voiceLevel = best !== undefined && best.score! >= threshold && othersSec >= PROXY_MIN_SEC;
  const turnLevel = matchSec >= SIGNIFICANT_SEC && otherSec >= PROXY_MIN_SEC;
  if (voiceLevel) {
    // the other voices' segments as turns (gaps under 1.5 s bridged)
    const theirs = others.flatMap((u) => u.segments).sort((x, y) => x.start - y.start);
    const turns: { start: number; end: number }[] = [];
    for (const g of theirs) {
      const last = turns[turns.length - 1];
      if (last && g.start - last.end < 1.5) last.end = Math.max(last.end, g.end);
      else turns.push({ start: g.start, end: g.end });
    }
    for (const t of turns)
      if (!proxyTurns.some((p) => p.start < t.end && t.start < p.end)) proxyTurns.push(t);
    proxyTurns.sort((x, y) => x.start - y.start);
  }
  return { score, speakers, segments, proxySuspected: voiceLevel || turnLevel, proxyTurns };
}
