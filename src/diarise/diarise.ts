/**
 * Who spoke when: window embeddings (stream.ts) clustered into speakers (cluster.ts), refined by
 * reassigning windows to the nearest speaker centroid, then labels per 0.5 s hop by a vote of the
 * windows covering it, and speech segments from the VAD's per-frame decisions.
 *
 * Overlapped speech gets one label, the speaker whose voice dominates the hop's windows; the
 * other voice of an overlap counts as missed speech (documented in docs/diarisation.md).
 */
import { VaultError } from "../errors.js";
import { centroids, clusterWindows, dot } from "./cluster.js";
import { HOP_FRAMES, type DiarisationFrames } from "./stream.js";
import { statsVector } from "../embed/dsp/stats.js";

export interface DiariseOptions {
  /**
   * Cosine distance at which clustering stops merging: two groups of windows further apart are
   * different speakers. Tuned on conversations of voices kept apart from the evaluation ones.
   */
  readonly maxDistance?: number;
  /** A cluster with less speech than this is not a speaker (noise, a cough): its windows join the nearest one. */
  readonly minSpeakerSec?: number;
  /**
   * Second stage: clusters whose embeddings from all their speech (summed statistics, as
   * reliable as an utterance's) are closer than this cosine distance are one speaker split by
   * the window-level clustering, and merge.
   */
  readonly mergeDistance?: number;
  /**
   * Keep each segment's statistics (Diarisation.pieces), for verification against enrolled voices;
   * ingest leaves them out (their memory grows with the recording).
   */
  readonly pieces?: boolean;
}

export const DEFAULT_MAX_DISTANCE = 0.7;
export const DEFAULT_MERGE_DISTANCE = 0.5;
export const DEFAULT_MIN_SPEAKER_SEC = 2;
const FRAME_SEC = 0.01;

export interface Segment {
  /** Seconds from the start of the recording. */
  readonly start: number;
  readonly end: number;
  /** Speaker index into Diarisation.speakers. */
  readonly speaker: number;
}

export interface Speaker {
  readonly speakingSec: number;
  /** Unit embedding of all the speaker's speech (from the summed statistics; zero if too little). */
  readonly centroid: Float32Array;
  /** Summed statistics of the speaker's hops (for an embedding of all of their speech). */
  readonly stats: Float64Array;
  /** Speech frames behind `stats`. */
  readonly frames: number;
}

/** One speaker's stretch of talk (segments less than 1.5 s apart), for per-turn verification. */
export interface Turn {
  readonly start: number;
  end: number;
  readonly speaker: number;
  /** Unit embedding of the turn's speech, or null under 2 s of it. */
  embedding: Float32Array | null;
}

/** A segment with the summed statistics of its speech, for verification against enrolled voices. */
export interface Piece extends Segment {
  /** Summed statistics of the segment's hops (each hop counted in one segment only). */
  readonly stats: Float32Array;
  /** Speech frames behind `stats`. */
  readonly frames: number;
}

export interface Diarisation {
  readonly segments: readonly Segment[];
  /**
   * The segments again, each with its statistics. Verification (src/ingest/speakers.ts) regroups
   * a speaker's segments by which enrolled voice each matches, and pools each group: two voices
   * that the clustering merged come apart when the templates tell them apart. Empty unless
   * DiariseOptions.pieces.
   */
  readonly pieces: readonly Piece[];
  readonly speakers: readonly Speaker[];
  readonly turns: readonly Turn[];
  /** Unit embedding of summed statistics, or null under 0.5 s of speech or when it holds none. */
  embed(stats: Float64Array, frames: number): Float32Array | null;
  /** Wipes the speakers' centroids and statistics, the pieces' statistics, the turns' embeddings. */
  wipe(): void;
}

function speechAt(bits: Uint8Array, frame: number): boolean {
  return ((bits[frame >> 3] ?? 0) >> (frame & 7)) & 1 ? true : false;
}

export function diarise(f: DiarisationFrames, o: DiariseOptions = {}): Diarisation {
  const maxDistance = o.maxDistance ?? DEFAULT_MAX_DISTANCE;
  const minSpeakerFrames = (o.minSpeakerSec ?? DEFAULT_MIN_SPEAKER_SEC) / FRAME_SEC;
  if (!(maxDistance > 0 && maxDistance < 2))
    throw new VaultError("INVALID_ARGUMENT", "maxDistance must be in (0, 2)");
  const windows = f.windows;
  if (windows.length === 0)
    return { segments: [], pieces: [], speakers: [], turns: [], embed: () => null, wipe: () => undefined };
  const emb = windows.map((w) => w.embedding);
  const weights = windows.map((w) => w.speech);

  // 1. cluster (runs of near-identical neighbours first; in blocks when there are many)
  let labels = clusterWindows(emb, maxDistance);

  // 2. refine: reassign to the nearest centroid; fold clusters too small to be a speaker
  for (let iter = 0; iter < 3; iter++) {
    const k = Math.max(...labels) + 1;
    const speech = new Float64Array(k);
    for (let i = 0; i < labels.length; i++) speech[labels[i]!]! += weights[i]!;
    const keep = [...speech.keys()].filter((c) => speech[c]! >= minSpeakerFrames);
    if (keep.length === 0) keep.push(speech.indexOf(Math.max(...speech)));
    const cents = centroids(emb, labels, weights, k);
    const next = new Int32Array(labels.length);
    for (let i = 0; i < emb.length; i++) {
      let best = keep[0]!;
      let bestSim = -Infinity;
      for (const c of keep) {
        const s = dot(emb[i]!, cents[c]!);
        if (s > bestSim) {
          bestSim = s;
          best = c;
        }
      }
      next[i] = best;
    }
    // renumber by first appearance
    const ids = new Map<number, number>();
    labels = Int32Array.from(next, (c) => {
      if (!ids.has(c)) ids.set(c, ids.size);
      return ids.get(c)!;
    });
    for (const c of cents) c.fill(0);
  }
  const k = Math.max(...labels) + 1;
  const cents = centroids(emb, labels, weights, k);

  // 3. a label per hop: the covering windows vote, each with its similarity to its speaker
  const store = f.hops;
  const hopCount = store.hops;
  const hopLabel = new Int32Array(hopCount).fill(-1);
  const votes = new Float64Array(hopCount * k);
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i]!;
    const c = labels[i]!;
    const s = Math.max(1e-3, 1 + dot(emb[i]!, cents[c]!));
    for (let h = w.hop; h < w.hop + f.windowHops && h < hopCount; h++) votes[h * k + c]! += s;
  }
  for (let h = 0; h < hopCount; h++) {
    let best = -1;
    let bestV = 0;
    for (let c = 0; c < k; c++) {
      const v = votes[h * k + c]!;
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    hopLabel[h] = best;
  }
  // speech hops no window covers (a lone short utterance): the nearest labelled hop within 2 s
  for (let h = 0; h < hopCount; h++) {
    if (hopLabel[h]! >= 0 || store.hopSpeech(h) === 0) continue;
    for (let dist = 1; dist <= 4; dist++) {
      const l = h - dist >= 0 ? hopLabel[h - dist]! : -1;
      const r = h + dist < hopCount ? hopLabel[h + dist]! : -1;
      if (l >= 0 || r >= 0) {
        hopLabel[h] = l >= 0 ? l : r;
        break;
      }
    }
  }

  // 4. merge clusters whose whole-speech embeddings agree (one speaker split in two)
  const mergeDistance = o.mergeDistance ?? DEFAULT_MERGE_DISTANCE;
  const dimStats = store.size;
  const clusterStats = (): { stats: Float64Array[]; frames: Float64Array } => {
    const kk = Math.max(-1, ...hopLabel) + 1;
    const stats = Array.from({ length: kk }, () => new Float64Array(dimStats));
    const frames = new Float64Array(kk);
    const owner = slotLabels(store, hopLabel, kk);
    for (let sl = 0; sl < owner.length; sl++) {
      const c = owner[sl]!;
      if (c < 0 || store.slotSpeech(sl) === 0) continue;
      store.addSlot(stats[c]!, sl);
      frames[c]! += store.slotSpeech(sl);
    }
    return { stats, frames };
  };
  const embed = (stats: Float64Array, frames: number): Float32Array | null => {
    if (frames < 50) return null;
    const v = statsVector(stats, f.d);
    try {
      return f.project(v);
    } catch (e) {
      if (e instanceof VaultError && e.code === "NO_SPEECH") return null;
      throw e;
    } finally {
      v.fill(0);
    }
  };
  for (;;) {
    const { stats, frames } = clusterStats();
    const e = stats.map((st, c) => embed(st, frames[c]!));
    for (const st of stats) st.fill(0);
    let best: [number, number] | null = null;
    let bestD = mergeDistance;
    for (let a = 0; a < e.length; a++) {
      for (let b = a + 1; b < e.length; b++) {
        const ea = e[a];
        const eb = e[b];
        if (!ea || !eb) continue;
        const d = 1 - dot(ea, eb);
        if (d < bestD) {
          bestD = d;
          best = [a, b];
        }
      }
    }
    for (const x of e) x?.fill(0);
    if (!best) break;
    const [a, b] = best;
    for (let h = 0; h < hopCount; h++) {
      if (hopLabel[h] === b) hopLabel[h] = a;
      else if (hopLabel[h]! > b) hopLabel[h] = hopLabel[h]! - 1;
    }
  }
  const k2 = Math.max(-1, ...hopLabel) + 1;

  // 5. segments over speech frames, bridging gaps under 0.25 s within one speaker
  const segments: { start: number; end: number; speaker: number }[] = [];
  for (let t = 0; t < f.frames; t++) {
    if (!speechAt(f.speechBits, t)) continue;
    const c = hopLabel[Math.floor(t / HOP_FRAMES)]!;
    if (c < 0) continue;
    const last = segments[segments.length - 1];
    if (last?.speaker === c && t - last.end <= 25) last.end = t + 1;
    else segments.push({ start: t, end: t + 1, speaker: c });
  }

  // 6. per speaker: speaking time, statistics of their hops, embedding of all their speech
  const final = clusterStats();
  const speakers = Array.from({ length: k2 }, (_, c) => ({
    speakingSec: 0,
    centroid: embed(final.stats[c]!, final.frames[c]!) ?? new Float32Array(cents[0]!.length),
    stats: final.stats[c]!,
    frames: final.frames[c]!,
  }));
  for (const c of cents) c.fill(0);
  for (const s of segments) speakers[s.speaker]!.speakingSec += (s.end - s.start) * FRAME_SEC;
  votes.fill(0);

  /**
   * Adds the statistics of hops first..last (inclusive) labelled `speaker` to acc; their speech
   * frames. Where a slot covers several hops (a long recording), the slot counts if its middle
   * hop is in the range and most of its speech is the speaker's.
   */
  const owner = slotLabels(store, hopLabel, k2);
  const hps = store.hopsPerSlot;
  const addHops = (
    acc: Float32Array | Float64Array,
    first: number,
    last: number,
    speaker: number,
  ): number => {
    let frames = 0;
    const from = Math.max(0, Math.floor((first - (hps >> 1)) / hps));
    for (let sl = from; sl < owner.length; sl++) {
      const mid = sl * hps + (hps >> 1);
      if (mid < first) continue;
      if (mid > last || mid >= hopCount) break;
      if (owner[sl] !== speaker || store.slotSpeech(sl) === 0) continue;
      store.addSlot(acc, sl);
      frames += store.slotSpeech(sl);
    }
    return frames;
  };

  // 7. pieces: each segment's statistics; a hop two segments share counts in the first
  const pieces: Piece[] = [];
  let lastHop = -1;
  for (const s of o.pieces ? segments : []) {
    const acc = new Float32Array(dimStats);
    const first = Math.max(lastHop + 1, Math.floor(s.start / HOP_FRAMES));
    lastHop = Math.max(lastHop, Math.floor((s.end - 1) / HOP_FRAMES));
    const frames = addHops(acc, first, lastHop, s.speaker);
    pieces.push({
      start: s.start * FRAME_SEC,
      end: s.end * FRAME_SEC,
      speaker: s.speaker,
      stats: acc,
      frames,
    });
  }

  // 8. turns: one speaker's segments with gaps under 1.5 s, each with an embedding of its speech
  const turns: Turn[] = [];
  for (const s of segments) {
    const last = turns[turns.length - 1];
    if (last?.speaker === s.speaker && s.start * FRAME_SEC - last.end < 1.5) last.end = s.end * FRAME_SEC;
    else
      turns.push({ start: s.start * FRAME_SEC, end: s.end * FRAME_SEC, speaker: s.speaker, embedding: null });
  }
  for (const t of turns) {
    const acc = new Float64Array(dimStats);
    const frames = addHops(
      acc,
      Math.floor((t.start * 100) / HOP_FRAMES),
      Math.ceil((t.end * 100) / HOP_FRAMES) - 1,
      t.speaker,
    );
    t.embedding = frames >= MIN_TURN_FRAMES ? embed(acc, frames) : null;
    acc.fill(0);
  }
  return {
    segments: segments.map((s) => ({
      start: s.start * FRAME_SEC,
      end: s.end * FRAME_SEC,
      speaker: s.speaker,
    })),
    pieces,
    speakers,
    turns,
    embed,
    wipe: () => {
      for (const s of speakers) {
        s.centroid.fill(0);
        s.stats.fill(0);
      }
      for (const p of pieces) p.stats.fill(0);
      for (const t of turns) t.embedding?.fill(0);
    },
  };
}

/**
 * The speaker of each slot of the hop store: the label with most speech frames among the slot's
 * hops (ties to the earliest), −1 where none is labelled. One hop per slot: that hop's label.
 */
function slotLabels(store: DiarisationFrames["hops"], hopLabel: Int32Array, k: number): Int32Array {
  const hps = store.hopsPerSlot;
  const out = new Int32Array(store.slots).fill(-1);
  if (hps === 1) {
    out.set(hopLabel.subarray(0, out.length));
    return out;
  }
  const votes = new Float64Array(Math.max(1, k));
  for (let sl = 0; sl < out.length; sl++) {
    votes.fill(0);
    const end = Math.min(hopLabel.length, (sl + 1) * hps);
    let best = -1;
    for (let h = sl * hps; h < end; h++) {
      const c = hopLabel[h]!;
      if (c < 0) continue;
      votes[c]! += store.hopSpeech(h);
      if (best < 0 || votes[c]! > votes[best]!) best = c;
    }
    out[sl] = best;
  }
  return out;
}

/** A turn needs this much speech (frames) for its own embedding: 2 s. */
const MIN_TURN_FRAMES = 200;
