/**
 * Break-glass for reconstructable material (raw audio, frames), end to end over HTTP: an operator
 * files a request; M = 2 other, distinct operators approve; the requester alone may use the grant,
 * once, before it expires, for that subject and that material only. No single credential of any
 * role reads raw audio or frames.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS, collectBytes } from "../support/backends.js";
import { call, codeOf, eventsOf, makeWorld, type Reply, type World } from "./helpers.js";

interface BgRequest {
  id: string;
  requesterId: string;
  subjectId: string;
  material: string;
  status: string;
  approvals: string[];
  requiredApprovals: number;
  grantedUntil: string | null;
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("break-glass ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { reconstructable: true, recordings: 2 });
  });
  afterAll(async () => {
    await w.close();
  });

  const file = async (token: string, subjectId: string, material: string): Promise<BgRequest> => {
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${subjectId}/breakglass`,
      token,
      json: { material, reason: "court order 2026/117: produce the interview audio" },
    });
    expect(r.status, r.text).toBe(201);
    return r.json() as BgRequest;
  };
  const decide = (token: string, id: string, decision: "approve" | "deny"): Promise<Reply> =>
    call(w.app, { method: "POST", url: `/v1/breakglass/${id}/decision`, token, json: { decision } });
  const read = (token: string, derivationId: string, grant?: string): Promise<Reply> =>
    call(w.app, {
      method: "GET",
      url: `/v1/derivations/${derivationId}${grant ? `?breakglass=${grant}` : ""}`,
      token,
    });
  const principalOf = async (token: string) => (await w.vault.access.tokens.authenticate(token)).principal.id;

  it("needs M other operators, then serves that subject's material once, to the requester only", async () => {
    const { operator: op1, operator2: op2, operator3: op3 } = w.tok;
    const raw = w.s1.drv.raw!;
    const req = await file(op1, w.s1.id, "raw");
    expect(req).toMatchObject({
      subjectId: w.s1.id,
      material: "raw",
      status: "pending",
      approvals: [],
      requiredApprovals: 2,
    });
    expect((await read(op1, raw, req.id)).status).toBe(403);
    // The requester cannot approve its own request; nor can anyone but operators.
    const self = await decide(op1, req.id, "approve");
    expect([self.status, codeOf(self)]).toEqual([403, "FORBIDDEN"]);
    for (const t of [w.tok.admin, w.tok.auditor, w.tok.consumer, w.s1.contractor]) {
      expect((await decide(t, req.id, "approve")).status).toBe(403);
    }
    const first = await decide(op2, req.id, "approve");
    expect(first.status, first.text).toBe(200);
    expect(first.json()).toMatchObject({ status: "pending", approvals: [await principalOf(op2)] });
    // The same operator twice is one approval, not two.
    const twice = await decide(op2, req.id, "approve");
    expect([twice.status, codeOf(twice)]).toEqual([409, "BREAKGLASS_INVALID"]);
    expect((await read(op1, raw, req.id)).status).toBe(403);
    const second = await decide(op3, req.id, "approve");
    const granted = second.json() as BgRequest;
    expect(granted.status).toBe("granted");
    expect(Date.parse(granted.grantedUntil!) - w.clock.now().getTime()).toBeGreaterThan(14 * 60_000);
    expect(Date.parse(granted.grantedUntil!) - w.clock.now().getTime()).toBeLessThanOrEqual(15 * 60_000);
    // Granted, but only for the requester, this subject and this material, and only when presented.
    expect((await read(op2, raw, req.id)).status).toBe(403);
    expect((await read(op3, raw, req.id)).status).toBe(403);
    expect((await read(op1, w.s1.drv.frames!, req.id)).status).toBe(403);
    expect((await read(op1, w.s2.drv.raw!, req.id)).status).toBe(403);
    expect((await read(op1, raw)).status).toBe(403);
    const served = await read(op1, raw, req.id);
    expect(served.status, served.text).toBe(200);
    expect(served.headers["content-type"]).toBe("audio/wav");
    expect(served.raw.subarray(0, 4).toString()).toBe("RIFF");
    const d = (await w.vault.recordings.derivations({ subjectId: w.s1.id })).find((x) => x.id === raw)!;
    expect(served.raw.equals(await collectBytes((await w.vault.blobs.read(d.blobId)).stream))).toBe(true);
    // Single use.
    expect((await read(op1, raw, req.id)).status).toBe(403);
    const listed = await call(w.app, { method: "GET", url: "/v1/breakglass?status=used", token: op2 });
    expect((listed.json() as { requests: BgRequest[] }).requests.map((r) => r.id)).toContain(req.id);
    expect((await decide(op3, req.id, "approve")).status).toBe(409);
    // Every step is in the log.
    const mine = async (type: string) =>
      (await eventsOf(w.vault, type)).filter((e) => e.requestId === req.id);
    expect(await mine("breakglass.requested")).toEqual([
      { type: "breakglass.requested", requestId: req.id, subjectId: w.s1.id, material: "raw" },
    ]);
    expect((await mine("breakglass.decided")).map((e) => e.approvals)).toEqual([1, 2]);
    expect(await mine("breakglass.granted")).toHaveLength(1);
    expect(await mine("breakglass.used")).toEqual([
      { type: "breakglass.used", requestId: req.id, subjectId: w.s1.id, derivationId: raw },
    ]);
  });

  it("lets a grant expire unused", async () => {
    const req = await file(w.tok.operator, w.s2.id, "frames");
    expect((await decide(w.tok.operator2, req.id, "approve")).status).toBe(200);
    expect((await decide(w.tok.operator3, req.id, "approve")).status).toBe(200);
    w.clock.advance(15 * 60_000 + 1000);
    const late = await read(w.tok.operator, w.s2.drv.frames!, req.id);
    expect(late.status).toBe(403);
    const listed = await call(w.app, { method: "GET", url: "/v1/breakglass", token: w.tok.operator });
    expect((listed.json() as { requests: BgRequest[] }).requests.find((r) => r.id === req.id)!.status).toBe(
      "expired",
    );
  });

  it("closes a request on one denial, and refuses malformed requests", async () => {
    const req = await file(w.tok.operator2, w.s2.id, "raw");
    const denied = await decide(w.tok.operator3, req.id, "deny");
    expect(denied.json()).toMatchObject({ status: "denied" });
    expect((await decide(w.tok.operator, req.id, "approve")).status).toBe(409);
    expect((await read(w.tok.operator2, w.s2.drv.raw!, req.id)).status).toBe(403);
    for (const json of [
      { material: "quality", reason: "a long enough reason here" },
      { material: "raw", reason: "short" },
      { material: "raw" },
      { material: "raw", reason: "a long enough reason here", approvals: 0 },
    ]) {
      const r = await call(w.app, {
        method: "POST",
        url: `/v1/subjects/${w.s2.id}/breakglass`,
        token: w.tok.operator,
        json,
      });
      expect(r.status, JSON.stringify(json)).toBe(400);
    }
  });

  it("never lets a single credential of any role read raw audio or frames", async () => {
    const contractorSession = w.s1.contractor;
    const asr = (
      await w.vault.access.tokens.create({
        role: "consumer",
        application: "app-a",
        purposes: ["asr-training"],
      })
    ).token;
    const credentials: [string, string][] = [
      ["contractor (own subject)", contractorSession],
      ["operator 1", w.tok.operator],
      ["operator 2", w.tok.operator2],
      ["operator 3", w.tok.operator3],
      ["consumer", w.tok.consumer],
      ["consumer (asr-training)", asr],
      ["consumer B", w.tok.consumerB],
      ["auditor", w.tok.auditor],
      ["admin", w.tok.admin],
    ];
    const queries = ["", "?purpose=asr-training", "?purpose=quality-review"];
    let tried = 0;
    for (const [who, token] of credentials) {
      for (const name of ["raw", "frames"]) {
        for (const q of queries) {
          const r = await call(w.app, {
            method: "GET",
            url: `/v1/derivations/${w.s1.drv[name]!}${q}`,
            token,
          });
          // A consumer without a declared purpose is stopped before any decision (400).
          const refusals = who.startsWith("consumer") && q === "" ? [400] : [403, 404];
          expect(refusals, `${who} ${name}${q}: ${r.status}`).toContain(r.status);
          tried++;
        }
      }
    }
    expect(tried).toBe(credentials.length * 2 * queries.length);
    // Nor can an admin mint the operators a quorum would need.
    const mint = await call(w.app, {
      method: "POST",
      url: "/v1/admin/tokens",
      token: w.tok.admin,
      json: { role: "operator", label: "sock-puppet" },
    });
    expect(mint.status).toBe(400);
  });
});
