/** `voice-stats`: F0 percentiles, voiced ratio, speech and articulation rate; canonical JSON. */
import { canonicalJson } from "../crypto/jcs.js";
import { defineKind, milli, type Recipe, type SummaryInput } from "./types.js";

export function voiceStatsRecipe(): Recipe<"voice-stats"> {
  return {
    name: "voice-stats",
    version: 3,
    params: {
      f0: "YIN (de Cheveigne & Kawahara 2002) at 8 kHz, lag refined at 16 kHz; percentiles over voiced frames",
      hop: "20 ms",
      rate: "syllable nuclei from intensity peaks (de Jong & Wempe 2009)",
      units: "values are integers in thousandths (milli-units)",
    },
  };
}

export function voiceStatsPayload({ report }: Pick<SummaryInput, "report">): Uint8Array {
  const v = report.voice;
  const f0 = v.f0Hz;
  const payload = {
    f0MilliHz: f0
      ? { p5: milli(f0.p5), p25: milli(f0.p25), p50: milli(f0.p50), p75: milli(f0.p75), p95: milli(f0.p95) }
      : null,
    voicedRatioMilli: milli(v.voicedRatio),
    speechRateMilliSps: milli(v.speechRateSps),
    articulationRateMilliSps: milli(v.articulationRateSps),
  };
  return new TextEncoder().encode(canonicalJson(payload));
}

export const voiceStats = defineKind({
  name: "voice-stats",
  reconstructable: false,
  contentType: "application/json",
  description: "voice statistics: F0 percentiles, voiced ratio, speech and articulation rate",
  production: {
    kind: "summary",
    summarize: (input) => ({ recipe: voiceStatsRecipe(), payload: voiceStatsPayload(input) }),
  },
});
