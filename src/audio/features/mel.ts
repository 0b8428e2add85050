/**
 * Kaldi mel filterbank (mel-computations.cc; torchaudio.compliance.kaldi.get_mel_banks):
 * triangles equally spaced on mel = 1127·ln(1 + f/700) between lowFreq and highFreq, evaluated
 * at FFT bin centres k·fs/N for k < N/2 (the Nyquist bin gets weight 0), without area
 * normalisation. Stored sparsely: each bank keeps only its non-zero span.
 *
 * The triangle edges are evaluated in float32 (Math.fround) step by step as torchaudio does:
 * near a triangle's foot the weight is a difference of two nearly equal mels, so float64
 * weights differ from torchaudio's by up to 1e-3 relative there, which is visible on pure
 * tones. Emulating the float32 steps brings that to ~1e-4 (log ULP differences remain).
 */

export function melScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

export function inverseMelScale(mel: number): number {
  return 700 * (Math.exp(mel / 1127) - 1);
}

export interface MelBanks {
  readonly numBins: number;
  /** First FFT bin with non-zero weight, per mel bin. */
  readonly start: Int32Array;
  /** Weights from `start[m]`, per mel bin. */
  readonly weights: readonly Float64Array[];
  /** Centre frequency of each bank in Hz. */
  readonly centerHz: Float64Array;
}

export function makeMelBanks(
  numBins: number,
  fftSize: number,
  sampleRate: number,
  lowFreq: number,
  highFreq: number,
): MelBanks {
  const numFftBins = fftSize / 2;
  const nyquist = 0.5 * sampleRate;
  const high = highFreq <= 0 ? highFreq + nyquist : highFreq;
  const binWidth = sampleRate / fftSize;
  const melLow = melScale(lowFreq);
  const melHigh = melScale(high);
  const delta = (melHigh - melLow) / (numBins + 1);
  const f = Math.fround;
  const binMel = new Float64Array(numFftBins);
  const fWidth = f(binWidth);
  for (let k = 0; k < numFftBins; k++) {
    const hz = f(fWidth * k);
    binMel[k] = f(f(1127) * f(Math.log(f(1 + f(hz / 700)))));
  }
  const fDelta = f(delta);
  const fLow = f(melLow);
  const start = new Int32Array(numBins);
  const weights: Float64Array[] = [];
  const centerHz = new Float64Array(numBins);
  for (let m = 0; m < numBins; m++) {
    const left = f(fLow + f(m * fDelta));
    const center = f(fLow + f((m + 1) * fDelta));
    const right = f(fLow + f((m + 2) * fDelta));
    centerHz[m] = inverseMelScale(center);
    const upDen = f(center - left);
    const downDen = f(right - center);
    let first = -1;
    let last = -1;
    const full = new Float64Array(numFftBins);
    for (let k = 0; k < numFftBins; k++) {
      const mel = binMel[k]!;
      const up = f(f(mel - left) / upDen);
      const down = f(f(right - mel) / downDen);
      const w = Math.max(0, Math.min(up, down));
      full[k] = w;
      if (w > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first < 0) {
      start[m] = 0;
      weights.push(new Float64Array(0));
    } else {
      start[m] = first;
      weights.push(full.slice(first, last + 1));
    }
  }
  return { numBins, start, weights, centerHz };
}
