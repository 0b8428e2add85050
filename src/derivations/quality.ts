/** `quality`: recording conditions (loudness, SNR, clipping, speech ratio), canonical JSON (RFC 8785). */
import { canonicalJson } from "../crypto/jcs.js";
import { defineKind, milli, type Recipe, type SummaryInput } from "./types.js";

export function qualityRecipe(): Recipe<"quality"> {
  return {
    name: "quality",
    version: 1,
    params: {
      loudness: "ITU-R BS.1770-4 integrated, EBU R128 gating",
      truePeak: "BS.1770-4 Annex 2, 4x oversampling",
      snr: "noise-floor estimate from VAD pauses",
      vad: "energy + spectral, hangover",
      units: "values are integers in thousandths (milli-units)",
    },
  };
}

export function qualityPayload({ info, report, loudness }: SummaryInput): Uint8Array {
  const q = report.quality;
  const payload = {
    format: {
      container: info.container,
      codec: info.codec,
      sampleRate: info.sampleRate,
      channels: info.channels,
      bitsPerSample: info.bitsPerSample ?? null,
    },
    durationMilliSec: milli(report.durationSec),
    speechMilliSec: milli(report.vad.speechSec),
    speechRatioMilli: milli(report.vad.speechRatio),
    snrMilliDb: milli(q.snrDb),
    clippingRatioMilli: milli(q.clippingRatio),
    rmsMilliDbfs: milli(q.rmsDbfs),
    peakMilliDbfs: milli(q.peakDbfs),
    dcOffsetMilli: milli(q.dcOffset),
    integratedMilliLufs: milli(loudness.integratedLufs),
    loudnessRangeMilliLu: milli(loudness.loudnessRangeLu),
    truePeakMilliDbtp: milli(loudness.truePeakDbtp),
  };
  return new TextEncoder().encode(canonicalJson(payload));
}

export const quality = defineKind({
  name: "quality",
  reconstructable: false,
  contentType: "application/json",
  description: "recording quality: loudness, SNR, clipping, speech ratio",
  production: {
    kind: "summary",
    summarize: (input) => ({ recipe: qualityRecipe(), payload: qualityPayload(input) }),
  },
});
