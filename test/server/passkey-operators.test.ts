/**
 * What the platform's people can and cannot do once a contractor has a passkey, over HTTP
 * (docs/api.md, "Passkeys"): no enrolment link, no contractor token from an admin, so no way to read
 * or change the contractor's consents, erase them or read their log as them; what their own roles
 * allow on any subject still works; a reset is recorded and reopens enrolment links.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "../support/backends.js";
import { SoftAuthenticator } from "../support/webauthn.js";
import { call, codeOf, makeWorld, PUBLIC_URL, type World } from "./helpers.js";

describe.each(BACKENDS)("operators and a contractor's passkey ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend);
  });
  afterAll(async () => {
    await w.close();
  });

  it("refuses every contractor credential for the subject until an operator resets the passkey", async () => {
    const p = await w.fresh(false);
    const auth = new SoftAuthenticator();
    const options = await call(w.app, {
      method: "POST",
      url: "/v1/me/passkeys/options",
      token: p.contractor,
    });
    expect(options.status, options.text).toBe(200);
    const made = await call(w.app, {
      method: "POST",
      url: "/v1/me/passkeys",
      token: p.contractor,
      json: auth.create(options.json() as { challenge: string; rp: { id: string } }, PUBLIC_URL),
    });
    expect(made.status, made.text).toBe(201);

    const link = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/enrolment-links`,
      token: w.tok.operator,
    });
    expect([link.status, codeOf(link)]).toEqual([409, "CONFLICT"]);
    const minted = await call(w.app, {
      method: "POST",
      url: "/v1/admin/tokens",
      token: w.tok.admin,
      json: { role: "contractor", subjectId: p.id },
    });
    expect([minted.status, codeOf(minted)]).toEqual([409, "CONFLICT"]);
    // Their own role still works on the subject.
    const listed = await call(w.app, {
      method: "GET",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
    });
    expect(listed.status).toBe(200);
    // The operator's token is not a contractor's: /v1/me is not theirs.
    const me = await call(w.app, { method: "GET", url: "/v1/me/consents", token: w.tok.operator });
    expect(me.status).toBe(403);

    // The passkey signs in over HTTP.
    const signIn = await call(w.app, { method: "POST", url: "/v1/passkey/options" });
    const session = await call(w.app, {
      method: "POST",
      url: "/v1/passkey/session",
      json: auth.get(signIn.json() as { challenge: string; rpId: string }, PUBLIC_URL),
    });
    expect(session.status, session.text).toBe(200);
    const token = (session.json() as { sessionToken: string }).sessionToken;
    expect((await call(w.app, { method: "GET", url: "/v1/me", token })).status).toBe(200);

    const reset = await call(w.app, {
      method: "DELETE",
      url: `/v1/subjects/${p.id}/passkeys`,
      token: w.tok.operator,
    });
    expect(reset.json()).toEqual({ removed: 1 });
    const again = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/enrolment-links`,
      token: w.tok.operator,
    });
    expect(again.status, again.text).toBe(201);
    // The contractor sees the reset in their own log.
    const log = await call(w.app, { method: "POST", url: "/v1/me/audit", token, json: {} });
    const types = (log.json() as { events: { record: string }[] }).events.map(
      (e) => (JSON.parse(e.record) as { type: string }).type,
    );
    expect(types).toEqual(expect.arrayContaining(["passkey.registered", "passkey.used", "passkey.reset"]));
  });
});
