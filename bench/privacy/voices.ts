/**
 * Speakers of the evaluation corpus. Every "real" speaker is one person whose recordings a
 * synthesiser voice was built from (CMU ARCTIC/FestVox, Suopuhe, the Czech Festival voices, UPC,
 * MSU, IIIT NSK). Where two engines carry the same person (kal: flite kal16 and the festival kal
 * diphones; slt: flite and the festival HTS voice) both are used as sessions of ONE speaker, never as
 * two. The Marathi and Telugu NSK voices are left out: they are very likely the Hindi NSK speaker.
 *
 * There are 16 such people here, fewer than the 20 wanted, so 8 "derived" pseudo-speakers are made
 * from real base voices by a fixed transformation with sox: `pitch` (which in sox scales the whole
 * spectrum — F0 and formant envelope together, i.e. a joint pitch / vocal-tract-length change),
 * a tempo change and a fixed spectral tilt. They keep the base speaker's prosody and articulation:
 * results are reported over real speakers only and over all.
 */

export type Lang = "en" | "cs" | "fi" | "it" | "ca" | "ru" | "hi";

export interface VoiceSpec {
  readonly engine: "flite" | "festival" | "mbrola";
  /** flite -voice NAME, festival (voice_NAME), or an espeak-ng MBROLA voice (mb-XX). */
  readonly voice: string;
}

export interface DerivedTransform {
  /** sox pitch shift in cents (spectrum scaled by 2^(cents/1200)). */
  readonly pitchCents: number;
  /** sox tempo factor (speaking rate). */
  readonly tempo: number;
  /** sox treble gain in dB at 3 kHz (negative = darker voice). */
  readonly trebleDb: number;
}

export interface SpeakerSpec {
  readonly id: string;
  readonly kind: "real" | "derived";
  readonly lang: Lang;
  readonly sex: "f" | "m";
  readonly description: string;
  readonly voices: readonly VoiceSpec[];
  readonly base?: string;
  readonly transform?: DerivedTransform;
}

const flite = (voice: string): VoiceSpec => ({ engine: "flite", voice });
const fest = (voice: string): VoiceSpec => ({ engine: "festival", voice });

export const REAL_SPEAKERS: readonly SpeakerSpec[] = [
  {
    id: "kal",
    kind: "real",
    lang: "en",
    sex: "m",
    description: "US English male (CMU kal diphones; flite kal16 and festival)",
    voices: [flite("kal16"), fest("kal_diphone")],
  },
  {
    id: "ked",
    kind: "real",
    lang: "en",
    sex: "m",
    description: "US English male (festival ked diphones)",
    voices: [fest("ked_diphone")],
  },
  {
    id: "awb",
    kind: "real",
    lang: "en",
    sex: "m",
    description: "Scottish English male (CMU ARCTIC awb, flite)",
    voices: [flite("awb")],
  },
  {
    id: "rms",
    kind: "real",
    lang: "en",
    sex: "m",
    description: "US English male (CMU ARCTIC rms, flite)",
    voices: [flite("rms")],
  },
  {
    id: "slt",
    kind: "real",
    lang: "en",
    sex: "f",
    description: "US English female (CMU ARCTIC slt; flite and festival HTS)",
    voices: [flite("slt"), fest("cmu_us_slt_arctic_hts")],
  },
  {
    id: "ona",
    kind: "real",
    lang: "ca",
    sex: "f",
    description: "Catalan female (UPC ona, HTS)",
    voices: [fest("upc_ca_ona_hts")],
  },
  {
    id: "dita",
    kind: "real",
    lang: "cs",
    sex: "f",
    description: "Czech female (dita)",
    voices: [fest("czech_dita")],
  },
  {
    id: "krb",
    kind: "real",
    lang: "cs",
    sex: "m",
    description: "Czech child male (krb)",
    voices: [fest("czech_krb")],
  },
  {
    id: "machac",
    kind: "real",
    lang: "cs",
    sex: "m",
    description: "Czech male (machac)",
    voices: [fest("czech_machac")],
  },
  {
    id: "ph",
    kind: "real",
    lang: "cs",
    sex: "m",
    description: "Czech male (ph)",
    voices: [fest("czech_ph")],
  },
  {
    id: "lj",
    kind: "real",
    lang: "fi",
    sex: "f",
    description: "Finnish female (Suopuhe lj)",
    voices: [fest("suo_fi_lj_diphone")],
  },
  {
    id: "mv",
    kind: "real",
    lang: "fi",
    sex: "m",
    description: "Finnish male (Suopuhe mv)",
    voices: [fest("hy_fi_mv_diphone")],
  },
  {
    id: "lp",
    kind: "real",
    lang: "it",
    sex: "f",
    description: "Italian female (lp diphones)",
    voices: [fest("lp_diphone")],
  },
  {
    id: "pc",
    kind: "real",
    lang: "it",
    sex: "m",
    description: "Italian male (pc diphones)",
    voices: [fest("pc_diphone")],
  },
  {
    id: "nsh",
    kind: "real",
    lang: "ru",
    sex: "m",
    description: "Russian male (MSU nsh, clunits)",
    voices: [fest("msu_ru_nsh_clunits")],
  },
  {
    id: "nsk",
    kind: "real",
    lang: "hi",
    sex: "m",
    description: "Hindi male (IIIT NSK diphones)",
    voices: [fest("hindi_NSK_diphone")],
  },
];

function derive(base: string, suffix: string, transform: DerivedTransform): SpeakerSpec {
  const b = REAL_SPEAKERS.find((s) => s.id === base)!;
  return {
    id: `${base}-${suffix}`,
    kind: "derived",
    lang: b.lang,
    sex: b.sex,
    description: `derived from ${base}: pitch ${transform.pitchCents} cents, tempo ${transform.tempo}, treble ${transform.trebleDb} dB`,
    voices: b.voices,
    base,
    transform,
  };
}

export const DERIVED_SPEAKERS: readonly SpeakerSpec[] = [
  derive("kal", "d1", { pitchCents: 400, tempo: 1.06, trebleDb: 3 }),
  derive("slt", "d1", { pitchCents: -350, tempo: 0.94, trebleDb: -3 }),
  derive("awb", "d1", { pitchCents: 250, tempo: 0.95, trebleDb: 0 }),
  derive("rms", "d1", { pitchCents: 350, tempo: 1.04, trebleDb: -2 }),
  derive("ked", "d1", { pitchCents: -300, tempo: 1.05, trebleDb: 2 }),
  derive("dita", "d1", { pitchCents: -400, tempo: 0.95, trebleDb: 0 }),
  derive("lp", "d1", { pitchCents: -350, tempo: 1.05, trebleDb: -2 }),
  derive("mv", "d1", { pitchCents: 300, tempo: 0.95, trebleDb: 2 }),
];

export const ALL_SPEAKERS: readonly SpeakerSpec[] = [...REAL_SPEAKERS, ...DERIVED_SPEAKERS];

/**
 * MBROLA diphone voices, each recorded from one real person, spoken through espeak-ng. They read
 * ENGLISH text with the phoneme rules of their own language (an accent, not a translation), so
 * `lang` is the text's language. Prosody comes from espeak-ng's rules, so per utterance the corpus
 * draws a speaking rate and a base pitch (see corpus.ts) to vary what a person varies.
 */
function mbrola(code: string, sex: "f" | "m", language: string): SpeakerSpec {
  return {
    id: `mb_${code}`,
    kind: "real",
    lang: "en",
    sex,
    description: `${language} ${sex === "f" ? "female" : "male"} (MBROLA ${code}, English text through espeak-ng)`,
    voices: [{ engine: "mbrola", voice: `mb-${code}` }],
  };
}

/**
 * Held-out real voices for the embedder's speaker-disjoint evaluation, chosen before any training
 * or tuning on MBROLA voices and never trained on: the 15 of the diarisation figures
 * (bench/diarise/conversations.ts EVALUATION) and 7 more. 9 female, 13 male.
 */
export const MBROLA_HELDOUT: readonly SpeakerSpec[] = [
  mbrola("de3", "f", "German"),
  mbrola("de7", "f", "German"),
  mbrola("fr2", "f", "French"),
  mbrola("fr3", "m", "French"),
  mbrola("nl1", "m", "Dutch"),
  mbrola("es1", "m", "Spanish"),
  mbrola("it3", "m", "Italian"),
  mbrola("pt1", "f", "Portuguese"),
  mbrola("ro1", "m", "Romanian"),
  mbrola("cz2", "m", "Czech"),
  mbrola("hu1", "f", "Hungarian"),
  mbrola("gr2", "m", "Greek"),
  mbrola("tr1", "m", "Turkish"),
  mbrola("id1", "m", "Indonesian"),
  mbrola("ee1", "m", "Estonian"),
  mbrola("ar2", "m", "Arabic"),
  mbrola("br2", "f", "Brazilian Portuguese"),
  mbrola("cz1", "f", "Czech"),
  mbrola("es3", "f", "Spanish"),
  mbrola("fr7", "m", "French"),
  mbrola("it2", "f", "Italian"),
  mbrola("mx2", "m", "Mexican Spanish"),
];

/**
 * MBROLA voices the embedder trains on: the rest of ../shared/README.md's list, which includes the
 * diarisation TUNING voices. Left out: bz1 (no espeak-ng voice), cn1 (espeak-ng fails on English
 * text), hn1, hb1, hb2, jp1, jp2, jp3 (most English diphones unknown to the database: near
 * silence or fragments). 29 voices, 7 female.
 */
export const MBROLA_TRAINING: readonly SpeakerSpec[] = [
  mbrola("ar1", "m", "Arabic"),
  mbrola("br1", "m", "Brazilian Portuguese"),
  mbrola("br3", "m", "Brazilian Portuguese"),
  mbrola("br4", "f", "Brazilian Portuguese"),
  mbrola("ca1", "m", "Canadian French"),
  mbrola("ca2", "m", "Canadian French"),
  mbrola("cr1", "m", "Croatian"),
  mbrola("de8", "m", "German"),
  mbrola("es2", "m", "Spanish"),
  mbrola("es4", "m", "Spanish"),
  mbrola("fr5", "m", "Belgian French"),
  mbrola("fr6", "m", "French"),
  mbrola("gr1", "m", "Greek"),
  mbrola("ic1", "m", "Icelandic"),
  mbrola("in1", "m", "Hindi"),
  mbrola("in2", "f", "Hindi"),
  mbrola("ir1", "m", "Persian"),
  mbrola("it1", "m", "Italian"),
  mbrola("it4", "f", "Italian"),
  mbrola("la1", "m", "Latin"),
  mbrola("lt1", "m", "Lithuanian"),
  mbrola("lt2", "m", "Lithuanian"),
  mbrola("ma1", "f", "Malay"),
  mbrola("mx1", "m", "Mexican Spanish"),
  mbrola("nl3", "f", "Dutch"),
  mbrola("nz1", "m", "Maori"),
  mbrola("tl1", "f", "Telugu"),
  mbrola("tr2", "f", "Turkish"),
  mbrola("vz1", "m", "Venezuelan Spanish"),
];

/** Text encoding each festival language expects (flite voices are English, ASCII). */
export const FESTIVAL_ENCODING: Record<Lang, string> = {
  en: "UTF-8",
  cs: "ISO-8859-2",
  fi: "ISO-8859-1",
  it: "ISO-8859-1",
  ca: "ISO-8859-1",
  ru: "UTF-8",
  hi: "UTF-8",
};
