/**
 * verify-speaker over HTTP, with the built-in embedder; and, in a vault configured without any
 * embedder, the route still authorises first and then fails closed with a generic 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VerifyResult } from "../../src/server/routes/schemas.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { call, codeOf, eventsOf, makeWorld, speechBytes, type Reply, type World } from "./helpers.js";

const PROBE = "Please state your full name and the position you are applying for today.";

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("verify-speaker ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { recordings: 2 });
  });
  afterAll(async () => {
    await w.close();
  });

  const verify = (subjectId: string, voice: "slt" | "awb", token: string, query = ""): Promise<Reply> =>
    call(w.app, {
      method: "POST",
      url: `/v1/subjects/${subjectId}/verify-speaker${query}`,
      token,
      type: "audio/wav",
      body: speechBytes(voice, PROBE),
    });

  it("accepts the enrolled speaker and rejects another, with the score for operators", async () => {
    const same = await verify(w.s1.id, "slt", w.tok.operator);
    expect(same.status, same.text).toBe(200);
    expect(same.json()).toMatchObject({ match: true });
    // one voice: the decision and the score; the per-voice fields are for interviews
    expect(Object.keys(same.json() as object).sort()).toEqual(["match", "score", "threshold"]);
    expect(Object.keys(VerifyResult.properties)).toEqual(
      expect.arrayContaining(["match", "score", "threshold"]),
    );
    const other = await verify(w.s1.id, "awb", w.tok.operator);
    expect(other.status).toBe(200);
    expect(other.json()).toMatchObject({ match: false });
    const s = same.json() as { score: number; threshold: number };
    const o = other.json() as { score: number; threshold: number };
    expect(s.score).toBeGreaterThanOrEqual(s.threshold);
    expect(o.score).toBeLessThan(o.threshold);
    const events = (await eventsOf(w.vault, "speaker.verified")).filter((e) => e.subjectId === w.s1.id);
    expect(events.map((e) => e.match)).toEqual([true, false]);
  });

  it("gives a consented consumer the decision but never the score", async () => {
    const r = await verify(w.s2.id, "awb", w.tok.consumer, "?purpose=identity-verification");
    expect(r.status, r.text).toBe(200);
    const body = r.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["match", "threshold"]);
    expect(body.match).toBe(true);
    const unconsented = await w.fresh(false, "slt");
    const refused = await verify(unconsented.id, "slt", w.tok.consumer, "?purpose=identity-verification");
    expect([refused.status, codeOf(refused)]).toEqual([403, "CONSENT_REQUIRED"]);
    // Without a declared purpose: 400 naming the missing parameter.
    expect((await verify(w.s2.id, "awb", w.tok.consumer)).status).toBe(400);
  });

  it("an interview answers per voice; a consumer gets the decisions, never a score", async () => {
    const parts = [
      "Thank you for coming in today. Could you describe your last position in a few sentences?",
      "I maintained the data pipelines of a logistics company and wrote their monitoring and alerts.",
      "And how did your team make decisions when people disagreed about the right approach to take?",
      "We wrote down the options with their costs and the person closest to the problem decided.",
    ];
    const voices: ("awb" | "slt")[] = ["awb", "slt", "awb", "slt"];
    const pcm = parts.map((t, i) => speechBytes(voices[i], t).subarray(44));
    const total = pcm.reduce((n, p) => n + p.length, 0);
    const wav = Buffer.alloc(44 + total);
    speechBytes("slt", parts[1]).copy(wav, 0, 0, 44); // a 16 kHz mono s16 header to reuse
    wav.writeUInt32LE(36 + total, 4);
    wav.writeUInt32LE(total, 40);
    let at = 44;
    for (const p of pcm) {
      p.copy(wav, at);
      at += p.length;
    }
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s2.id}/verify-speaker?purpose=identity-verification`,
      token: w.tok.consumer,
      type: "audio/wav",
      body: wav,
    });
    expect(r.status, r.text).toBe(200);
    const body = r.json() as { speakers?: Record<string, unknown>[]; segments?: unknown[] };
    expect(Object.keys(body).sort()).toEqual([
      "match",
      "proxySuspected",
      "proxyTurns",
      "segments",
      "speakers",
      "threshold",
    ]);
    expect(body.speakers!.length).toBeGreaterThanOrEqual(2);
    for (const v of body.speakers!) expect(Object.keys(v).sort()).toEqual(["match", "speakingSec", "staff"]);
    expect(body.segments!.length).toBeGreaterThanOrEqual(2);
  });

  it("refuses a subject with no enrolled template", async () => {
    const p = await w.fresh(true);
    const r = await verify(p.id, "slt", w.tok.operator);
    expect([r.status, codeOf(r)]).toEqual([409, "NO_TEMPLATE"]);
  });
});

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("verify-speaker without an embedder ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { recordings: 2, embedderFactory: () => Promise.resolve(undefined) });
  });
  afterAll(async () => {
    await w.close();
  });
  const verify = (subjectId: string, voice: "slt" | "awb", token: string): Promise<Reply> =>
    call(w.app, {
      method: "POST",
      url: `/v1/subjects/${subjectId}/verify-speaker`,
      token,
      type: "audio/wav",
      body: speechBytes(voice, PROBE),
    });

  it("passes authorization, then answers a generic 5xx", async () => {
    const r = await verify(w.s1.id, "slt", w.tok.operator);
    expect(r.status).toBe(500);
    expect(r.json()).toEqual({
      error: { code: "INTERNAL", message: "internal error", requestId: r.headers["x-request-id"] },
    });
    // Authorization still decides first: an unconsented consumer is refused, not failed.
    const refused = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s3.id}/verify-speaker?purpose=identity-verification`,
      token: w.tok.consumer,
      type: "audio/wav",
      body: speechBytes("awb", PROBE),
    });
    expect([refused.status, codeOf(refused)]).toEqual([403, "CONSENT_REQUIRED"]);
  });
});
