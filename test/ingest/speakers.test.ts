import { execFileSync } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SIGNIFICANT_SEC } from "../../src/ingest/speakers.js";
import type { Vault } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, speech } from "../support/audio.js";
import { collectBytes, sandbox, type Sandbox } from "../support/backends.js";

const file = (p: string) => createReadStream(p) as AsyncIterable<Uint8Array>;

const QUESTIONS = [
  "Thank you for joining us today. Could you tell me about your last role and what you worked on?",
  "That sounds interesting. How did you handle disagreements within your team during that project?",
  "Good. Can you describe a time when you had to learn a new tool very quickly for a deadline?",
  "Finally, why are you interested in annotation work for speech and language data with us?",
];
const ANSWERS = [
  "In my last role I maintained data pipelines for a logistics company, mostly scheduling and quality checks of the incoming records, and I wrote the monitoring for them.",
  "We usually talked it through in a short meeting, wrote down the options with their costs, and then the person closest to the problem made the decision.",
  "When our team moved to a new labelling platform I read the documentation over a weekend and wrote a small guide for my colleagues on the Monday morning.",
  "I enjoy careful work with language, and I like that the results help to build systems that many people use every day in their own languages.",
];
const MORE = [
  "I also have experience with transcription, where accuracy and consistency matter more than speed in the long run.",
  "Outside of work I volunteer as a reading tutor, which taught me patience and clear explanations for beginners.",
];

type Voice = "slt" | "awb" | "rms" | "kal16";

/** An interview: the interviewer's questions and the answers, in order, with pauses between turns. */
function interview(name: string, turns: readonly [Voice, string][]): string {
  const out = path.join(path.dirname(speech("x", "slt")), `interview-${name}.wav`);
  if (existsSync(out)) return out;
  const gap = path.join(path.dirname(out), "gap-0.6.wav");
  if (!existsSync(gap))
    execFileSync("sox", ["-n", "-r", "16000", "-c", "1", "-b", "16", gap, "trim", "0", "0.6"]);
  const parts = turns.flatMap(([voice, text]) => [speech(text, voice), gap]);
  execFileSync("sox", [...parts, out]);
  return out;
}

/** One voice alone (an enrolment or a probe): its sentences with pauses. */
const monologue = (name: string, voice: Voice, texts: readonly string[]) =>
  file(
    interview(
      name,
      texts.map((t): [Voice, string] => [voice, t]),
    ),
  );

const candidateTurns = (candidate: Voice, from = 0): [Voice, string][] =>
  QUESTIONS.flatMap((q, i): [Voice, string][] => [
    ["kal16", q],
    [candidate, ANSWERS[(i + from) % ANSWERS.length]!],
  ]);

describe.runIf(HAVE_AUDIO_TOOLS)(
  "interviews: diarisation, enrolment of the contractor's voice, proxies",
  () => {
    let sb: Sandbox;
    let v: Vault;
    beforeEach(async () => {
      sb = sandbox({ name: "sqlite" });
      v = await sb.init();
    });
    afterEach(async () => {
      await v.close();
      await sb.cleanup();
    });

    async function speakersOf(r: { derivations: readonly { name: string; blobId: string }[] }) {
      const d = r.derivations.find((x) => x.name === "speakers")!;
      return JSON.parse((await collectBytes((await v.blobs.read(d.blobId)).stream)).toString()) as {
        segments: [number, number, number][];
        speakers: { label: number; speakingMs: number; staff: boolean; subjectScoreMilli: number | null }[];
        enrolled: number | null;
        decision: string;
      };
    }

    it("an interview with an unknown interviewer enrols nothing: AMBIGUOUS_SPEAKER, never a mixed template", async () => {
      const s = await v.subjects.add({ ref: "new-candidate" });
      const r = await v.recordings.ingest({
        subjectId: s.id,
        source: file(interview("a", candidateTurns("slt"))),
      });
      expect(r.enrolment).toBe("ambiguous");
      expect(r.warnings?.map((w) => w.code)).toEqual(["AMBIGUOUS_SPEAKER"]);
      expect(r.derivations.map((d) => d.name).sort()).toEqual(["quality", "speakers", "voice-stats"]);
      const sp = await speakersOf(r);
      expect(sp.decision).toBe("ambiguous");
      expect(sp.enrolled).toBeNull();
      expect(sp.speakers).toHaveLength(2);
      // eight turns alternate between the two voices: segments follow them in order
      const order = sp.segments.map((g) => g[2]).filter((x, i, a) => i === 0 || a[i - 1] !== x);
      expect(order).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
      // times and scores only: milliseconds and labels, nothing else
      expect(Object.keys(sp).sort()).toEqual([
        "decision",
        "enrolled",
        "segments",
        "speakers",
        "thresholdMilli",
      ]);
    });

    it("with the interviewer enrolled as staff, only the candidate's voice is enrolled (exclusion)", async () => {
      const staff = await v.subjects.add({ ref: "interviewer-1", role: "staff" });
      expect(staff.role).toBe("staff");
      await v.recordings.ingest({
        subjectId: staff.id,
        source: monologue("staff", "kal16", QUESTIONS),
      });
      const s = await v.subjects.add({ ref: "candidate-2" });
      const r = await v.recordings.ingest({
        subjectId: s.id,
        source: file(interview("a", candidateTurns("slt"))),
      });
      expect(r.enrolment).toBe("exclusion");
      expect(r.warnings).toBeUndefined();
      const sp = await speakersOf(r);
      expect(sp.speakers.filter((x) => x.staff)).toHaveLength(1);
      const enrolled = sp.speakers[sp.enrolled!]!;
      expect(enrolled.staff).toBe(false);
      // the enrolled template is the candidate's: her own monologue matches, the interviewer's does not
      const own = await v.recordings.verifySpeaker({
        subjectId: s.id,
        source: monologue("slt-alone", "slt", MORE),
      });
      expect(own.match).toBe(true);
      const other = await v.recordings.verifySpeaker({
        subjectId: s.id,
        source: monologue("staff", "kal16", QUESTIONS),
      });
      expect(other.match).toBe(false);
    });

    it("a subject already enrolled is enrolled again from the voice that matches them (match)", async () => {
      const s = await v.subjects.add({ ref: "candidate-3" });
      const first = await v.recordings.ingest({
        subjectId: s.id,
        source: monologue("awb-alone", "awb", ANSWERS.slice(0, 2)),
      });
      expect(first.enrolment).toBe("single");
      const r = await v.recordings.ingest({
        subjectId: s.id,
        source: file(interview("b", candidateTurns("awb", 1))),
      });
      expect(r.enrolment).toBe("match");
      const sp = await speakersOf(r);
      expect(sp.speakers[sp.enrolled!]!.subjectScoreMilli).toBeGreaterThan(
        sp.speakers[1 - sp.enrolled!]!.subjectScoreMilli!,
      );
    });

    it("--channel takes one party of a two-channel recording: one voice, enrolled whole", async () => {
      const both = interview("a", candidateTurns("slt"));
      // interviewer on the left channel, candidate on the right: each party's turns, silence elsewhere
      const dir = path.dirname(both);
      const left = path.join(dir, "ch-left.wav");
      const right = path.join(dir, "ch-right.wav");
      const stereo = path.join(dir, "interview-two-channels.wav");
      if (!existsSync(stereo)) {
        const gap = path.join(dir, "gap-0.6.wav");
        const parts = (who: Voice) =>
          candidateTurns("slt").flatMap(([v, t]) => {
            const wav = speech(t, v);
            if (v === who) return [wav, gap];
            const quiet = `${wav}.silent.wav`;
            if (!existsSync(quiet)) execFileSync("sox", [wav, quiet, "vol", "0"]);
            return [quiet, gap];
          });
        execFileSync("sox", [...parts("kal16"), left]);
        execFileSync("sox", [...parts("slt"), right]);
        execFileSync("sox", ["-M", left, right, stereo]);
      }
      const s = await v.subjects.add({ ref: "candidate-5" });
      const mixed = await v.recordings.ingest({ subjectId: s.id, source: file(stereo) });
      expect(mixed.enrolment).toBe("ambiguous");
      const own = await v.recordings.ingest({ subjectId: s.id, source: file(stereo), channel: 1 });
      expect(own.enrolment).toBe("single");
      expect(own.derivations.map((d) => d.name)).toContain("speaker-template");
      await expect(
        v.recordings.ingest({ subjectId: s.id, source: file(stereo), channel: 2 }),
      ).rejects.toThrow(/channel 3 requested; the recording has 2/);
    });

    it("verify-speaker flags a proxy who answers part of the interview, with times; not the honest candidate", async () => {
      const staff = await v.subjects.add({ ref: "interviewer-2", role: "staff" });
      await v.recordings.ingest({
        subjectId: staff.id,
        source: monologue("staff", "kal16", QUESTIONS),
      });
      const s = await v.subjects.add({ ref: "candidate-4" });
      await v.recordings.ingest({
        subjectId: s.id,
        source: monologue("slt-enrol", "slt", [...ANSWERS.slice(2), ...MORE]),
      });
      const honest = await v.recordings.verifySpeaker({
        subjectId: s.id,
        source: file(interview("a", candidateTurns("slt"))),
      });
      expect(honest.match).toBe(true);
      expect(honest.proxySuspected).toBe(false);
      // the candidate answers the first two questions, someone else (rms) the last two: > 20 s
      const turns = candidateTurns("slt").map(([voice, text], i): [Voice, string] =>
        voice !== "kal16" && i >= 4 ? ["rms", text] : [voice, text],
      );
      const swapped = await v.recordings.verifySpeaker({
        subjectId: s.id,
        source: file(interview("swap", turns)),
      });
      expect(swapped.proxySuspected).toBe(true);
      // the voices judged to be someone else (the clustering may cut the proxy in two) speak in
      // the second half only, for most of its 20 s
      const proxies = new Set(
        swapped
          .speakers!.map((x, i) =>
            !x.staff && !x.match && x.score !== null && x.speakingSec >= SIGNIFICANT_SEC ? i : -1,
          )
          .filter((i) => i >= 0),
      );
      expect(proxies.size).toBeGreaterThan(0);
      const proxySegments = swapped.segments!.filter((g) => proxies.has(g.speaker));
      const half = swapped.segments!.at(-1)!.end / 2;
      expect(proxySegments.every((g) => g.start > half * 0.9)).toBe(true);
      expect(proxySegments.reduce((n, g) => n + g.end - g.start, 0)).toBeGreaterThan(15);
    });
  },
);
