/**
 * Kaldi-compatible log-mel filterbank ("fbank"), matching torchaudio.compliance.kaldi.fbank, the
 * front end of WeSpeaker and 3D-Speaker speaker embedders. Per frame (Kaldi feature-window.cc,
 * feature-fbank.cc): optional dither → remove DC → pre-emphasis x[i] − k·x[i−1] (x[−1] = x[0])
 * → window → zero-pad to a power of two → |FFT|² → mel triangles → ln(max(e, FLT_EPSILON)).
 * Arithmetic is in float64, output float32 (torchaudio computes in float32 throughout; see
 * docs/features.md for the measured difference).
 */

import { VaultError } from "../../errors.js";
import { RealFft } from "./fft.js";
import { Framer } from "./framer.js";
import { makeMelBanks, type MelBanks } from "./mel.js";
import { Rng } from "./rng.js";
import { makeWindow, type WindowType } from "./window.js";

/** torch.finfo(torch.float32).eps, the floor torchaudio applies before the log. */
export const FLOAT32_EPSILON = 1.1920928955078125e-7;

export interface FbankOptions {
  /** Hz; default 16000. */
  readonly sampleRate?: number;
  /** Default 80 (WeSpeaker, 3D-Speaker). */
  readonly numMelBins?: number;
  /** Default 25 ms. */
  readonly frameLengthMs?: number;
  /** Default 10 ms. */
  readonly frameShiftMs?: number;
  /** Default "povey" (Kaldi default, 3D-Speaker); WeSpeaker uses "hamming". */
  readonly windowType?: WindowType;
  readonly blackmanCoeff?: number;
  /** Default 0.97. */
  readonly preemphasis?: number;
  /** Default true. */
  readonly removeDcOffset?: boolean;
  /** Gaussian dither amplitude in scaled sample units; default 0 (deterministic). */
  readonly dither?: number;
  /** Seed for dither; default 0. Same seed and input give the same output. */
  readonly ditherSeed?: number;
  /** Default 20 Hz. */
  readonly lowFreq?: number;
  /** Default 0 = Nyquist; negative values are offsets from Nyquist (Kaldi convention). */
  readonly highFreq?: number;
  /** Default true; false is not supported (the FFT is radix-2). */
  readonly roundToPowerOfTwo?: boolean;
  /** Power (true, default) or magnitude spectrum. */
  readonly usePower?: boolean;
  /** Natural log of the mel energies (default true). */
  readonly useLogFbank?: boolean;
  /**
   * Multiplies every input sample before analysis. 1 (default) matches torchaudio fed with
   * [-1, 1] audio (3D-Speaker); 32768 matches WeSpeaker, which scales by 1 << 15 first.
   */
  readonly sampleScale?: number;
}

export type ResolvedFbankOptions = Required<FbankOptions>;

export const FBANK_DEFAULTS: ResolvedFbankOptions = {
  sampleRate: 16000,
  numMelBins: 80,
  frameLengthMs: 25,
  frameShiftMs: 10,
  windowType: "povey",
  blackmanCoeff: 0.42,
  preemphasis: 0.97,
  removeDcOffset: true,
  dither: 0,
  ditherSeed: 0,
  lowFreq: 20,
  highFreq: 0,
  roundToPowerOfTwo: true,
  usePower: true,
  useLogFbank: true,
  sampleScale: 1,
};

export function resolveFbankOptions(options: FbankOptions = {}): ResolvedFbankOptions {
  const o: ResolvedFbankOptions = { ...FBANK_DEFAULTS, ...options };
  const bad = (what: string): never => {
    throw new VaultError("INVALID_ARGUMENT", `fbank: ${what}`);
  };
  if (!(o.sampleRate > 0)) bad("sampleRate must be > 0");
  if (!Number.isInteger(o.numMelBins) || o.numMelBins < 3) bad("numMelBins must be an integer >= 3");
  if (!(o.frameLengthMs > 0) || !(o.frameShiftMs > 0)) bad("frame length and shift must be > 0");
  if (!o.roundToPowerOfTwo) bad("roundToPowerOfTwo=false is not supported");
  if (!(o.sampleScale > 0)) bad("sampleScale must be > 0");
  if (!(o.dither >= 0)) bad("dither must be >= 0");
  const nyquist = o.sampleRate / 2;
  const high = o.highFreq <= 0 ? o.highFreq + nyquist : o.highFreq;
  if (!(o.lowFreq >= 0 && o.lowFreq < high && high <= nyquist)) {
    bad(`need 0 <= lowFreq < highFreq <= Nyquist, got ${o.lowFreq}..${high}`);
  }
  return o;
}

/** Frame geometry as torchaudio computes it: int(fs · ms · 0.001), FFT = next power of two. */
export function fbankGeometry(o: ResolvedFbankOptions): {
  frameLength: number;
  frameShift: number;
  fftSize: number;
} {
  const frameLength = Math.trunc(o.sampleRate * o.frameLengthMs * 0.001);
  const frameShift = Math.trunc(o.sampleRate * o.frameShiftMs * 0.001);
  if (frameLength < 2 || frameShift < 1) {
    throw new VaultError("INVALID_ARGUMENT", "fbank: frame too short for the sample rate");
  }
  let fftSize = 4;
  while (fftSize < frameLength) fftSize <<= 1;
  return { frameLength, frameShift, fftSize };
}

/** Number of frames Kaldi (snip_edges = true) produces from n samples. */
export function numFramesFor(numSamples: number, frameLength: number, frameShift: number): number {
  return numSamples < frameLength ? 0 : 1 + Math.floor((numSamples - frameLength) / frameShift);
}

/**
 * The per-frame computation, shared by {@link FbankExtractor} and the feature pipeline (which
 * reuses the mel energies for the VAD). Not incremental by itself: feed it whole frames.
 */
export class FbankComputer {
  readonly options: ResolvedFbankOptions;
  readonly frameLength: number;
  readonly frameShift: number;
  readonly fftSize: number;
  readonly banks: MelBanks;
  /** Linear mel energies of the last frame (before the log). */
  readonly melEnergies: Float64Array;
  /** Power spectrum |X[k]|² (k ≤ N/2) of the last frame, pre-emphasised and windowed. */
  readonly power: Float64Array;
  /** Σx² of the last frame after dither and DC removal, before pre-emphasis (Kaldi raw energy). */
  rawEnergy = 0;
  private readonly window: Float64Array;
  private readonly fft: RealFft;
  private readonly buf: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly rng: Rng;

  constructor(options: FbankOptions = {}) {
    const o = resolveFbankOptions(options);
    this.options = o;
    const g = fbankGeometry(o);
    this.frameLength = g.frameLength;
    this.frameShift = g.frameShift;
    this.fftSize = g.fftSize;
    this.window = makeWindow(o.windowType, g.frameLength, o.blackmanCoeff);
    this.fft = new RealFft(g.fftSize);
    this.banks = makeMelBanks(o.numMelBins, g.fftSize, o.sampleRate, o.lowFreq, o.highFreq);
    this.buf = new Float64Array(g.fftSize);
    this.re = new Float64Array(g.fftSize / 2 + 1);
    this.im = new Float64Array(g.fftSize / 2 + 1);
    this.power = new Float64Array(g.fftSize / 2 + 1);
    this.melEnergies = new Float64Array(o.numMelBins);
    this.rng = new Rng(o.ditherSeed);
  }

  /** Computes one frame (length frameLength, unscaled samples) into out[offset … offset+bins). */
  compute(frame: ArrayLike<number>, out: Float32Array, offset: number): void {
    const o = this.options;
    const L = this.frameLength;
    const x = this.buf;
    const scale = o.sampleScale;
    // Fused passes (same arithmetic, in the same order, as Kaldi's separate steps).
    let mean = 0;
    if (o.dither > 0) {
      for (let i = 0; i < L; i++) {
        const v = frame[i]! * scale + o.dither * this.rng.gauss();
        x[i] = v;
        mean += v;
      }
    } else {
      for (let i = 0; i < L; i++) {
        const v = frame[i]! * scale;
        x[i] = v;
        mean += v;
      }
    }
    // DC removal, raw energy, then pre-emphasis (x[i] − k·x[i−1], x[−1] := x[0]) and the window,
    // in one forward pass that carries the previous DC-removed sample.
    const k = o.preemphasis;
    const w = this.window;
    const dc = o.removeDcOffset ? mean / L : 0;
    let energy = 0;
    let prev = o.removeDcOffset ? x[0]! - dc : x[0]!;
    for (let i = 0; i < L; i++) {
      const v = o.removeDcOffset ? x[i]! - dc : x[i]!;
      energy += v * v;
      x[i] = (v - k * prev) * w[i]!;
      prev = v;
    }
    this.rawEnergy = energy;
    x.fill(0, L);
    this.fft.forward(x, this.re, this.im);
    const re = this.re;
    const im = this.im;
    const p = this.power;
    const half = this.fftSize / 2;
    if (o.usePower) {
      for (let b = 0; b <= half; b++) p[b] = re[b]! * re[b]! + im[b]! * im[b]!;
    } else {
      for (let b = 0; b <= half; b++) p[b] = Math.sqrt(re[b]! * re[b]! + im[b]! * im[b]!);
    }
    const banks = this.banks;
    const mel = this.melEnergies;
    for (let m = 0; m < o.numMelBins; m++) {
      const ws = banks.weights[m]!;
      const s = banks.start[m]!;
      let acc = 0;
      for (let j = 0; j < ws.length; j++) acc += ws[j]! * p[s + j]!;
      mel[m] = acc;
      out[offset + m] = o.useLogFbank ? Math.log(Math.max(acc, FLOAT32_EPSILON)) : acc;
    }
  }
}

/** Frames produced by one push: row-major numFrames × numBins. */
export interface FbankBatch {
  /** Index of the first frame in this batch within the whole stream. */
  readonly firstFrame: number;
  readonly numFrames: number;
  readonly numBins: number;
  readonly data: Float32Array;
}

/**
 * Incremental fbank. Each push returns the frames that the new samples completed; the stream's
 * frames are identical however it is chunked. Memory: one frame plus the returned batch.
 */
export class FbankExtractor {
  readonly computer: FbankComputer;
  private readonly framer: Framer;
  private finished = false;

  constructor(options: FbankOptions = {}) {
    this.computer = new FbankComputer(options);
    this.framer = new Framer(this.computer.frameLength, this.computer.frameShift);
  }

  get numBins(): number {
    return this.computer.options.numMelBins;
  }

  /** Frames emitted so far. */
  get frameCount(): number {
    return this.framer.frames;
  }

  push(chunk: Float32Array): FbankBatch {
    if (this.finished) throw new VaultError("INVALID_ARGUMENT", "fbank: push after finish");
    const bins = this.numBins;
    const first = this.framer.frames;
    const total = numFramesFor(this.framer.samples + chunk.length, this.framer.length, this.framer.shift);
    const data = new Float32Array((total - first) * bins);
    this.framer.push(chunk, (frame, index) => {
      this.computer.compute(frame, data, (index - first) * bins);
    });
    return { firstFrame: first, numFrames: total - first, numBins: bins, data };
  }

  /** Ends the stream. With snip_edges the trailing partial frame is dropped, so this is empty. */
  finish(): FbankBatch {
    this.finished = true;
    return { firstFrame: this.framer.frames, numFrames: 0, numBins: this.numBins, data: new Float32Array(0) };
  }
}

/** Whole-signal convenience: all frames of `pcm`. */
export function computeFbank(pcm: Float32Array, options: FbankOptions = {}): FbankBatch {
  const ex = new FbankExtractor(options);
  return ex.push(pcm);
}
