/**
 * The streaming half of diarisation: runs beside the embedder in the one analysis pass, keeping
 * per 0.5 s hop the sufficient statistics of its speech frames (the built-in embedder's MFCC
 * statistics: count, Σc, Σccᵀ, ΣΔ, ΣΔ², ΣΔΔ, ΣΔΔ²) and, per 1.5 s window (three hops, one hop
 * apart), a speaker embedding projected from those statistics. Frames count only once the VAD
 * has called them speech, so silence never enters a window.
 *
 * Memory: the hops' statistics sit in a bounded store (hop-store.ts: at most 9.4 MB, whatever the
 * length; past 68 minutes, slots cover more than one hop), one embedding per window (40 values,
 * about 2 MB an hour of speech), one bit per frame and one byte per hop, plus a ring of frames
 * awaiting the VAD's decision. Nothing here can be turned back into audio: these are
 * second-order statistics of 19 cepstral coefficients over half a second or more.
 */
import type { FeatureFrames } from "../audio/features/index.js";
import { accumulateFrame, CepstralFrames, statsLayout, statsVector } from "../embed/dsp/stats.js";
import { VaultError } from "../errors.js";
import { DEFAULT_MAX_SLOTS, HopStore } from "./hop-store.js";

/** Frames per hop (10 ms frames): the time resolution of speaker labels. */
export const HOP_FRAMES = 50;
/** Hops per window: 1.5 s, the shortest stretch whose statistics still separate voices. */
export const WINDOW_HOPS = 3;
/** A window needs this many speech frames (of 150) for an embedding. */
export const MIN_WINDOW_SPEECH = 75;
/** Frame data awaiting the VAD's decision: its lag (noise window + smoothing) is far below this. */
const PENDING = 1024;

export interface Window {
  /** Index of the window's first hop. */
  readonly hop: number;
  readonly speech: number;
  /** Unit-length speaker embedding of the window's speech. */
  readonly embedding: Float32Array;
}

export interface DiarisationFrames {
  /** Each hop's speech frames and (per slot of one or more hops) summed statistics. */
  readonly hops: HopStore;
  readonly windows: readonly Window[];
  /** Per-frame speech decisions, one bit each. */
  readonly speechBits: Uint8Array;
  readonly frames: number;
  /** Cepstral coefficients per frame in the statistics (numCeps − 1). */
  readonly d: number;
  /** Hops per window. */
  readonly windowHops: number;
  /** Projects a statistics vector to a unit embedding (the embedder's projection). */
  readonly project: (stats: Float64Array) => Float32Array;
  /** Wipes every statistic and embedding held. */
  wipe(): void;
}

export class DiarisationStream {
  readonly #d: number;
  readonly #layout: ReturnType<typeof statsLayout>;
  readonly #cepstra: CepstralFrames;
  readonly #project: (stats: Float64Array) => Float32Array;
  /** Finalised frames' c, Δ, ΔΔ (d each) by frame index mod PENDING, and whether present. */
  readonly #data: Float64Array;
  readonly #have = new Uint8Array(PENDING);
  #next = 0;
  readonly #store: HopStore;
  readonly #windows: Window[] = [];
  /** The current hop's statistics and the last WINDOW_HOPS − 1 closed hops' (float64). */
  #current: Float64Array;
  #currentSpeech = 0;
  readonly #recent: { speech: number; stats: Float64Array }[] = [];
  /** A window's summed statistics (reused: a long recording closes a hop every 0.5 s). */
  readonly #sum: Float64Array;
  #bits = new Uint8Array(1024);
  #decisionsSeen = 0;
  /** accumulateFrame reads Δ at the same offset as c: this view is the frame data shifted by d. */
  readonly #deltas: Float64Array;
  readonly #dd: Float64Array;

  readonly #windowHops: number;

  /**
   * windowHops: hops per window (default WINDOW_HOPS); longer windows, steadier embeddings.
   * maxSlots: the hop store's bound (hop-store.ts).
   */
  constructor(
    numCeps: number,
    project: (stats: Float64Array) => Float32Array,
    windowHops = WINDOW_HOPS,
    maxSlots = DEFAULT_MAX_SLOTS,
  ) {
    if (!Number.isInteger(windowHops) || windowHops < 1 || windowHops > 20) {
      throw new VaultError("INVALID_ARGUMENT", "diarisation: windowHops must be an integer in 1..20");
    }
    this.#windowHops = windowHops;
    this.#d = numCeps - 1;
    this.#layout = statsLayout(this.#d);
    this.#project = project;
    this.#data = new Float64Array(PENDING * 3 * this.#d);
    this.#deltas = this.#data.subarray(this.#d);
    this.#dd = new Float64Array(this.#d);
    this.#current = new Float64Array(this.#layout.size);
    this.#store = new HopStore(this.#layout.size, maxSlots);
    this.#sum = new Float64Array(this.#layout.size);
    this.#cepstra = new CepstralFrames(numCeps, (t, _energy, ceps, offset, delta, dd) => {
      const d = this.#d;
      const slot = t % PENDING;
      if (this.#have[slot] === 1)
        throw new VaultError("INTERNAL", "diarisation: VAD decisions fell too far behind");
      const o = slot * 3 * d;
      for (let i = 0; i < d; i++) {
        this.#data[o + i] = ceps[offset + i]!;
        this.#data[o + d + i] = delta[offset + i]!;
        this.#data[o + 2 * d + i] = dd[i]!;
      }
      this.#have[slot] = 1;
      this.#drain();
    });
  }

  /** Frames as FeaturePipeline's onFrames hands them out. */
  push(frames: FeatureFrames): void {
    this.#cepstra.accept(frames);
  }

  /** The VAD's decision for one frame (FeaturePipeline.onSpeechDecision). */
  decide(frame: number, speech: boolean): void {
    if (frame !== this.#decisionsSeen)
      throw new VaultError("INTERNAL", "diarisation: VAD decisions out of order");
    this.#decisionsSeen++;
    if (frame >> 3 >= this.#bits.length) {
      const grown = new Uint8Array(this.#bits.length * 2);
      grown.set(this.#bits);
      this.#bits = grown;
    }
    if (speech) this.#bits[frame >> 3]! |= 1 << (frame & 7);
    this.#drain();
  }

  /** Consumes frames that have both their data and their decision, in order. */
  #drain(): void {
    const d = this.#d;
    for (;;) {
      const slot = this.#next % PENDING;
      // decisions may run ahead of the frame data by a whole decoded chunk (the VAD sees frames
      // before the pipeline hands out the chunk's features), or lag by the VAD's window
      if (this.#have[slot] !== 1 || this.#next >= this.#decisionsSeen) return;
      if (this.#next > 0 && this.#next % HOP_FRAMES === 0) this.#closeHop();
      if (((this.#bits[this.#next >> 3]! >> (this.#next & 7)) & 1) === 1) {
        const o = slot * 3 * d;
        for (let i = 0; i < d; i++) this.#dd[i] = this.#data[o + 2 * d + i]!;
        accumulateFrame(this.#current, this.#layout, d, this.#data, o, this.#deltas, this.#dd);
        this.#currentSpeech++;
      }
      this.#have[slot] = 0;
      this.#next++;
    }
  }

  #closeHop(): void {
    const speech = this.#currentSpeech;
    const stats = this.#current;
    this.#store.push(speech, stats);
    this.#recent.push({ speech, stats });
    // the hop that leaves the window lends its buffer to the next hop: no garbage per hop
    let spare: Float64Array | null = null;
    if (this.#recent.length > this.#windowHops) {
      spare = this.#recent.shift()!.stats;
      spare.fill(0);
    }
    if (this.#recent.length === this.#windowHops) {
      const total = this.#recent.reduce((n, h) => n + h.speech, 0);
      if (total >= (MIN_WINDOW_SPEECH * this.#windowHops) / WINDOW_HOPS) {
        const sum = this.#sum;
        sum.fill(0);
        for (const h of this.#recent) for (let i = 0; i < sum.length; i++) sum[i]! += h.stats[i]!;
        const v = statsVector(sum, this.#d);
        try {
          this.#windows.push({
            hop: this.#store.hops - this.#windowHops,
            speech: total,
            embedding: this.#project(v),
          });
        } catch (e) {
          // Degenerate statistics (digital silence called speech): no embedding for this window.
          if (!(e instanceof VaultError && e.code === "NO_SPEECH")) throw e;
        } finally {
          sum.fill(0);
          v.fill(0);
        }
      }
    }
    this.#current = spare ?? new Float64Array(this.#layout.size);
    this.#currentSpeech = 0;
  }

  /** Ends the stream: call after the pipeline's finish (which flushes the VAD's decisions). */
  finish(): DiarisationFrames {
    this.#cepstra.finish();
    this.#drain();
    if (this.#next !== this.#decisionsSeen) {
      throw new VaultError("INTERNAL", "diarisation: the VAD did not decide every frame");
    }
    if (this.#next > this.#store.hops * HOP_FRAMES) this.#closeHop();
    const hops = this.#store;
    const windows = this.#windows;
    const bits = this.#bits;
    const frames = this.#next;
    this.#wipeWorking();
    return {
      hops,
      windows,
      speechBits: bits,
      frames,
      d: this.#d,
      windowHops: this.#windowHops,
      project: this.#project,
      wipe: () => {
        hops.wipe();
        for (const w of windows) w.embedding.fill(0);
        windows.length = 0;
      },
    };
  }

  #wipeWorking(): void {
    this.#data.fill(0);
    this.#dd.fill(0);
    this.#current.fill(0);
    this.#sum.fill(0);
    for (const r of this.#recent) r.stats.fill(0);
    this.#cepstra.wipe();
  }

  abort(): void {
    this.#wipeWorking();
    this.#store.wipe();
    for (const w of this.#windows) w.embedding.fill(0);
  }
}
