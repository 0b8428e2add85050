/**
 * Proxy detection and enrolment purity on synthetic interviews of the EVALUATION voices
 * (bench/diarise/conversations.ts), through the same code the vault runs (src/ingest/speakers.ts)
 * with protected templates under a random key:
 *
 * - honest interviews: a staff interviewer and the candidate; a false alarm is proxySuspected;
 * - swapped interviews: the candidate answers the first half, someone else (≥ 20 s) the rest;
 *   detected when proxySuspected;
 * - enrolment purity: for interviews of a new candidate with a staff interviewer, the share of the
 *   enrolled voice's segments that is the candidate's speech in the reference.
 *
 * Build and run like bench/diarise/diarise.ts (same command, this file).
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { decodeToMono16k } from "../../src/audio/decode/index.js";
import { FeaturePipeline } from "../../src/audio/features/index.js";
import { diarise, DiarisationStream } from "../../src/diarise/index.js";
import { loadBuiltinEmbedder } from "../../src/embed/builtin.js";
import { chooseEnrolment, verifyVoices } from "../../src/ingest/speakers.js";
import { createTemplateProtector } from "../../src/template/index.js";
import { SeededRng } from "../privacy/rng.js";
import { encodeWav16 } from "../privacy/wav.js";
import { conversation, EVALUATION, utterances } from "./conversations.js";

const CACHE = join(os.tmpdir(), "voxvault-diarise-voices");
const embedder = await loadBuiltinEmbedder({ modelsDir: join(process.cwd(), "models") });
const threshold = embedder.calibration!.threshold;
const protector = createTemplateProtector(randomBytes(32), { profile: embedder.profile });

async function analyse(wav: Uint8Array) {
  const d = await decodeToMono16k(Readable.from([wav]) as AsyncIterable<Uint8Array>);
  const win = embedder.windows!;
  const stream = new DiarisationStream(win.numCeps, (s) => win.project(s));
  const session = embedder.createSession();
  const pipeline = new FeaturePipeline({
    ...embedder.features,
    onFrames: (f) => {
      stream.push(f);
      session.push(f);
    },
  });
  pipeline.onSpeechDecision((t, s) => {
    stream.decide(t, s);
  });
  for await (const c of d.pcm) pipeline.push(c);
  const report = pipeline.finish();
  const dz = diarise(stream.finish());
  return { dz, whole: await session.finish(report) };
}

/** A monologue's protected template (enrolment from a separate recording). */
async function enrol(pcm: Float32Array[]): Promise<Uint8Array> {
  const gap = new Float32Array(8000);
  const all = pcm.flatMap((p) => [p, gap]);
  const joined = new Float32Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    joined.set(p, at);
    at += p.length;
  }
  const { whole } = await analyse(encodeWav16(joined, 16000));
  return protector.protectToBytes(whole);
}

const rng = new SeededRng("diarise-proxy");
const pools = new Map(EVALUATION.map((v) => [v.id, utterances(v, 14, CACHE)]));
const interviewPart = (id: string) => pools.get(id)!.slice(0, 10);
const enrolPart = (id: string) => pools.get(id)!.slice(10);
let honest = 0;
let falseAlarms = 0;
let swapped = 0;
let detected = 0;
let purityNum = 0;
let purityDen = 0;
let enrolled = 0;
let purityCases = 0;
const RUNS = Number(process.env.BENCH_INTERVIEWS ?? 40);
for (let i = 0; i < RUNS; i++) {
  const [iv, cand, proxy] = rng.shuffle(EVALUATION).slice(0, 3) as [
    (typeof EVALUATION)[number],
    (typeof EVALUATION)[number],
    (typeof EVALUATION)[number],
  ];
  const staffT = [await enrol(enrolPart(iv.id))];
  const candT = [await enrol(enrolPart(cand.id))];
  const speakers = [
    { id: iv.id, pool: interviewPart(iv.id) },
    { id: cand.id, pool: interviewPart(cand.id) },
    { id: proxy.id, pool: interviewPart(proxy.id) },
  ];
  const turns = 16;
  const honestOrder = Array.from({ length: turns }, (_, k) => (k % 2 === 0 ? 0 : 1));
  const swapOrder = honestOrder.map((s, k) => (s === 1 && k >= turns / 2 ? 2 : s));
  const opts = { turns, overlap: 0.2, levelDb: 6, telephone: false };
  // honest
  const h = conversation(rng, speakers, opts, honestOrder);
  const ha = await analyse(h.wav);
  const hv = verifyVoices({ diarisation: ha.dz, protector, subject: candT, staff: [staffT], threshold });
  honest++;
  if (hv.speakers.filter((v) => v.score !== null).length >= 2 && hv.proxySuspected) falseAlarms++;
  // enrolment purity: the same honest interview, the candidate not yet enrolled
  const choice = chooseEnrolment({
    diarisation: ha.dz,
    wholeEmbedding: ha.whole,
    protector,
    subjectTemplates: [],
    staffTemplates: [staffT],
    threshold,
  });
  purityCases++;
  if (choice.summary.enrolled !== null && choice.summary.decision === "exclusion") {
    enrolled++;
    const mine = ha.dz.segments.filter((s) => s.speaker === choice.summary.enrolled);
    for (const s of mine) {
      for (let t = s.start; t < s.end; t += 0.01) {
        purityDen++;
        if (h.reference.some((r) => r.speaker === cand.id && r.start <= t && t < r.end)) purityNum++;
      }
    }
  }
  // swapped: the proxy answers the second half (≥ 20 s)
  const sw = conversation(rng, speakers, opts, swapOrder);
  const proxySec = sw.reference
    .filter((r) => r.speaker === proxy.id)
    .reduce((n, r) => n + r.end - r.start, 0);
  if (proxySec < 20) continue;
  const sa = await analyse(sw.wav);
  const sv = verifyVoices({ diarisation: sa.dz, protector, subject: candT, staff: [staffT], threshold });
  swapped++;
  if (sv.speakers.filter((v) => v.score !== null).length >= 2 && sv.proxySuspected) detected++;
}
console.log(`| measure (evaluation voices, MBROLA) | result |\n|---|---|`);
console.log(
  `| swaps of ≥ 20 s detected | ${detected}/${swapped} (${((100 * detected) / swapped).toFixed(1)} %) |`,
);
console.log(
  `| false alarms on honest interviews | ${falseAlarms}/${honest} (${((100 * falseAlarms) / honest).toFixed(1)} %) |`,
);
console.log(
  `| new candidates enrolled by staff exclusion | ${enrolled}/${purityCases} (the rest: AMBIGUOUS_SPEAKER, nothing enrolled) |`,
);
console.log(
  `| enrolment purity (candidate's share of the enrolled voice's speech) | ${((100 * purityNum) / Math.max(1, purityDen)).toFixed(1)} % |`,
);
console.log(`(threshold ${threshold}; ${os.cpus()[0]?.model ?? "?"}, node ${process.version})`);
