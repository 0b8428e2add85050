/** `frames`: frame-level filterbank features (reconstructable: vocoders invert them). */
import type { FeatureFrames, FeatureReport } from "../audio/features/index.js";
import type { CanonicalValue } from "../crypto/jcs.js";
import { defineKind, type Recipe } from "./types.js";

export function framesRecipe(
  report: FeatureReport,
  fbank: Readonly<Record<string, CanonicalValue>>,
): Recipe<"frames"> {
  return {
    name: "frames",
    version: 1,
    params: {
      type: "kaldi-fbank",
      layout: "row-major float32 little-endian, frames x bins",
      numMelBins: report.frames.numMelBins,
      frames: report.frames.count,
      frameLengthMilliSec: Math.round(report.frames.frameLengthSec * 1000),
      frameShiftMilliSec: Math.round(report.frames.frameShiftSec * 1000),
      ...fbank,
    },
  };
}

/** The payload layout the recipe names: row-major float32 little-endian. */
export function framesToBytes(f: FeatureFrames): Uint8Array {
  const out = new Uint8Array(f.numFrames * f.numMelBins * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < f.numFrames * f.numMelBins; i++) v.setFloat32(i * 4, f.fbank[i]!, true);
  return out;
}

export const frames = defineKind({
  name: "frames",
  reconstructable: true,
  contentType: "application/octet-stream",
  description: "frame-level filterbank features (float32 frames x bins)",
  production: { kind: "stream" },
});
