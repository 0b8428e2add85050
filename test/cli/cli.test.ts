import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { cli, spawnCli } from "../support/cli.js";

const ERROR_LINE = /^error\[[A-Z_]+\]: .+\n$/;

describe.each(BACKENDS)("voxvault CLI ($name)", (backend) => {
  let sb: Sandbox;
  let env: NodeJS.ProcessEnv;
  let run: (...args: string[]) => ReturnType<typeof cli>;
  beforeEach(async () => {
    sb = sandbox(backend);
    env = {
      ...sb.env,
      VOXVAULT_DATA_DIR: sb.dataDir,
      ...(backend.pgUrl ? { VOXVAULT_PG_URL: backend.pgUrl } : {}),
    };
    run = (...args) => cli(args, env);
    const init = await run(
      "init",
      ...(backend.name === "postgres" ? ["--postgres", backend.pgUrl!, "--pg-schema", sb.schema] : []),
      "--json",
    );
    expect(init.code, init.stderr).toBe(0);
  });
  afterEach(async () => {
    await sb.cleanup();
  });

  it("runs the subject lifecycle with --json output and a verifiable certificate", async () => {
    const add = await run("subject", "add", "--ref", "dora@example.org", "--json");
    expect(add.code).toBe(0);
    const subject = JSON.parse(add.stdout) as { id: string };
    expect(subject.id).toMatch(/^sub_/);
    const file = path.join(sb.root, "in.bin");
    const data = randomBytes(150_000);
    writeFileSync(file, data);
    const put = await run("blob", "put", "--subject", subject.id, "--kind", "raw", file, "--json");
    expect(put.code, put.stderr).toBe(0);
    const blob = JSON.parse(put.stdout) as { id: string; plaintextSize: number };
    expect(blob.plaintextSize).toBe(data.length);
    const out = path.join(sb.root, "out.bin");
    expect((await run("blob", "get", blob.id, "--out", out)).code).toBe(0);
    expect(readFileSync(out).equals(data)).toBe(true);
    const part = await run("blob", "get", blob.id, "--range", "10-20");
    expect(Buffer.from(part.stdout, "latin1").length).toBeGreaterThan(0);

    const list = JSON.parse((await run("subject", "list", "--json")).stdout) as {
      subjects: { id: string }[];
    };
    expect(list.subjects.map((s) => s.id)).toEqual([subject.id]);
    const show = JSON.parse((await run("subject", "show", subject.id, "--reveal", "--json")).stdout) as {
      ref: string;
    };
    expect(show.ref).toBe("dora@example.org");

    const refused = await run("subject", "shred", subject.id);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^error\[USAGE\]: .*--yes/);
    const shred = await run("subject", "shred", subject.id, "--yes");
    expect(shred.code).toBe(0);
    const certFile = path.join(sb.root, "cert.json");
    writeFileSync(certFile, shred.stdout);
    const verify = await run("cert", "verify", certFile, "--json");
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ valid: true });
    const status = JSON.parse((await run("keys", "status", "--json")).stdout) as {
      certificateKey: { publicKey: string };
    };
    const offline = await run("cert", "verify", certFile, "--public-key", status.certificateKey.publicKey);
    expect(offline.code).toBe(0);
    writeFileSync(certFile, shred.stdout.replace(/"blobs": 1/, '"blobs": 0'));
    const forged = await run("cert", "verify", certFile);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(ERROR_LINE);
    // a duplicate member naming another subject is refused, not resolved to one of the two
    const other = "sub_" + "0".repeat(26);
    writeFileSync(certFile, shred.stdout.replace(/^\{/, `{"subjectId": "${other}",`));
    const dup = await run("cert", "verify", certFile);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error\[INVALID_ARGUMENT\]: .*duplicate member name "subjectId"/);
    // without a vault, the error says how to verify anyway
    writeFileSync(certFile, shred.stdout);
    const noVault = await cli(["cert", "verify", certFile], {
      ...env,
      VOXVAULT_DATA_DIR: path.join(sb.root, "none"),
    });
    expect(noVault.stderr).toMatch(/^error\[VAULT_NOT_FOUND\]: .*--public-key/);
    const noVaultKey = await cli(
      ["cert", "verify", certFile, "--public-key", status.certificateKey.publicKey],
      {
        ...env,
        VOXVAULT_DATA_DIR: path.join(sb.root, "none"),
      },
    );
    expect(noVaultKey.code, noVaultKey.stderr).toBe(0);

    const gone = await run("blob", "get", blob.id, "--out", path.join(sb.root, "never.bin"));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`error[SUBJECT_SHREDDED]: subject ${subject.id} was shredded\n`);
    expect(existsSync(path.join(sb.root, "never.bin"))).toBe(false);
    const events = (await run("audit", "events", "--json")).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: { type: string } });
    expect(events.map((e) => e.event.type)).toEqual([
      "vault.initialized",
      "token.created", // the bootstrap admin token printed by init
      "subject.created",
      "blob.written",
      "blob.read",
      "blob.read",
      "subject.reference_revealed",
      "subject.shredded",
      "keys.punctures_applied", // this host applied the slot's puncture right after the commit
    ]);
  });

  it("rotates keys without re-encrypting and keeps data readable", async () => {
    const s = JSON.parse((await run("subject", "add", "--ref", "eve", "--json")).stdout) as { id: string };
    const file = path.join(sb.root, "x.bin");
    writeFileSync(file, "hello voice");
    const b = JSON.parse(
      (await run("blob", "put", "--subject", s.id, "--kind", "raw", file, "--json")).stdout,
    ) as { id: string };
    const rot = await run("keys", "rotate", "--root", "--json");
    expect(rot.code, rot.stderr).toBe(0);
    expect(JSON.parse(rot.stdout)).toMatchObject({
      root: { fromGeneration: 1, toGeneration: 2, subjectsRotated: 1, resumed: false },
    });
    const status = JSON.parse((await run("keys", "status", "--json")).stdout) as {
      activeGeneration: number;
      generations: { generation: number; status: string }[];
      certificateKey: { retired: unknown[] };
    };
    expect(status.activeGeneration).toBe(2);
    expect(status.generations.map((g) => [g.generation, g.status])).toEqual([
      [1, "retired"],
      [2, "active"],
    ]);
    expect(status.certificateKey.retired).toHaveLength(1);
    const get = await run("blob", "get", b.id);
    expect(get.stdout).toBe("hello voice");
    const blobs = JSON.parse((await run("blob", "list", "--subject", s.id, "--json")).stdout) as {
      blobs: { keyVersion: number }[];
    };
    expect(blobs.blobs[0]!.keyVersion).toBe(2);
    const show = JSON.parse((await run("subject", "show", s.id, "--reveal", "--json")).stdout) as {
      keyVersions: number[];
      ref: string;
    };
    expect(show).toMatchObject({ keyVersions: [2], ref: "eve" });
  });

  it("reports every failure as one error[CODE] line", async () => {
    const cases: [string[], string, number][] = [
      [["subject", "show", "sub_00000000000000000000000000"], "SUBJECT_NOT_FOUND", 1],
      [["subject", "show", "../../x"], "INVALID_ARGUMENT", 1],
      [["subject", "add"], "USAGE", 2],
      [["subject", "list", "--status", "weird"], "USAGE", 2],
      [["nonsense"], "USAGE", 2],
      [["init"], "VAULT_EXISTS", 1],
      [["blob", "get", "blb_00000000000000000000000000"], "BLOB_NOT_FOUND", 1],
      [["--data-dir", path.join(sb.root, "missing"), "subject", "list"], "VAULT_NOT_FOUND", 1],
    ];
    for (const [args, code, exit] of cases) {
      const r = await run(...args);
      expect(r.stderr, args.join(" ")).toMatch(ERROR_LINE);
      expect(r.stderr.startsWith(`error[${code}]`), `${args.join(" ")}: ${r.stderr}`).toBe(true);
      expect(r.code).toBe(exit);
      expect(r.stdout).toBe("");
    }
  });
});

describe("the built binary", () => {
  let sb: Sandbox;
  afterEach(async () => {
    await sb.cleanup();
  });

  it("exits non-zero with error[CODE] and exits 0 on success", async () => {
    sb = sandbox({ name: "sqlite" });
    const env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    const init = await spawnCli(["init", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ metadata: "sqlite" });
    const again = await spawnCli(["init"], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error\[VAULT_EXISTS\]: /);
    const usage = await spawnCli(["subject", "shred"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error\[USAGE\]: /);
  });
});
