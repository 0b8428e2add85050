/**
 * Cepstral/feature mean normalisation as WeSpeaker and 3D-Speaker apply it before the
 * embedder: subtract the per-utterance mean of every feature dimension
 * (WeSpeaker `feat - torch.mean(feat, dim=0)`). The mean is accumulated incrementally in float64
 * (O(dims) memory); subtracting it needs the frames, which the embedder holds anyway.
 */

import { VaultError } from "../../errors.js";

export class MeanAccumulator {
  readonly dims: number;
  private readonly sum: Float64Array;
  private count = 0;

  constructor(dims: number) {
    this.dims = dims;
    this.sum = new Float64Array(dims);
  }

  get frames(): number {
    return this.count;
  }

  /** Adds numFrames rows of a row-major matrix. */
  add(data: Float32Array, numFrames = data.length / this.dims): void {
    const d = this.dims;
    const s = this.sum;
    for (let t = 0; t < numFrames; t++) {
      const row = t * d;
      for (let j = 0; j < d; j++) s[j] = s[j]! + data[row + j]!;
    }
    this.count += numFrames;
  }

  /** Per-dimension mean; all zeros when no frame was added. */
  mean(): Float32Array {
    const m = new Float32Array(this.dims);
    if (this.count === 0) return m;
    for (let j = 0; j < this.dims; j++) m[j] = this.sum[j]! / this.count;
    return m;
  }
}

/** Subtracts `mean` from every row of `data` in place; returns `data`. */
export function subtractMean(data: Float32Array, mean: Float32Array): Float32Array {
  const d = mean.length;
  if (d === 0 || data.length % d !== 0) {
    throw new VaultError("INVALID_ARGUMENT", "cmn: data length is not a multiple of the mean length");
  }
  for (let i = 0; i < data.length; i += d) {
    for (let j = 0; j < d; j++) data[i + j] = data[i + j]! - mean[j]!;
  }
  return data;
}

/** Utterance-level CMN of a row-major frames × dims matrix, in place. */
export function applyCmn(data: Float32Array, dims: number): Float32Array {
  const acc = new MeanAccumulator(dims);
  acc.add(data);
  return subtractMean(data, acc.mean());
}
