/**
 * STAND-IN EMBEDDER, for plumbing only (the runner's tests use it; voxvault's real built-in
 * embedder is src/embed/dsp, evaluated by evaluate-builtin.ts). It keeps the evaluation runner
 * testable without a trained model. It is a pre-i-vector style
 * baseline: utterance-level second-order statistics of 19 MFCCs (c1..c19; 25 ms Hamming frames,
 * 10 ms hop, 40 mel bands 60-7600 Hz, HTK mel scale) over frames within 30 dB of the loudest,
 * 190 dimensions (close to the 192 of common x-vector/ECAPA embedders, so protection costs are
 * realistic). Its error rates say nothing about the real embedder; they only show that protection
 * preserves (or not) what an embedding offers.
 */

const SR = 16000;
const FRAME = 400;
const HOP = 160;
const NFFT = 512;
const NMEL = 40;
const NCEP = 20;

export const STANDIN_DIM = ((NCEP - 1) * NCEP) / 2;
export const STANDIN_ID = "standin-mfcc-cov@1";

function hzToMel(f: number): number {
  return 2595 * Math.log10(1 + f / 700);
}
function melToHz(m: number): number {
  return 700 * (10 ** (m / 2595) - 1);
}

const HAMMING = Float64Array.from(
  { length: FRAME },
  (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (FRAME - 1)),
);

/** Triangular mel filters as [startBin, weights[]] pairs. */
const MEL: { start: number; w: Float64Array }[] = (() => {
  const lo = hzToMel(60);
  const hi = hzToMel(7600);
  const pts = Array.from({ length: NMEL + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (NMEL + 1)));
  const binHz = SR / NFFT;
  const out: { start: number; w: Float64Array }[] = [];
  for (let m = 1; m <= NMEL; m++) {
    const [l, c, r] = [pts[m - 1]!, pts[m]!, pts[m + 1]!];
    const start = Math.ceil(l / binHz);
    const end = Math.floor(r / binHz);
    const w = new Float64Array(Math.max(0, end - start + 1));
    for (let b = start; b <= end; b++) {
      const f = b * binHz;
      w[b - start] = f <= c ? (f - l) / (c - l) : (r - f) / (r - c);
    }
    out.push({ start, w });
  }
  return out;
})();

const DCT = Float64Array.from({ length: NCEP * NMEL }, (_, idx) => {
  const k = Math.floor(idx / NMEL);
  const n = idx % NMEL;
  return Math.sqrt((k === 0 ? 1 : 2) / NMEL) * Math.cos((Math.PI * k * (n + 0.5)) / NMEL);
});

/** In-place iterative radix-2 complex FFT. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/** MFCC frames (c0..c19) and per-frame log energy. */
export function mfccFrames(pcm: Float32Array): { ceps: Float64Array[]; energyDb: number[] } {
  const ceps: Float64Array[] = [];
  const energyDb: number[] = [];
  const re = new Float64Array(NFFT);
  const im = new Float64Array(NFFT);
  const logMel = new Float64Array(NMEL);
  for (let start = 0; start + FRAME <= pcm.length; start += HOP) {
    re.fill(0);
    im.fill(0);
    let energy = 0;
    for (let i = 0; i < FRAME; i++) {
      const prev = start + i > 0 ? pcm[start + i - 1]! : 0;
      const v = (pcm[start + i]! - 0.97 * prev) * HAMMING[i]!;
      re[i] = v;
      energy += v * v;
    }
    fft(re, im);
    for (let m = 0; m < NMEL; m++) {
      const { start: s, w } = MEL[m]!;
      let acc = 0;
      for (let b = 0; b < w.length; b++) acc += w[b]! * (re[s + b]! ** 2 + im[s + b]! ** 2);
      logMel[m] = Math.log(acc + 1e-10);
    }
    const c = new Float64Array(NCEP);
    for (let k = 0; k < NCEP; k++) {
      let acc = 0;
      for (let n = 0; n < NMEL; n++) acc += DCT[k * NMEL + n]! * logMel[n]!;
      c[k] = acc;
    }
    ceps.push(c);
    energyDb.push(10 * Math.log10(energy + 1e-12));
  }
  return { ceps, energyDb };
}

/**
 * The stand-in embedding: the upper triangle (with diagonal) of the covariance of c1..c19 over
 * energetic frames, each entry passed through a signed square root (power normalisation). Second-
 * order cepstral statistics are less channel-bound than cepstral means (a fixed channel mostly
 * shifts the mean); on the bench corpus they roughly halve the gap to chance compared with mean+std.
 */
export function standinEmbed(pcm16k: Float32Array): Float32Array {
  const { ceps, energyDb } = mfccFrames(pcm16k);
  if (ceps.length === 0) throw new Error("utterance shorter than one frame");
  const max = Math.max(...energyDb);
  const keep = ceps.filter((_, i) => energyDb[i]! > max - 30);
  const d = NCEP - 1;
  const mean = new Float64Array(d);
  for (const c of keep) for (let k = 0; k < d; k++) mean[k]! += c[k + 1]! / keep.length;
  const out = new Float32Array(STANDIN_DIM);
  let o = 0;
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      let s = 0;
      for (const c of keep) s += (c[a + 1]! - mean[a]!) * (c[b + 1]! - mean[b]!);
      s /= keep.length;
      out[o++] = Math.sign(s) * Math.sqrt(Math.abs(s));
    }
  }
  return out;
}
