/**
 * K-weighting of ITU-R BS.1770-4 §2.1 for any sample rate. The Recommendation tabulates the two
 * biquads only at 48 kHz; like libebur128 and pyloudnorm we recover their analogue prototypes
 * (a high shelf of +4 dB near 1.68 kHz, then the "RLB" high-pass near 38 Hz) and re-derive the
 * coefficients with the bilinear transform at the actual rate. At 48 kHz this reproduces the
 * published table to ~1e-9.
 */

/** Second-order IIR section y = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²) x. */
export interface BiquadCoefficients {
  readonly b0: number;
  readonly b1: number;
  readonly b2: number;
  readonly a1: number;
  readonly a2: number;
}

/** Stage 1: the head-effect high shelf ("pre-filter"). */
export function kWeightingShelf(sampleRate: number): BiquadCoefficients {
  const f0 = 1681.974450955533;
  const G = 3.999843853973347;
  const Q = 0.7071752369554196;
  const K = Math.tan((Math.PI * f0) / sampleRate);
  const Vh = Math.pow(10, G / 20);
  const Vb = Math.pow(Vh, 0.4996667741545416);
  const a0 = 1 + K / Q + K * K;
  return {
    b0: (Vh + (Vb * K) / Q + K * K) / a0,
    b1: (2 * (K * K - Vh)) / a0,
    b2: (Vh - (Vb * K) / Q + K * K) / a0,
    a1: (2 * (K * K - 1)) / a0,
    a2: (1 - K / Q + K * K) / a0,
  };
}

/** Stage 2: the revised low-frequency B-curve (RLB) high-pass. */
export function kWeightingHighPass(sampleRate: number): BiquadCoefficients {
  const f0 = 38.13547087602444;
  const Q = 0.5003270373238773;
  const K = Math.tan((Math.PI * f0) / sampleRate);
  const a0 = 1 + K / Q + K * K;
  // The published numerator is exactly [1, -2, 1] (unnormalised); keep it, as libebur128 does.
  return { b0: 1, b1: -2, b2: 1, a1: (2 * (K * K - 1)) / a0, a2: (1 - K / Q + K * K) / a0 };
}
