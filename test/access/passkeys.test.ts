/**
 * Passkeys (src/access/passkeys.ts, src/access/webauthn/): registration and sign-in with a software
 * authenticator built from the spec (test/support/webauthn.ts), on every metadata backend; what an
 * operator can no longer do once a contractor has a passkey; and each check of the ceremonies
 * broken one at a time (origin, RP ID, type, challenge reuse, expiry and kind, user verification,
 * attestation format, signature, counter, unknown credential, erased subject).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relyingParty } from "../../src/access/passkeys.js";
import { decodeCbor, decodeCborAll } from "../../src/access/webauthn/cbor.js";
import { internalsOf, type Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";
import { encodeCbor, SoftAuthenticator, type Tamper } from "../support/webauthn.js";

const ORIGIN = "https://vault.example.test";
const RP = relyingParty(ORIGIN);

describe("WebAuthn CBOR", () => {
  it("decodes what the spec's encoding makes, and refuses anything else with BAD_REQUEST", () => {
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(
        fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.string({ maxLength: 20 }),
        fc.constantFrom(true, false, null),
      ),
      node: fc.oneof(
        { depthSize: "small" },
        tie("leaf"),
        fc.array(tie("node"), { maxLength: 4 }),
        fc
          .uniqueArray(fc.tuple(fc.integer({ min: -50, max: 50 }), tie("node")), {
            maxLength: 4,
            selector: ([k]) => k,
          })
          .map((entries) => new Map(entries)),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(decodeCborAll(encodeCbor(v as never))).toEqual(v);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeCbor(bytes);
        } catch (e) {
          expect((e as { code?: string }).code).toBe("BAD_REQUEST");
        }
      }),
    );
    for (const bad of [
      [0x5f, 0x41, 0x00, 0xff], // indefinite-length bytes
      [0xc2, 0x41, 0x00], // a tag
      [0xfa, 0, 0, 0, 0], // a float
      [0xa2, 0x01, 0x00, 0x01, 0x00], // duplicate map key
      [0x01, 0x02], // trailing bytes
      [0x1b, 0, 0, 0, 0, 0, 0, 0, 1], // a 64-bit argument
    ]) {
      expect(() => decodeCborAll(Uint8Array.from(bad))).toThrow(/WebAuthn CBOR/);
    }
  });
});

describe.each(BACKENDS)("passkeys ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let offset = 0;
  beforeAll(async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    v = await sb.open({ now: () => new Date(Date.now() + offset) });
  });
  afterAll(async () => {
    await v.close();
    await sb.cleanup();
  });

  async function registered(alg: -7 | -8 = -7) {
    const s = await v.subjects.add({ ref: `pk-${Math.random()}` });
    const auth = new SoftAuthenticator(alg);
    const options = await v.access.passkeys.registrationOptions(s.id, RP);
    await v.access.passkeys.register(s.id, auth.create(options, ORIGIN), RP);
    return { s, auth };
  }
  const signIn = async (auth: SoftAuthenticator, t: Tamper = {}) =>
    v.access.passkeys.authenticate(
      auth.get(await v.access.passkeys.authenticationOptions(RP), ORIGIN, t),
      RP,
    );

  it.each([
    ["ES256", -7],
    ["EdDSA", -8],
  ] as const)("registers a %s passkey and signs in with it as the contractor", async (_name, alg) => {
    const { s, auth } = await registered(alg);
    expect(await v.access.passkeys.list(s.id)).toEqual([
      expect.objectContaining({ credentialId: auth.credentialId.toString("base64url"), alg }),
    ]);
    const session = await signIn(auth);
    expect(session.subjectId).toBe(s.id);
    const who = await v.access.tokens.authenticate(session.sessionToken);
    expect([who.principal.role, who.token.subjectId, who.token.kind]).toEqual([
      "contractor",
      s.id,
      "session",
    ]);
    const used = (await v.audit.list({ type: "passkey.used", limit: 1000 })).map((e) => e.event);
    expect(used).toContainEqual(expect.objectContaining({ subjectId: s.id, sessionTokenId: who.token.id }));
    // A second sign-in moves the counter on; the stored counter follows.
    await signIn(auth);
    expect((await v.access.passkeys.list(s.id))[0]!.lastUsedAt).not.toBeNull();
  });

  it("leaves operators no way to act as a contractor who has a passkey, until they reset it", async () => {
    const s = await v.subjects.add({ ref: `pk-op-${Math.random()}` });
    const link = await v.access.tokens.create({
      role: "contractor",
      subjectId: s.id,
      kind: "enrolment",
      maxUses: 1,
    });
    const auth = new SoftAuthenticator();
    await v.access.passkeys.register(
      s.id,
      auth.create(await v.access.passkeys.registrationOptions(s.id, RP), ORIGIN),
      RP,
    );
    // The unused link died with the registration; no new link, API token or session can be made.
    expect(await codeOf(v.access.tokens.completeEnrolment(link.token))).toBe("UNAUTHENTICATED");
    for (const kind of ["enrolment", "api", "session"] as const)
      expect(await codeOf(v.access.tokens.create({ role: "contractor", subjectId: s.id, kind }))).toBe(
        "CONFLICT",
      );
    const registeredEvent = (await v.audit.list({ type: "passkey.registered", limit: 1000 }))
      .map((e) => e.event)
      .find((e) => "subjectId" in e && e.subjectId === s.id);
    expect(registeredEvent).toMatchObject({ enrolmentLinksRevoked: 1 });

    expect(await v.access.passkeys.reset(s.id)).toEqual({ removed: 1 });
    expect(await codeOf(signIn(auth))).toBe("UNAUTHENTICATED");
    const again = await v.access.tokens.create({
      role: "contractor",
      subjectId: s.id,
      kind: "enrolment",
      maxUses: 1,
    });
    expect((await v.access.tokens.completeEnrolment(again.token)).subjectId).toBe(s.id);
  });

  it("signs the contractor in during the soft-delete window, so they can cancel the erasure", async () => {
    const { s, auth } = await registered();
    await internalsOf(v).meta.write((trx) =>
      trx
        .updateTable("subjects")
        .set({ status: "shred_pending", shred_after: new Date(Date.now() + 86_400_000).toISOString() })
        .where("id", "=", s.id)
        .execute(),
    );
    const session = await signIn(auth);
    expect((await v.access.tokens.authenticate(session.sessionToken)).token.subjectId).toBe(s.id);
    await v.shredding.cancel(s.id);
    expect((await v.subjects.get(s.id)).status).toBe("active");
  });

  it("refuses every broken registration, and stores nothing", async () => {
    const s = await v.subjects.add({ ref: `pk-bad-${Math.random()}` });
    const cases: [string, Tamper][] = [
      ["origin", { origin: "https://evil.example" }],
      ["rp id", { rpId: "evil.example" }],
      ["type", { type: "webauthn.get" }],
      ["challenge", { challenge: Buffer.alloc(32, 7).toString("base64url") }],
      ["no user verification", { flags: 0x41 }],
      ["no user presence", { flags: 0x44 }],
      ["attestation format", { fmt: "packed" }],
      ["cross origin", { crossOrigin: true }],
    ];
    for (const [why, t] of cases) {
      const options = await v.access.passkeys.registrationOptions(s.id, RP);
      const r = new SoftAuthenticator().create(options, ORIGIN, t);
      expect([why, await codeOf(v.access.passkeys.register(s.id, r, RP))]).toEqual([why, "UNAUTHENTICATED"]);
    }
    // A challenge is for one subject and one ceremony.
    const other = await v.subjects.add({ ref: `pk-other-${Math.random()}` });
    const foreign = new SoftAuthenticator().create(
      await v.access.passkeys.registrationOptions(other.id, RP),
      ORIGIN,
    );
    expect(await codeOf(v.access.passkeys.register(s.id, foreign, RP))).toBe("UNAUTHENTICATED");
    const signInChallenge = await v.access.passkeys.authenticationOptions(RP);
    const wrongKind = new SoftAuthenticator().create(
      { challenge: signInChallenge.challenge, rp: { id: RP.id } },
      ORIGIN,
    );
    expect(await codeOf(v.access.passkeys.register(s.id, wrongKind, RP))).toBe("UNAUTHENTICATED");
    expect(await v.access.passkeys.list(s.id)).toEqual([]);
  });

  it("refuses every broken sign-in", async () => {
    const { s, auth } = await registered();
    const cases: [string, Tamper][] = [
      ["origin", { origin: "https://evil.example" }],
      ["rp id", { rpId: "evil.example" }],
      ["type", { type: "webauthn.create" }],
      ["signature", { badSignature: true }],
      ["no user verification", { flags: 0x01 }],
      ["counter went back", { signCount: 0 }],
    ];
    await signIn(auth); // the counter is now 1
    for (const [why, t] of cases)
      expect([why, await codeOf(signIn(auth, t))]).toEqual([why, "UNAUTHENTICATED"]);

    // A challenge is spent by its first use, valid or not, and expires after five minutes.
    const options = await v.access.passkeys.authenticationOptions(RP);
    await v.access.passkeys.authenticate(auth.get(options, ORIGIN), RP);
    expect(await codeOf(v.access.passkeys.authenticate(auth.get(options, ORIGIN), RP))).toBe(
      "UNAUTHENTICATED",
    );
    const failed = await v.access.passkeys.authenticationOptions(RP);
    const bad = auth.get(failed, ORIGIN, { badSignature: true });
    expect(await codeOf(v.access.passkeys.authenticate(bad, RP))).toBe("UNAUTHENTICATED");
    expect(await codeOf(v.access.passkeys.authenticate(auth.get(failed, ORIGIN), RP))).toBe(
      "UNAUTHENTICATED",
    );
    const stale = await v.access.passkeys.authenticationOptions(RP);
    offset = 5 * 60_000 + 1000;
    try {
      expect(await codeOf(v.access.passkeys.authenticate(auth.get(stale, ORIGIN), RP))).toBe(
        "UNAUTHENTICATED",
      );
    } finally {
      offset = 0;
    }
    expect(await codeOf(signIn(new SoftAuthenticator()))).toBe("UNAUTHENTICATED"); // unknown credential

    await v.shredding.request(s.id, { immediate: true });
    expect(await codeOf(signIn(auth))).toBe("UNAUTHENTICATED"); // erasure deleted the passkey
    expect(await v.access.passkeys.list(s.id).catch((e: unknown) => (e as { code: string }).code)).toBe(
      "SUBJECT_SHREDDED",
    );
  });

  it("needs the vault's public URL: no passkeys against an origin it did not choose", () => {
    expect(() => relyingParty(undefined)).toThrow(/public URL/);
    expect(relyingParty("http://localhost:8443")).toEqual({
      id: "localhost",
      origin: "http://localhost:8443",
    });
  });
});
