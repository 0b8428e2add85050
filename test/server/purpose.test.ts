/**
 * A request that needs a declared purpose and has none is a malformed request (400 naming the
 * parameter), not a policy refusal: the caller learns what to fix, and nothing is read or charged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { call, codeOf, eventsOf, makeWorld, speechBytes, type World } from "./helpers.js";

describe.runIf(HAVE_AUDIO_TOOLS)("a missing ?purpose=", () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld({ name: "sqlite" }, { recordings: 1 });
  });
  afterAll(async () => {
    await w.close();
  });

  const expectMissingPurpose = (r: { status: number; text: string }) => {
    expect(r.status, r.text).toBe(400);
    const body = JSON.parse(r.text) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("BAD_REQUEST");
    expect(body.error.message).toMatch(/missing query parameter purpose/);
  };

  it("on a consumer's derivation read is 400 naming the parameter", async () => {
    const url = `/v1/derivations/${w.s1.drv.quality!}`;
    expectMissingPurpose(await call(w.app, { method: "GET", url, token: w.tok.consumer }));
    expect(await eventsOf(w.vault, "access.denied")).toEqual([]);
    const ok = await call(w.app, {
      method: "GET",
      url: `${url}?purpose=quality-review`,
      token: w.tok.consumer,
    });
    expect(ok.status, ok.text).toBe(200);
  });

  it("on a consumer's verify-speaker is 400 naming the parameter", async () => {
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s1.id}/verify-speaker`,
      token: w.tok.consumer,
      type: "audio/wav",
      body: speechBytes("slt"),
    });
    expectMissingPurpose(r);
    expect(await eventsOf(w.vault, "speaker.verified")).toEqual([]);
  });

  it("is not required where the role needs no purpose (an operator's verify-speaker)", async () => {
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s1.id}/verify-speaker`,
      token: w.tok.operator,
      type: "audio/wav",
      body: speechBytes("slt"),
    });
    expect([r.status, codeOf(r)]).toEqual([200, "(no code)"]);
  });
});
