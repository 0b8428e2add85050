/**
 * verifyVoices on diarisations built by hand: voices as directions in the embedder's space, each
 * segment's statistics standing for its embedding times its frames, so pooling segments averages
 * their directions. Checks the rules that the audio tests (speakers.test.ts) cannot force: a proxy
 * the clustering merged with the interviewer or with the candidate is found by regrouping the
 * merged voice's segments against the enrolled templates.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Diarisation, Piece } from "../../src/diarise/index.js";
import { loadBuiltinEmbedder } from "../../src/embed/node.js";
import { PROXY_MIN_SEC, scoreAgainst, STAFF_MARGIN, verifyVoices } from "../../src/ingest/speakers.js";
import { createTemplateProtector, type TemplateProtector } from "../../src/template/index.js";

let dim = 0;
let threshold = 0;
let protector: TemplateProtector;

beforeAll(async () => {
  const e = await loadBuiltinEmbedder();
  dim = e.dim;
  threshold = e.calibration!.threshold;
  protector = createTemplateProtector(new Uint8Array(32).fill(9), { profile: e.profile });
});

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32 - 0.5;
  };
}

const unit = (v: ArrayLike<number>): Float32Array => {
  const n = Math.hypot(...Array.from(v)) || 1;
  return Float32Array.from(v, (x) => x / n);
};

/** A voice: a random direction. */
const voice = (seed: number): Float32Array => {
  const r = rng(seed);
  return unit(Array.from({ length: dim }, r));
};

/** `n` segments of `sec` seconds each of `v` (with a little noise), from `t0`, every `every` seconds. */
function said(
  v: Float32Array,
  speaker: number,
  n: number,
  t0: number,
  every: number,
  sec: number,
  seed: number,
) {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const dir = unit(Array.from(v, (x) => x + 0.15 * r()));
    const frames = Math.round(sec * 100);
    return {
      start: t0 + i * every,
      end: t0 + i * every + sec,
      speaker,
      frames,
      stats: Float32Array.from(dir, (x) => x * frames),
    };
  });
}

/** A diarisation of these segments (speaker = cluster label), as src/diarise would return it. */
function diarisation(pieces: Piece[]): Diarisation {
  pieces.sort((a, b) => a.start - b.start);
  const embed = (stats: Float64Array, frames: number): Float32Array | null =>
    frames < 50 ? null : unit(stats.subarray(0, dim));
  const k = Math.max(...pieces.map((p) => p.speaker)) + 1;
  const speakers = Array.from({ length: k }, (_, c) => {
    const mine = pieces.filter((p) => p.speaker === c);
    const stats = new Float64Array(dim);
    for (const p of mine) for (let i = 0; i < dim; i++) stats[i]! += p.stats[i]!;
    const frames = mine.reduce((n, p) => n + p.frames, 0);
    return {
      speakingSec: mine.reduce((n, p) => n + p.end - p.start, 0),
      centroid: embed(stats, frames)!,
      stats,
      frames,
    };
  });
  return {
    segments: pieces.map(({ start, end, speaker }) => ({ start, end, speaker })),
    pieces,
    speakers,
    turns: [],
    embed,
    wipe: () => undefined,
  };
}

describe("verifyVoices: voices the clustering merged", () => {
  let staff: Uint8Array;
  let subject: Uint8Array;
  let interviewer: Float32Array;
  let candidate: Float32Array;
  let proxy: Float32Array;
  beforeAll(() => {
    interviewer = voice(1);
    candidate = voice(2);
    proxy = voice(3);
    staff = protector.protectToBytes(interviewer);
    subject = protector.protectToBytes(candidate);
  });
  const verify = (d: Diarisation) =>
    verifyVoices({ diarisation: d, protector, subject: [subject], staff: [[staff]], threshold });

  it("the voices are what the test assumes: each matches itself, none the others", () => {
    for (const [v, t, same] of [
      [interviewer, staff, true],
      [candidate, subject, true],
      [proxy, subject, false],
      [proxy, staff, false],
      [candidate, staff, false],
    ] as const) {
      const s = scoreAgainst(protector, [t], v)!;
      if (same) expect(s).toBeGreaterThan(threshold + 0.2);
      else expect(s).toBeLessThan(threshold - 0.04);
    }
  });

  it("an honest interview: no proxy, two voices, the interviewer set aside", () => {
    const v = verify(
      diarisation([...said(interviewer, 0, 8, 0, 8, 2.5, 11), ...said(candidate, 1, 8, 3, 8, 3, 12)]),
    );
    expect(v.proxySuspected).toBe(false);
    expect(v.speakers.map((s) => s.staff)).toEqual([true, false]);
    expect(v.speakers[1]!.match).toBe(true);
    expect(v.proxyTurns).toEqual([]);
  });

  it("a proxy merged into the interviewer's voice is found, with the proxy's times", () => {
    const d = diarisation([
      ...said(interviewer, 0, 8, 0, 8, 2.5, 11),
      ...said(candidate, 1, 4, 3, 8, 3, 12),
      ...said(proxy, 0, 4, 35, 8, 3, 13),
    ]);
    expect(d.speakers).toHaveLength(2);
    const v = verify(d);
    expect(v.proxySuspected).toBe(true);
    expect(v.speakers).toHaveLength(3);
    const other = v.speakers.findIndex((s) => !s.staff && !s.match);
    expect(other).toBeGreaterThanOrEqual(0);
    expect(v.speakers[other]!.speakingSec).toBeGreaterThanOrEqual(PROXY_MIN_SEC);
    // the proxy's segments carry the new voice's label, the interviewer's stay staff
    for (const s of v.segments) {
      const proxySpoke = s.start >= 35 && (s.start - 35) % 8 === 0;
      expect(s.speaker === other).toBe(proxySpoke);
    }
    expect(v.proxyTurns.length).toBeGreaterThan(0);
    for (const t of v.proxyTurns) expect(t.start).toBeGreaterThanOrEqual(35);
  });

  it("a proxy the clustering cut in two is found by the two voices' time together", () => {
    const interview = (proxyClusters: number[], sec: number) =>
      diarisation([
        ...said(interviewer, 0, 8, 0, 8, 2.5, 11),
        ...said(candidate, 1, 4, 3, 8, 3, 12),
        ...proxyClusters.flatMap((c, k) => said(proxy, c, 1, 35 + 8 * k, 8, sec, 13 + k)),
      ]);
    // two voices of 6 s each: neither alone reaches PROXY_MIN_SEC, together they do
    const cut = verify(interview([2, 2, 3, 3], 3));
    expect(cut.speakers.filter((s) => !s.staff && !s.match).map((s) => s.speakingSec)).toEqual([6, 6]);
    expect(cut.proxySuspected).toBe(true);
    expect(cut.proxyTurns.map((t) => t.start)).toEqual([35, 43, 51, 59]);
    // one of them alone is too little to flag
    expect(verify(interview([2, 2], 3)).proxySuspected).toBe(false);
    // six fragments of 2 s (each below SIGNIFICANT_SEC: a cough, a backchannel) are not a voice
    const fragments = verify(interview([2, 3, 4, 5, 6, 7], 2));
    expect(fragments.speakers.filter((s) => !s.staff && !s.match)).toHaveLength(6);
    expect(fragments.proxySuspected).toBe(false);
  });

  it("a proxy merged into the candidate's voice is found", () => {
    const v = verify(
      diarisation([
        ...said(interviewer, 0, 8, 0, 8, 2.5, 11),
        ...said(candidate, 1, 4, 3, 8, 3, 12),
        ...said(proxy, 1, 4, 35, 8, 3, 13),
      ]),
    );
    expect(v.proxySuspected).toBe(true);
    expect(v.speakers.filter((s) => !s.staff)).toHaveLength(2);
  });

  it("a candidate merged into the interviewer's voice still counts as present: the proxy is flagged", () => {
    const v = verify(
      diarisation([
        ...said(interviewer, 0, 8, 0, 8, 2.5, 11),
        ...said(candidate, 0, 4, 3, 8, 3, 12),
        ...said(proxy, 1, 4, 35, 8, 3, 13),
      ]),
    );
    expect(v.proxySuspected).toBe(true);
    expect(v.score).toBeGreaterThanOrEqual(threshold);
  });

  it("a voice merged from one person's segments stays one voice, even with noisy segments", () => {
    const v = verify(
      diarisation([
        ...said(interviewer, 0, 8, 0, 8, 2.5, 11),
        ...said(candidate, 1, 8, 3, 8, 0.6, 14),
        ...said(candidate, 1, 8, 4, 8, 3, 15),
      ]),
    );
    expect(v.proxySuspected).toBe(false);
    expect(v.speakers).toHaveLength(2);
  });

  it("a candidate who also clears the threshold against the interviewer's template is not staff", () => {
    // the candidate's voice between the two: above the threshold against both, nearer their own
    const near = unit(Array.from(candidate, (x, i) => 1.6 * x + interviewer[i]!));
    const own = protector.protectToBytes(near);
    const staffScore = scoreAgainst(protector, [staff], near)!;
    expect(staffScore).toBeGreaterThanOrEqual(threshold);
    const v = verifyVoices({
      diarisation: diarisation([...said(interviewer, 0, 8, 0, 8, 2.5, 11), ...said(near, 1, 8, 3, 8, 3, 16)]),
      protector,
      subject: [own],
      staff: [[staff]],
      threshold,
    });
    expect(v.speakers.map((s) => s.staff)).toEqual([true, false]);
    expect(v.speakers[1]!.match).toBe(true);
    expect(v.score).toBe(v.speakers[1]!.score);
  });
  it("a proxy who resembles the interviewer is not taken for them: one staff member is one voice", () => {
    // above the threshold against the interviewer's template, far below the interviewer's own voice
    const alike = unit(Array.from(proxy, (x, i) => x + 0.9 * interviewer[i]!));
    const own = scoreAgainst(protector, [staff], interviewer)!;
    const theirs = scoreAgainst(protector, [staff], alike)!;
    expect(theirs).toBeGreaterThanOrEqual(threshold);
    expect(theirs).toBeLessThan(own - STAFF_MARGIN - 0.05);
    const interview = (proxyVoice: Float32Array) =>
      diarisation([
        ...said(interviewer, 0, 8, 0, 8, 2.5, 11),
        ...said(candidate, 1, 4, 3, 8, 3, 12),
        ...said(proxyVoice, 2, 4, 35, 8, 3, 13),
      ]);
    const v = verify(interview(alike));
    expect(v.speakers.map((s) => s.staff)).toEqual([true, false, false]);
    expect(v.proxySuspected).toBe(true);
    // the interviewer split over two voices (both near their best) stays staff: no proxy
    const honest = verify(interview(interviewer));
    expect(honest.speakers.map((s) => s.staff)).toEqual([true, false, true]);
    expect(honest.proxySuspected).toBe(false);
  });
});
