/**
 * Break-glass only for material that exists: where retention discards raw audio or frames (the
 * default), or none of a subject's is left, a request is refused when it is filed
 * (MATERIAL_NOT_RETAINED), before two operators spend approvals on a grant that can serve nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS, codeOf as libCode } from "../support/backends.js";
import { call, codeOf, eventsOf, makeWorld, type World } from "./helpers.js";

const REASON = "court order 2026/117: produce the interview audio";

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("break-glass and retention ($name)", (backend) => {
  const file = (w: World, subjectId: string, material: string, token = w.tok.operator) =>
    call(w.app, {
      method: "POST",
      url: `/v1/subjects/${subjectId}/breakglass`,
      token,
      json: { material, reason: REASON },
    });
  const operator = async (w: World) => (await w.vault.access.tokens.authenticate(w.tok.operator)).principal;

  describe("retention discards raw audio and frames (the default)", () => {
    let w: World;
    beforeAll(async () => {
      w = await makeWorld(backend, { recordings: 1 });
    });
    afterAll(async () => {
      await w.close();
    });

    it("refuses the request at filing time, over HTTP and in the library, and records none", async () => {
      expect(w.s1.drv.quality).toBeDefined(); // the subject has recordings, just no raw material
      for (const material of ["raw", "frames"] as const) {
        const r = await file(w, w.s1.id, material);
        expect([material, r.status, codeOf(r)]).toEqual([material, 409, "MATERIAL_NOT_RETAINED"]);
        expect(r.text).toContain(`abstraction.retention.${material}`);
        expect(
          await libCode(w.vault.access.breakglass.request(await operator(w), w.s1.id, material, REASON)),
        ).toBe("MATERIAL_NOT_RETAINED");
      }
      expect(await eventsOf(w.vault, "breakglass.requested")).toEqual([]);
    });
  });

  describe("retention keeps raw audio and frames", () => {
    let w: World;
    beforeAll(async () => {
      w = await makeWorld(backend, { reconstructable: true, recordings: 1 });
    });
    afterAll(async () => {
      await w.close();
    });

    it("files a request for a subject with kept material, refuses one for a subject with none", async () => {
      expect((await file(w, w.s1.id, "raw")).status).toBe(201);
      const none = await file(w, w.s2.id, "raw"); // s2 has no recording
      expect([none.status, codeOf(none)]).toEqual([409, "MATERIAL_NOT_RETAINED"]);
    });

    it("refuses once the kept material has expired", async () => {
      const p = await w.fresh(false, "awb");
      expect((await file(w, p.id, "frames")).status).toBe(201);
      w.clock.advance(24 * 3_600_000 + 60_000); // past the 1-day ttl (and the operator token's life)
      const fresh = (await w.vault.access.tokens.create({ role: "operator" })).token;
      const late = await file(w, p.id, "frames", fresh);
      expect([late.status, codeOf(late)]).toEqual([409, "MATERIAL_NOT_RETAINED"]);
    });
  });
});
