/**
 * A vault made before root generations (format 1: root key versions, key tree in key_nodes) opens
 * with this build and is upgraded once, in place: every live subject, blob, retention-bound blob,
 * reference and certificate survives; the shredded subject stays shredded; the old root versions
 * leave the key file. The fixture was made by the format-1 build (fixtures/format1/README.md).
 */
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { encodeFields, randomBytes, toBase64, utf8Bytes } from "../../src/crypto/bytes.js";
import { wrapKey } from "../../src/crypto/keywrap.js";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { openVault } from "../../src/platform/lifecycle.js";
import type { Vault } from "../../src/platform/vault.js";
import { codeOf, collectBytes, DECODER_WORKER } from "../support/backends.js";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { spawn } from "node:child_process";

const FIXTURE = fileURLToPath(new URL("./fixtures/format1/", import.meta.url));
const info = JSON.parse(readFileSync(path.join(FIXTURE, "info.json"), "utf8")) as {
  vaultId: string;
  subjects: Record<string, { id: string; blob: string }>;
  retentionBlob: string;
  certificate: unknown;
};

/** The fixture copied to a private temp root with the modes git does not keep. */
function copyFixture(): { root: string; dataDir: string; keyFile: string; env: NodeJS.ProcessEnv } {
  const root = mkdtempSync(path.join(os.tmpdir(), "vv-upgrade-"));
  const dataDir = path.join(root, "data");
  const keyDir = path.join(root, "config", "voxvault", "keys");
  cpSync(path.join(FIXTURE, "data"), dataDir, { recursive: true });
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  cpSync(path.join(FIXTURE, "keys"), keyDir, { recursive: true });
  const fix = (p: string) => {
    const st = statSync(p);
    chmodSync(p, st.isDirectory() ? 0o700 : 0o600);
    if (st.isDirectory()) for (const e of readdirSync(p)) fix(path.join(p, e));
  };
  fix(dataDir);
  fix(path.join(root, "config"));
  return {
    root,
    dataDir,
    keyFile: path.join(keyDir, `${info.vaultId}.key.json`),
    env: { ...process.env, XDG_CONFIG_HOME: path.join(root, "config"), HOME: root },
  };
}

describe("upgrade of a format-1 vault", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function check(v: Vault, keyFile: string): Promise<void> {
    for (const ref of ["ada@example.org", "grace@example.org", "linus@example.org"]) {
      const s = info.subjects[ref]!;
      expect((await collectBytes((await v.blobs.read(s.blob)).stream)).toString()).toBe(`voice of ${ref}`);
      expect(await v.subjects.revealRef(s.id)).toBe(ref);
      expect((await v.subjects.findByRef(ref))?.id).toBe(s.id);
    }
    expect((await collectBytes((await v.blobs.read(info.retentionBlob)).stream)).toString()).toBe(
      "frames kept until 2036",
    );
    const gone = info.subjects["gone@example.org"]!;
    expect((await v.subjects.get(gone.id)).status).toBe("shredded");
    expect(await codeOf(v.blobs.read(gone.blob))).toBe("SUBJECT_SHREDDED");
    // certificates issued before the upgrade still verify
    expect((await v.shredding.verify(info.certificate)).subjectId).toBe(gone.id);
    const status = await v.keys.status();
    expect(status.activeGeneration).toBe(1);
    expect(status.provider.generations).toEqual([1]);
    const file = JSON.parse(readFileSync(keyFile, "utf8")) as {
      format: string;
      content?: { legacy?: unknown };
    };
    expect(file.format).toBe("voxvault-root-key/2");
    expect(file.content?.legacy).toBeUndefined();
    expect((await v.audit.list({ limit: 1000 })).some((e) => e.event.type === "keys.upgraded")).toBe(true);
    const verified = await v.log.verify();
    expect(verified.problems).toEqual([]);
    // and the upgraded vault works like any other
    const s = await v.subjects.add({ ref: "new@example.org" });
    await v.shredding.request(info.subjects["linus@example.org"]!.id);
    expect(await codeOf(v.blobs.read(info.subjects["linus@example.org"]!.blob))).toBe("SUBJECT_SHREDDED");
    expect((await v.subjects.findByRef("ada@example.org"))?.id).toBe(info.subjects["ada@example.org"]!.id);
    await v.keys.rotateRoot();
    expect(
      (await collectBytes((await v.blobs.read(info.subjects["ada@example.org"]!.blob)).stream)).length,
    ).toBe("voice of ada@example.org".length);
    expect((await v.subjects.findByRef("new@example.org"))?.id).toBe(s.id);
  }

  it("opens, upgrades once and keeps everything that was not shredded", async () => {
    const fx = copyFixture();
    cleanup.push(() => {
      rmSync(fx.root, { recursive: true, force: true });
      return Promise.resolve();
    });
    const open = () =>
      openVault({ dataDir: fx.dataDir, env: fx.env, decoder: { workerUrl: DECODER_WORKER } });
    const v = await open();
    try {
      await check(v, fx.keyFile);
    } finally {
      await v.close();
    }
    // reopening does not upgrade again
    const again = await open();
    const upgrades = (await again.audit.list({ limit: 1000 })).filter(
      (e) => e.event.type === "keys.upgraded",
    );
    expect(upgrades).toHaveLength(1);
    await again.close();
  });

  it("two processes opening a format-1 vault at once upgrade it once and both keep working", async () => {
    const DIST = new URL("../../dist/index.js", import.meta.url).href;
    const ada = info.subjects["ada@example.org"]!;
    const script = `
      const { openVault } = await import(${JSON.stringify(DIST)});
      const v = await openVault({ dataDir: process.argv[1] });
      const r = await v.blobs.read(process.argv[2]);
      let n = 0; for await (const c of r.stream) n += c.length;
      await v.close();
      process.stdout.write(String(n));`;
    const child = (fx: ReturnType<typeof copyFixture>) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, ["--input-type=module", "-e", script, fx.dataDir, ada.blob], {
          env: fx.env,
        });
        let out = "";
        let err = "";
        c.stdout.on("data", (d: Buffer) => (out += d.toString()));
        c.stderr.on("data", (d: Buffer) => (err += d.toString()));
        c.on("exit", (code) => {
          resolve({ code, out, err });
        });
      });
    for (let round = 0; round < 3; round++) {
      const fx = copyFixture();
      cleanup.push(() => {
        rmSync(fx.root, { recursive: true, force: true });
        return Promise.resolve();
      });
      const results = await Promise.all([child(fx), child(fx)]);
      for (const r of results)
        expect([r.code, r.out], r.err).toEqual([0, String("voice of ada@example.org".length)]);
      const v = await openVault({ dataDir: fx.dataDir, env: fx.env, decoder: { workerUrl: DECODER_WORKER } });
      try {
        expect(await v.subjects.revealRef(info.subjects["grace@example.org"]!.id)).toBe("grace@example.org");
        const upgrades = (await v.audit.list({ limit: 1000 })).filter(
          (e) => e.event.type === "keys.upgraded",
        );
        expect(upgrades).toHaveLength(1);
      } finally {
        await v.close();
      }
    }
  });

  it("upgrades a passphrase-sealed format-1 key file, keeping its passphrase", async () => {
    const fx = copyFixture();
    cleanup.push(() => {
      rmSync(fx.root, { recursive: true, force: true });
      return Promise.resolve();
    });
    // seal the fixture's key file as format 1 did (docs/format.md §9, format 1)
    const plain = JSON.parse(readFileSync(fx.keyFile, "utf8")) as { versions: unknown[]; vaultId: string };
    const passphrase = "correct horse battery staple";
    const kdf = { name: "scrypt" as const, logN: 14, r: 8, p: 1, salt: toBase64(randomBytes(16)) };
    const key = await FileKeyProvider.deriveSealKey(passphrase, kdf);
    const aad = encodeFields(["voxvault-root-key/1", plain.vaultId, "passphrase", JSON.stringify(kdf)]);
    const sealed = wrapKey(key, utf8Bytes(JSON.stringify(plain.versions)), aad);
    writeFileSync(
      fx.keyFile,
      JSON.stringify({
        format: "voxvault-root-key/1",
        vaultId: plain.vaultId,
        kind: "passphrase",
        kdf,
        sealed: toBase64(sealed),
      }),
      { mode: 0o600 },
    );
    const cfg = JSON.parse(readFileSync(path.join(fx.dataDir, "vault.json"), "utf8")) as {
      keyProvider: { kind: string };
    };
    cfg.keyProvider.kind = "passphrase";
    writeFileSync(path.join(fx.dataDir, "vault.json"), JSON.stringify(cfg), { mode: 0o600 });
    const open = (p: string) =>
      openVault({ dataDir: fx.dataDir, env: fx.env, passphrase: p, decoder: { workerUrl: DECODER_WORKER } });
    expect(await codeOf(open("wrong passphrase, long enough"))).toBe("ROOT_KEY_INVALID");
    const v = await open(passphrase);
    try {
      await check(v, fx.keyFile);
    } finally {
      await v.close();
    }
    const file = JSON.parse(readFileSync(fx.keyFile, "utf8")) as { kind: string; kdf: { salt: string } };
    expect(file.kind).toBe("passphrase");
    expect(file.kdf.salt).toBe(kdf.salt);
    await (await open(passphrase)).close();
  });
});
