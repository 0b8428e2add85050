/**
 * Voice activity detection on the shared fbank frames (25 ms / 10 ms), streaming.
 *
 * Per frame: the mel energies are pooled into ~10 bands between 150 Hz and 6.2 kHz and smoothed
 * over 5 frames (50 ms); each band's noise level is the minimum of its smoothed log energy over a
 * centred window of ±1 s (minimum statistics, Martin, IEEE TSAP 2001, with a fixed window so
 * no speech/noise feedback loop exists). The frame's spectral divergence is the mean over bands
 * of max(0, E_b − N_b) in dB, a long-term-spectral-divergence style measure (Ramírez et al.,
 * "Efficient voice activity detection algorithms using long-term speech information", Speech
 * Communication 2004); for noise-only frames it sits at 2.3–2.5 dB whatever the noise colour
 * (the bias of a minimum), hence the 4.5 dB default threshold. A frame is speech-like when the
 * divergence exceeds the threshold, its level is above an absolute floor, and it is within a
 * dynamic range of the loudest frame nearby (the energy part of the decision). Decisions are
 * smoothed with an onset requirement and a hangover, then padded and merged into segments.
 *
 * Because the noise floor is a minimum over a window, stationary sounds (hum, steady tones,
 * fan noise) never count as speech, at any level. Decisions lag the input by ~1 s; memory is
 * O(bands × window), plus the list of segments.
 */

import { VaultError } from "../../errors.js";
import { FbankComputer } from "./fbank.js";
import { Framer } from "./framer.js";

export interface VadOptions {
  /** Spectral divergence threshold in dB (mean per-band excess over the noise floor). Default 4.5. */
  readonly thresholdDb?: number;
  /** Frames quieter than this (dBFS, frame mean square) are never speech. Default −80. */
  readonly minLevelDbfs?: number;
  /**
   * Frames more than this many dB below the loudest frame within the noise window are never
   * speech. Keeps breath and fade-outs out of clean (noise-free) recordings. Default 40.
   */
  readonly dynamicRangeDb?: number;
  /** Half-width of the noise-floor window in frames. Default 100 (±1 s). */
  readonly noiseWindowFrames?: number;
  /** Consecutive speech-like frames needed to open a segment. Default 3. */
  readonly onsetFrames?: number;
  /** Non-speech frames tolerated inside a segment (hangover). Default 30 (300 ms). */
  readonly hangoverFrames?: number;
  /** Frames added before and after each segment. Default 5 (50 ms). */
  readonly padFrames?: number;
  /** Segments shorter than this (frames, before padding) are dropped. Default 10 (100 ms). */
  readonly minSegmentFrames?: number;
}

export interface SpeechSegment {
  readonly startSec: number;
  readonly endSec: number;
}

export interface VadResult {
  /** Total duration of the input. */
  readonly durationSec: number;
  /** Total duration of the speech segments. */
  readonly speechSec: number;
  /** speechSec / durationSec (0 for empty input). */
  readonly speechRatio: number;
  /** Speech segments in time order, non-overlapping. */
  readonly segments: readonly SpeechSegment[];
}

/** Band energies are averaged over 2·SMOOTH_HALF + 1 frames. */
const SMOOTH_HALF = 2;
const BAND_EDGES_HZ = [150, 300, 500, 750, 1000, 1400, 1900, 2600, 3500, 4700, 6200];
/** Floor for band energies, in dB re the same band at full-scale white noise, roughly. */
const ENERGY_FLOOR = 1e-12;

/** Monotonic deque of (index, value) keeping the running minimum; fixed capacity. */
class MinDeque {
  private readonly idx: Int32Array;
  private readonly val: Float64Array;
  private head = 0;
  private size = 0;

  constructor(capacity: number) {
    this.idx = new Int32Array(capacity);
    this.val = new Float64Array(capacity);
  }

  push(i: number, v: number): void {
    const cap = this.idx.length;
    while (this.size > 0 && this.val[(this.head + this.size - 1) % cap]! >= v) this.size--;
    const slot = (this.head + this.size) % cap;
    this.idx[slot] = i;
    this.val[slot] = v;
    this.size++;
  }

  /** Drops entries with index < lo. */
  expire(lo: number): void {
    const cap = this.idx.length;
    while (this.size > 0 && this.idx[this.head]! < lo) {
      this.head = (this.head + 1) % cap;
      this.size--;
    }
  }

  min(): number {
    return this.val[this.head]!;
  }
}

interface ResolvedVadOptions {
  thresholdDb: number;
  minLevelDbfs: number;
  dynamicRangeDb: number;
  noiseWindowFrames: number;
  onsetFrames: number;
  hangoverFrames: number;
  padFrames: number;
  minSegmentFrames: number;
}

function resolveVadOptions(o: VadOptions): ResolvedVadOptions {
  const r: ResolvedVadOptions = {
    thresholdDb: o.thresholdDb ?? 4.5,
    minLevelDbfs: o.minLevelDbfs ?? -80,
    dynamicRangeDb: o.dynamicRangeDb ?? 40,
    noiseWindowFrames: o.noiseWindowFrames ?? 100,
    onsetFrames: o.onsetFrames ?? 3,
    hangoverFrames: o.hangoverFrames ?? 30,
    padFrames: o.padFrames ?? 5,
    minSegmentFrames: o.minSegmentFrames ?? 10,
  };
  const ints = [r.noiseWindowFrames, r.onsetFrames, r.hangoverFrames, r.padFrames, r.minSegmentFrames];
  if (ints.some((v) => !Number.isInteger(v) || v < 0) || r.onsetFrames < 1 || r.noiseWindowFrames < 1) {
    throw new VaultError("INVALID_ARGUMENT", "vad: frame counts must be non-negative integers");
  }
  if (!Number.isFinite(r.thresholdDb) || !Number.isFinite(r.minLevelDbfs) || !(r.dynamicRangeDb > 0)) {
    throw new VaultError("INVALID_ARGUMENT", "vad: thresholds must be finite");
  }
  return r;
}

/**
 * The VAD proper, fed one fbank frame at a time (mel energies + raw energy from
 * {@link FbankComputer}); used by {@link VoiceActivityDetector} and the feature pipeline.
 */
export class VadFrameProcessor {
  private readonly o: ResolvedVadOptions;
  private readonly bandOf: Int32Array;
  private readonly numBands: number;
  private readonly levelScale: number;
  private readonly frameShiftSec: number;
  private readonly frameLengthSec: number;
  /** Raw band energies (log) of recent frames, ring of `ringSize`. */
  private readonly ringSize: number;
  private readonly raw: Float64Array;
  private readonly smooth: Float64Array;
  private readonly level: Float64Array;
  private readonly deques: MinDeque[];
  /** Sliding maximum of the frame level (stored negated in a MinDeque). */
  private readonly levelMax: MinDeque;
  private readonly bandAcc: Float64Array;
  private readonly bandCount: Float64Array;
  /** Frames received. */
  private received = 0;
  /** Frames decided so far, and those of them inside speech (a running lower bound on speech). */
  private speechFrames = 0;
  /** Next frame to decide. */
  private nextDecide = 0;
  // Segment state machine.
  private run = 0;
  private inSpeech = false;
  private segStart = 0;
  private lastSpeech = -1;
  private silence = 0;
  private readonly segs: [number, number][] = [];
  /** Told every frame's decision, in order (inside a speech run or not), as it is made. */
  private listener: ((frame: number, speech: boolean) => void) | undefined;

  /**
   * @param centerHz mel bank centre frequencies
   * @param levelScale divides raw energy to get mean-square in full-scale units (scale²·L)
   */
  constructor(
    centerHz: Float64Array,
    levelScale: number,
    frameShiftSec: number,
    frameLengthSec: number,
    options: VadOptions = {},
  ) {
    this.o = resolveVadOptions(options);
    this.levelScale = levelScale;
    this.frameShiftSec = frameShiftSec;
    this.frameLengthSec = frameLengthSec;
    this.bandOf = new Int32Array(centerHz.length).fill(-1);
    let bands = 0;
    const used = new Int32Array(BAND_EDGES_HZ.length - 1).fill(-1);
    for (let m = 0; m < centerHz.length; m++) {
      const f = centerHz[m]!;
      for (let b = 0; b + 1 < BAND_EDGES_HZ.length; b++) {
        if (f >= BAND_EDGES_HZ[b]! && f < BAND_EDGES_HZ[b + 1]!) {
          if (used[b]! < 0) used[b] = bands++;
          this.bandOf[m] = used[b]!;
        }
      }
    }
    if (bands === 0) throw new VaultError("INVALID_ARGUMENT", "vad: no mel bin between 150 Hz and 6.2 kHz");
    this.numBands = bands;
    this.ringSize = 2 * this.o.noiseWindowFrames + 2 * SMOOTH_HALF + 4;
    this.raw = new Float64Array(this.ringSize * bands);
    this.smooth = new Float64Array(this.ringSize * bands);
    this.level = new Float64Array(this.ringSize);
    this.deques = Array.from({ length: bands }, () => new MinDeque(2 * this.o.noiseWindowFrames + 4));
    this.levelMax = new MinDeque(2 * this.o.noiseWindowFrames + 2 * SMOOTH_HALF + 4);
    this.bandAcc = new Float64Array(bands);
    this.bandCount = new Float64Array(bands);
  }

  /**
   * Sets a listener for per-frame decisions: frame c is decided once its noise window is complete
   * (about noiseWindowFrames later), then reported as speech when it is speech-like and inside a
   * speech run (after onset; the hangover's quiet frames are not speech here). Diarisation uses it
   * to keep only speech frames in its statistics and segments.
   */
  onDecision(listener: (frame: number, speech: boolean) => void): void {
    this.listener = listener;
  }

  /** Feeds frame number `received` (frames must come in order). */
  pushFrame(melEnergies: Float64Array, rawEnergy: number): void {
    const B = this.numBands;
    const t = this.received++;
    const slot = t % this.ringSize;
    this.bandAcc.fill(0);
    this.bandCount.fill(0);
    for (let m = 0; m < melEnergies.length; m++) {
      const b = this.bandOf[m]!;
      if (b >= 0) {
        this.bandAcc[b] = this.bandAcc[b]! + melEnergies[m]!;
        this.bandCount[b] = this.bandCount[b]! + 1;
      }
    }
    for (let b = 0; b < B; b++) this.raw[slot * B + b] = this.bandAcc[b]! / this.bandCount[b]!;
    const ms = rawEnergy / this.levelScale;
    const level = ms > 0 ? 10 * Math.log10(ms) : -200;
    this.level[slot] = level;
    this.levelMax.push(t, -level);
    // Frame t−k now has all its neighbours: smooth it and feed the noise tracker.
    const k = SMOOTH_HALF;
    if (t >= k) this.smoothAndTrack(t - k, t);
    this.decideUpTo(t - k - this.o.noiseWindowFrames);
  }

  private smoothAndTrack(c: number, newest: number): void {
    const B = this.numBands;
    const R = this.ringSize;
    const lo = Math.max(0, c - SMOOTH_HALF);
    const hi = Math.min(newest, c + SMOOTH_HALF);
    const slot = c % R;
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let k = lo; k <= hi; k++) s += this.raw[(k % R) * B + b]!;
      const db = 10 * Math.log10(Math.max(s / (hi - lo + 1), ENERGY_FLOOR));
      this.smooth[slot * B + b] = db;
      this.deques[b]!.push(c, db);
    }
  }

  /** Decides every frame up to and including `last` whose window is complete. */
  private decideUpTo(last: number): void {
    const W = this.o.noiseWindowFrames;
    const B = this.numBands;
    while (this.nextDecide <= last) {
      const c = this.nextDecide++;
      let div = 0;
      const slot = c % this.ringSize;
      for (let b = 0; b < B; b++) {
        const d = this.deques[b]!;
        d.expire(c - W);
        const excess = this.smooth[slot * B + b]! - d.min();
        if (excess > 0) div += excess;
      }
      div /= B;
      this.levelMax.expire(c - W);
      const level = this.level[slot]!;
      const speechLike =
        div >= this.o.thresholdDb &&
        level >= this.o.minLevelDbfs &&
        level >= -this.levelMax.min() - this.o.dynamicRangeDb;
      this.step(c, speechLike);
    }
  }

  private step(c: number, speechLike: boolean): void {
    const o = this.o;
    if (speechLike) {
      this.run++;
      this.silence = 0;
      if (!this.inSpeech && this.run >= o.onsetFrames) {
        this.inSpeech = true;
        this.segStart = c - this.run + 1;
      }
      if (this.inSpeech) {
        this.lastSpeech = c;
        this.speechFrames++;
      }
    } else {
      this.run = 0;
      if (this.inSpeech && ++this.silence > o.hangoverFrames) this.closeSegment();
    }
    this.listener?.(c, speechLike && this.inSpeech);
  }

  private closeSegment(): void {
    this.inSpeech = false;
    this.silence = 0;
    const start = this.segStart;
    const end = this.lastSpeech;
    if (end - start + 1 < this.o.minSegmentFrames) return;
    const pad = this.o.padFrames;
    let s = Math.max(0, start - pad);
    const e = end + pad;
    const prev = this.segs[this.segs.length - 1];
    if (prev !== undefined && s <= prev[1] + 1) {
      s = prev[0];
      this.segs.pop();
    }
    this.segs.push([s, e]);
  }

  /**
   * While streaming: seconds decided so far and seconds of speech among them. Counts every frame
   * inside a speech run, including runs that finish() later drops as too short, so it errs
   * towards "speech was found" (a caller that gives up on too little speech gives up later).
   */
  progress(): { readonly decidedSec: number; readonly speechSec: number } {
    return {
      decidedSec: this.nextDecide * this.frameShiftSec,
      speechSec: this.speechFrames * this.frameShiftSec,
    };
  }

  /** Flushes pending decisions; `numSamples` is the stream length for duration and clamping. */
  finish(numSamples: number, sampleRate: number): VadResult {
    const t = this.received;
    for (let c = Math.max(0, t - SMOOTH_HALF); c < t; c++) this.smoothAndTrack(c, t - 1);
    this.decideUpTo(t - 1);
    if (this.inSpeech) this.closeSegment();
    const hop = this.frameShiftSec;
    const durationSec = numSamples / sampleRate;
    // Frame c is credited with [c·hop + (L − hop)/2, c·hop + (L + hop)/2]: its central hop.
    const offset = (this.frameLengthSec - hop) / 2;
    const segments: SpeechSegment[] = [];
    let speechSec = 0;
    for (const [s, e] of this.segs) {
      const lastFrame = Math.min(e, t - 1);
      if (lastFrame < s) continue;
      const startSec = s === 0 ? 0 : s * hop + offset;
      const endSec = Math.min(
        durationSec,
        lastFrame === t - 1 ? durationSec : (lastFrame + 1) * hop + offset,
      );
      segments.push({ startSec, endSec });
      speechSec += endSec - startSec;
    }
    return { durationSec, speechSec, speechRatio: durationSec > 0 ? speechSec / durationSec : 0, segments };
  }
}

/** Standalone streaming VAD over 16 kHz mono PCM. */
export class VoiceActivityDetector {
  private readonly fbank: FbankComputer;
  private readonly framer: Framer;
  private readonly core: VadFrameProcessor;
  private readonly scratch: Float32Array;
  private readonly sampleRate: number;

  constructor(options: VadOptions & { readonly sampleRate?: number } = {}) {
    this.sampleRate = options.sampleRate ?? 16000;
    this.fbank = new FbankComputer({ sampleRate: this.sampleRate });
    this.framer = new Framer(this.fbank.frameLength, this.fbank.frameShift);
    this.scratch = new Float32Array(this.fbank.options.numMelBins);
    this.core = createVadProcessor(this.fbank, options);
  }

  push(chunk: Float32Array): void {
    this.framer.push(chunk, (frame) => {
      this.fbank.compute(frame, this.scratch, 0);
      this.core.pushFrame(this.fbank.melEnergies, this.fbank.rawEnergy);
    });
  }

  finish(): VadResult {
    return this.core.finish(this.framer.samples, this.sampleRate);
  }
}

/** A VAD fed by an existing fbank computer's frames. */
export function createVadProcessor(fbank: FbankComputer, options: VadOptions = {}): VadFrameProcessor {
  const sr = fbank.options.sampleRate;
  const scale = fbank.options.sampleScale;
  return new VadFrameProcessor(
    fbank.banks.centerHz,
    scale * scale * fbank.frameLength,
    fbank.frameShift / sr,
    fbank.frameLength / sr,
    options,
  );
}

export function detectSpeech(pcm: Float32Array, options: VadOptions = {}): VadResult {
  const v = new VoiceActivityDetector(options);
  v.push(pcm);
  return v.finish();
}

export interface SpeechRequirement {
  /** Minimum net speech in seconds. Default 1.0. */
  readonly minSpeechSec?: number;
}

/** Default minimum speech for a usable derivation (speaker template, voice statistics). */
export const MIN_SPEECH_SEC = 1.0;

/** Whether the VAD found enough speech to derive anything speaker-related. */
export function hasEnoughSpeech(vad: VadResult, req: SpeechRequirement = {}): boolean {
  return vad.speechSec >= (req.minSpeechSec ?? MIN_SPEECH_SEC);
}

/** Throws VaultError NO_SPEECH unless {@link hasEnoughSpeech}. */
export function assertEnoughSpeech(vad: VadResult, req: SpeechRequirement = {}): void {
  const min = req.minSpeechSec ?? MIN_SPEECH_SEC;
  if (!hasEnoughSpeech(vad, req)) {
    throw new VaultError(
      "NO_SPEECH",
      `only ${vad.speechSec.toFixed(2)} s of speech detected; at least ${min} s is required`,
      { details: { speechSec: Math.round(vad.speechSec * 1000) / 1000, minSpeechSec: min } },
    );
  }
}
