/**
 * Analysis windows exactly as Kaldi's feature-window.cc and torchaudio.compliance.kaldi
 * define them (symmetric, length N, denominator N − 1).
 */

export type WindowType = "povey" | "hamming" | "hanning" | "rectangular" | "blackman";

export function makeWindow(type: WindowType, length: number, blackmanCoeff = 0.42): Float64Array {
  const w = new Float64Array(length);
  const a = (2 * Math.PI) / (length - 1);
  for (let i = 0; i < length; i++) {
    switch (type) {
      case "hanning":
        w[i] = 0.5 - 0.5 * Math.cos(a * i);
        break;
      case "hamming":
        w[i] = 0.54 - 0.46 * Math.cos(a * i);
        break;
      case "povey":
        // Kaldi's default: Hann raised to 0.85, "like hamming but goes to zero at edges".
        w[i] = Math.pow(0.5 - 0.5 * Math.cos(a * i), 0.85);
        break;
      case "rectangular":
        w[i] = 1;
        break;
      case "blackman":
        w[i] = blackmanCoeff - 0.5 * Math.cos(a * i) + (0.5 - blackmanCoeff) * Math.cos(2 * a * i);
        break;
    }
  }
  return w;
}
