import {
  symlinkSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { PuncturableKey } from "../../src/keys/pprf.js";
import { writeFileAtomic } from "../../src/fsutil/atomic.js";
import { defaultKeyFile } from "../../src/keys/key-file.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";

describe.each(BACKENDS)("vault lifecycle ($name)", (backend) => {
  let sb: Sandbox;
  afterEach(async () => {
    await sb.cleanup();
  });

  it("init puts the root key outside the data directory, private, and the vault reopens", async () => {
    sb = sandbox(backend);
    const v = await sb.init();
    const keyFile = defaultKeyFile(v.id, sb.env);
    expect(keyFile.startsWith(path.join(sb.root, "config"))).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(sb.dataDir).mode & 0o777).toBe(0o700);
    const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(cfg.vaultId).toBe(v.id);
    expect(JSON.stringify(cfg)).not.toMatch(/postgres:\/\//); // no credentials in the data dir
    const s = await v.subjects.add({ ref: "alice@example.org" });
    await v.close();
    const again = await sb.open();
    expect((await again.subjects.get(s.id)).id).toBe(s.id);
    const events = await again.audit.list();
    expect(events.map((e) => e.event.type)).toEqual(["vault.initialized", "subject.created"]);
    await again.close();
  });

  it("refuses to initialise over an existing vault or a non-empty directory", async () => {
    sb = sandbox(backend);
    const v = await sb.init();
    await v.close();
    expect(await codeOf(sb.init())).toBe("VAULT_EXISTS");
    const other = sandbox(backend);
    try {
      mkdirSync(other.dataDir, { mode: 0o700 });
      writeFileSync(path.join(other.dataDir, "stray"), "x");
      expect(await codeOf(other.init())).toBe("VAULT_EXISTS");
      expect(readdirSync(other.dataDir)).toEqual(["stray"]);
    } finally {
      await other.cleanup();
    }
  });

  it("refuses a root key file inside the data directory", async () => {
    sb = sandbox(backend);
    expect(await codeOf(sb.init({ keyFile: path.join(sb.dataDir, "root.key") }))).toBe("INSECURE_CONFIG");
    expect(existsSync(sb.dataDir)).toBe(false);
  });

  it("fails closed on a missing, foreign, loose or wrong root key", async () => {
    sb = sandbox(backend);
    const v = await sb.init();
    const keyFile = defaultKeyFile(v.id, sb.env);
    await v.close();
    const saved = readFileSync(keyFile);

    chmodSync(keyFile, 0o644);
    expect(await codeOf(sb.open())).toBe("INSECURE_CONFIG");
    chmodSync(keyFile, 0o600);

    writeFileSync(keyFile, "{not json", { mode: 0o600 });
    expect(await codeOf(sb.open())).toBe("ROOT_KEY_INVALID");

    // Same vault id and host, different root material: the vault's keys do not open.
    const forged = JSON.parse(saved.toString()) as { content: { generations: { key: string }[] } };
    forged.content.generations[0]!.key = Buffer.from(PuncturableKey.generate().serialize()).toString(
      "base64",
    );
    writeFileSync(keyFile, JSON.stringify(forged), { mode: 0o600 });
    expect(await codeOf(sb.open())).toBe("ROOT_KEY_MISMATCH");

    // Another vault's key file.
    const other = sandbox(backend);
    try {
      const ov = await other.init();
      await ov.close();
      writeFileSync(keyFile, readFileSync(defaultKeyFile(ov.id, other.env)), { mode: 0o600 });
      expect(await codeOf(sb.open())).toBe("ROOT_KEY_MISMATCH");
    } finally {
      await other.cleanup();
    }

    rmSync(keyFile);
    expect(await codeOf(sb.open())).toBe("ROOT_KEY_MISSING");
    writeFileSync(keyFile, saved, { mode: 0o600 });
    const ok = await sb.open();
    await ok.close();

    // A key directory others can write (they could swap the key file) is refused.
    const keyDir = path.dirname(keyFile);
    chmodSync(keyDir, 0o777);
    expect(await codeOf(sb.open())).toBe("INSECURE_CONFIG");
    chmodSync(keyDir, 0o700);
    // A symlink in place of the key file is refused, not followed.
    const real = path.join(sb.root, "elsewhere.key.json");
    writeFileSync(real, saved, { mode: 0o600 });
    rmSync(keyFile);
    symlinkSync(real, keyFile);
    expect(await codeOf(sb.open())).toBe("INSECURE_CONFIG");
    rmSync(keyFile);
    writeFileSync(keyFile, saved, { mode: 0o600 });
    await (await sb.open()).close();
  });

  it("never writes through a symlink planted at the key file's path", async () => {
    sb = sandbox(backend);
    const v = await sb.init();
    const keyFile = defaultKeyFile(v.id, sb.env);
    const s = await v.subjects.add({ ref: "x" });
    // An attacker who can write the key directory... (refused at open, but a running vault
    // rewrites the key file on every shred): the rewrite must not follow the link.
    const victim = path.join(sb.root, "precious.txt");
    writeFileSync(victim, "do not overwrite", { mode: 0o600 });
    const saved = readFileSync(keyFile);
    rmSync(keyFile);
    symlinkSync(victim, keyFile);
    // the shred commits; applying its puncture to the key file is refused and stays pending
    expect((await v.shredding.request(s.id)).status).toBe("shredded");
    expect(await codeOf(v.keys.sync())).toBe("INSECURE_CONFIG");
    expect(readFileSync(victim, "utf8")).toBe("do not overwrite");
    // the atomic writer itself refuses the link (it used to overwrite the link's target)
    expect(await codeOf(writeFileAtomic(keyFile, new Uint8Array(8), { overwriteOld: true }))).toBe(
      "INSECURE_CONFIG",
    );
    expect(readFileSync(victim, "utf8")).toBe("do not overwrite");
    rmSync(keyFile);
    writeFileSync(keyFile, saved, { mode: 0o600 });
    expect((await v.keys.sync()).puncturesApplied).toBeGreaterThan(0); // the pending puncture lands
    await v.close();
  });

  it("refuses a data directory others can read", async () => {
    sb = sandbox(backend);
    (await sb.init()).close();
    chmodSync(sb.dataDir, 0o755);
    expect(await codeOf(sb.open())).toBe("INSECURE_CONFIG");
    chmodSync(sb.dataDir, 0o700);
  });

  it("refuses a vault written by a newer version (config or schema)", async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    const cfgPath = path.join(sb.dataDir, "vault.json");
    const cfg = readFileSync(cfgPath, "utf8");
    writeFileSync(cfgPath, cfg.replace('"formatVersion": 1', '"formatVersion": 2'));
    expect(await codeOf(sb.open())).toBe("VAULT_NEWER_VERSION");
    writeFileSync(cfgPath, cfg);
    await setSchemaVersion(sb, 99);
    expect(await codeOf(sb.open())).toBe("VAULT_NEWER_VERSION");
    await setSchemaVersion(sb, 1);
    await (await sb.open()).close();
  });

  it("reports a missing data directory and a damaged config", async () => {
    sb = sandbox(backend);
    expect(await codeOf(sb.open())).toBe("VAULT_NOT_FOUND");
    await (await sb.init()).close();
    writeFileSync(path.join(sb.dataDir, "vault.json"), '{"format":"voxvault-vault","formatVersion":1}');
    expect(await codeOf(sb.open())).toBe("CONFIG_INVALID");
  });

  it("opens with a passphrase-sealed root key and refuses a wrong passphrase", async () => {
    sb = sandbox(backend);
    const v = await sb.init({ passphrase: "correct horse battery staple" });
    const s = await v.subjects.add({ ref: "bob" });
    await v.close();
    const sealed = readFileSync(defaultKeyFile(v.id, sb.env), "utf8");
    expect(sealed).toContain('"kind":"passphrase"');
    expect(sealed).not.toContain('"versions"');
    expect(await codeOf(sb.open())).toBe("ROOT_KEY_MISSING");
    expect(await codeOf(sb.open({ passphrase: "wrong horse battery staple" }))).toBe("ROOT_KEY_INVALID");
    const ok = await sb.open({ passphrase: "correct horse battery staple" });
    expect(await ok.subjects.revealRef(s.id)).toBe("bob");
    await ok.keys.rotateRoot(); // re-sealing keeps working
    await ok.close();
    const again = await sb.open({ passphrase: "correct horse battery staple" });
    expect(await again.subjects.revealRef(s.id)).toBe("bob");
    await again.close();
  });
});

describe("sqlite metadata file", () => {
  it("reports a damaged database as VAULT_CORRUPT", async () => {
    const sb = sandbox({ name: "sqlite" });
    try {
      await (await sb.init()).close();
      const db = path.join(sb.dataDir, "meta.sqlite");
      for (const f of [db + "-wal", db + "-shm"]) if (existsSync(f)) writeFileSync(f, "");
      const bytes = readFileSync(db);
      bytes.fill(0x41, 0, 100); // destroy the SQLite header
      writeFileSync(db, bytes);
      expect(await codeOf(sb.open())).toBe("VAULT_CORRUPT");
    } finally {
      await sb.cleanup();
    }
  });
});

async function setSchemaVersion(sb: Sandbox, version: number): Promise<void> {
  if (sb.backend.name === "sqlite") {
    const db = new BetterSqlite3(path.join(sb.dataDir, "meta.sqlite"));
    db.prepare("UPDATE vault_meta SET value = ? WHERE key = 'schema_version'").run(String(version));
    db.close();
  } else {
    const c = new pg.Client({ connectionString: sb.backend.pgUrl });
    await c.connect();
    await c.query(`UPDATE ${sb.schema}.vault_meta SET value = $1 WHERE key = 'schema_version'`, [
      String(version),
    ]);
    await c.end();
  }
}
