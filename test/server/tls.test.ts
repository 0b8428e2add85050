/**
 * TLS: 1.2 only with AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305); 1.3 as Node offers it.
 * A client that offers only CBC or SHA-1 suites is refused at the handshake.
 */
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyEngine } from "../../src/policy/engine.js";
import { buildServer } from "../../src/server/app.js";
import { selfSignedCertificate } from "../../src/server/x509.js";
import type { Vault } from "../../src/platform/vault.js";
import { sandbox, type Sandbox } from "../support/backends.js";

interface Handshake {
  readonly ok: boolean;
  readonly cipher?: string;
  readonly protocol?: string | null;
}

describe("TLS suites", () => {
  let sb: Sandbox;
  let v: Vault;
  let app: Awaited<ReturnType<typeof buildServer>>;
  let port: number;
  let cert: string;
  beforeAll(async () => {
    sb = sandbox({ name: "sqlite" });
    v = await sb.init();
    const made = selfSignedCertificate(["localhost", "127.0.0.1"]);
    cert = made.certPem;
    const key = made.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    app = await buildServer({ vault: v, engine: await PolicyEngine.load(), https: { key, cert } });
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
    await v.close();
    await sb.cleanup();
  });

  const handshake = (options: tls.ConnectionOptions): Promise<Handshake> =>
    new Promise((resolve) => {
      const s = tls.connect({ host: "127.0.0.1", port, ca: cert, servername: "localhost", ...options });
      s.once("secureConnect", () => {
        resolve({ ok: true, cipher: s.getCipher().standardName, protocol: s.getProtocol() });
        s.destroy();
      });
      s.once("error", () => {
        resolve({ ok: false });
      });
    });
  const tls12 = (ciphers: string) => handshake({ minVersion: "TLSv1.2", maxVersion: "TLSv1.2", ciphers });

  it.each([
    "ECDHE-ECDSA-AES128-SHA", // CBC, SHA-1
    "ECDHE-ECDSA-AES256-SHA", // CBC, SHA-1
    "ECDHE-ECDSA-AES128-SHA256", // CBC
    "ECDHE-ECDSA-AES256-SHA384", // CBC
  ])("refuses a TLS 1.2 client offering only %s", async (suite) => {
    expect(await tls12(suite)).toEqual({ ok: false });
  });

  it.each([
    ["ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    ["ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"],
    ["ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
  ])("accepts TLS 1.2 with %s", async (suite, standard) => {
    expect(await tls12(suite)).toEqual({ ok: true, cipher: standard, protocol: "TLSv1.2" });
  });

  it("negotiates TLS 1.3 by default", async () => {
    const r = await handshake({});
    expect(r.ok).toBe(true);
    expect(r.protocol).toBe("TLSv1.3");
  });
});
