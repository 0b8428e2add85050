/**
 * `voxvault doctor`: each misconfiguration is found with its rule, severity, location and fix,
 * and each fixed state passes; the exit status follows the worst finding; SARIF is well formed.
 */
import {
  DeleteObjectCommand,
  DeletePublicAccessBlockCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { audioKind } from "../../src/doctor/checks-local.js";
import { checkPostgresUrl } from "../../src/doctor/checks-transport.js";
import { exitStatusFor, runDoctor, sarif, type Finding } from "../../src/doctor/index.js";
import type { Vault } from "../../src/platform/vault.js";
import { wavBytes } from "../support/audio.js";
import { BACKENDS, rootFileOf, sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";
import { freshBucket, HAVE_S3, s3Env } from "../support/s3.js";

const DAY = 86_400_000;
const rules = (fs: readonly Finding[]) => fs.map((f) => f.rule).sort();

describe.each(BACKENDS)("voxvault doctor ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault | undefined;
  afterEach(async () => {
    await v?.close();
    v = undefined;
    await sb.cleanup();
  });

  it("finds each misconfiguration, says how to fix it, and passes once fixed", async () => {
    sb = sandbox(backend);
    // the root file inside a synced directory; raw audio kept for 400 days
    const keyFile = path.join(sb.root, "Dropbox", "keys", "root.key.json");
    mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    v = await sb.init({
      ...(sb.token ? {} : { keyFile }),
      abstraction: { retention: { raw: { mode: "keep", ttl: "400d" }, frames: { mode: "discard" } } },
    });
    const rootFile = sb.token ? rootFileOf(sb, v.id) : keyFile;
    const s = await v.subjects.add({ ref: "doctor-1" });
    await v.blobs.put({
      subjectId: s.id,
      kind: "raw",
      data: [new Uint8Array(100)],
      retention: { expiresAt: new Date(Date.now() + 1000) },
    });
    const op = await v.access.tokens.create({ role: "operator", label: "forever", ttlMs: 80 * DAY });
    writeFileSync(path.join(v.dataDir, "blobs", "stray.wav"), wavBytes(new Int16Array(1600)));

    const later = new Date(Date.now() + 2 * DAY); // the blob's retention day has ended
    const found = await runDoctor(v, { rootFile, now: later });
    const by = (rule: string) => found.find((f) => f.rule === rule);
    expect(by("data.retention-raw")).toMatchObject({
      severity: "high",
      fix: expect.stringContaining("retention.raw.ttl") as string,
    });
    expect(by("data.plaintext-audio")).toMatchObject({
      severity: "critical",
      location: path.join(v.dataDir, "blobs", "stray.wav"),
    });
    expect(by("data.retention-not-swept")?.severity).toBe("medium");
    expect(by("access.long-lived-token")).toMatchObject({
      severity: "high",
      what: expect.stringContaining(op.info.id) as string,
    });
    expect(by("log.no-witness")?.severity).toBe("low");
    if (!sb.token) {
      expect(by("keys.synced-directory")).toMatchObject({ severity: "high", location: keyFile });
      expect(by("keys.unsealed-key-file")?.severity).toBe("medium");
    } else expect(by("keys.unsealed-key-file")).toBeUndefined();
    if (backend.name === "postgres") expect(by("transport.postgres-superuser")?.severity).toBe("high");
    for (const f of found) {
      expect(f.why.length).toBeGreaterThan(10);
      expect(f.fix.length).toBeGreaterThan(10);
    }
    expect(exitStatusFor(found)).toBe(6);

    // Fix what can be fixed here: the stray file, the sweep, the token.
    rmSync(path.join(v.dataDir, "blobs", "stray.wav"));
    await v.access.tokens.revoke(op.info.id);
    await v.close();
    v = await sb.open({ now: () => later });
    await v.retention.sweep();
    const after = await runDoctor(v, { rootFile, now: later });
    for (const gone of ["data.plaintext-audio", "data.retention-not-swept", "access.long-lived-token"])
      expect(rules(after)).not.toContain(gone);
    expect(rules(after)).toContain("data.retention-raw"); // vault.json still says 400d

    if (!sb.token) {
      // a key file opens alone until it is split among officers
      expect(after.find((f) => f.rule === "keys.no-unseal-quorum")?.severity).toBe("info");
      await v.sealing.reshare(2, ["alice", "bob", "carol"]);
      const split = await runDoctor(v, { rootFile, now: later });
      expect(rules(split)).not.toContain("keys.no-unseal-quorum");
      expect(rules(split)).not.toContain("keys.unsealed-key-file");
      expect(rules(split)).not.toContain("keys.share-set-age");
      const yearsOn = await runDoctor(v, { rootFile, now: new Date(later.getTime() + 400 * DAY) });
      expect(yearsOn.find((f) => f.rule === "keys.share-set-age")?.severity).toBe("low");
    }
  });

  it("flags operator policies broader than the defaults, and audit events left unsigned", async () => {
    sb = sandbox(backend);
    v = await sb.init();
    const rootFile = rootFileOf(sb, v.id);
    const dir = path.join(sb.root, "policies");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, "extra.cedar"),
      [
        '@id("all-consumers") permit (principal is Voxvault::Consumer, action, resource);',
        '@id("any-derivation") permit (principal, action == Voxvault::Action::"derivation.read", resource) when { context.budgetOk };',
        '@id("purposeful") permit (principal is Voxvault::Consumer, action == Voxvault::Action::"dataset.pull", resource) when { principal.purposes.contains(context.purpose) };',
        '@id("no-shred") forbid (principal, action == Voxvault::Action::"subject.shred", resource);',
      ].join("\n"),
    );
    const later = new Date(Date.now() + 2 * DAY);
    const found = await runDoctor(v, { rootFile, now: later, policyDirs: [dir] });
    const policyFindings = found.filter((f) => f.rule.startsWith("access.policy-"));
    expect(policyFindings.map((f) => [f.rule, /policy (\S+)/.exec(f.what)?.[1]])).toEqual([
      ["access.policy-unconditional", "all-consumers"],
      ["access.policy-no-purpose", "any-derivation"],
    ]);
    for (const f of policyFindings)
      expect(f).toMatchObject({ severity: "high", location: path.join(dir, "extra.cedar") });
    // the shipped defaults alone are not flagged
    expect(rules(await runDoctor(v, { rootFile, now: later }))).not.toContain("access.policy-unconditional");

    // the vault's own events since init are not under a signed checkpoint yet, two days on
    const { size, checkpointSize } = await v.log.size();
    if (size > checkpointSize)
      expect(found.find((f) => f.rule === "log.checkpoint-age")?.severity).toBe("medium");
    await v.log.checkpoint();
    expect(rules(await runDoctor(v, { rootFile, now: later }))).not.toContain("log.checkpoint-age");
    await v.subjects.add({ ref: "after-checkpoint" });
    expect(rules(await runDoctor(v, { rootFile, now: new Date() }))).not.toContain("log.checkpoint-age");
    expect(rules(await runDoctor(v, { rootFile, now: later }))).toContain("log.checkpoint-age");
  });

  it("runs as `voxvault doctor` with a SARIF report and the exit status of the worst finding", async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    const env = {
      ...sb.env,
      VOXVAULT_DATA_DIR: sb.dataDir,
      ...(sb.backend.pgUrl ? { VOXVAULT_PG_URL: sb.backend.pgUrl } : {}),
    };
    const file = path.join(sb.root, "doctor.sarif");
    const r = await cli(["doctor", "--json", "--sarif", file], env);
    const out = JSON.parse(r.stdout) as { findings: Finding[]; exitStatus: number };
    expect(r.code).toBe(out.exitStatus);
    expect(r.code).toBe(exitStatusFor(out.findings));
    expect(r.code).toBeGreaterThanOrEqual(3); // a fresh vault has no witness: at least a low finding
    const doc = JSON.parse(readFileSync(file, "utf8")) as {
      version: string;
      runs: {
        tool: { driver: { rules: { id: string }[] } };
        results: { ruleId: string; ruleIndex: number; level: string }[];
      }[];
    };
    expect(doc.version).toBe("2.1.0");
    const run = doc.runs[0]!;
    expect(run.results.length).toBe(out.findings.length);
    for (const res of run.results) {
      expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe(res.ruleId);
      expect(["error", "warning", "note"]).toContain(res.level);
    }
    const human = await cli(["doctor"], env);
    expect(human.stdout).toMatch(/LOW +log\.no-witness\n +no witness cosigns/);
    expect(human.stdout).toMatch(/fix: add a witness: voxvault audit witnesses add VKEY/);
  });
});

describe.runIf(HAVE_S3)("voxvault doctor on a vault in S3 (Ceph RGW)", () => {
  it("reports the bucket's posture with Prowler ids, and a bucket made public while the vault runs", async () => {
    const sb = sandbox({ name: "sqlite" });
    const bucket = await freshBucket();
    const v = await sb.init({ storage: bucket.config, env: { ...sb.env, ...s3Env() } });
    try {
      const rootFile = rootFileOf(sb, v.id);
      const storage = (await runDoctor(v, { rootFile })).filter((f) => f.area === "storage");
      expect(storage.map((f) => [f.rule, f.prowler]).sort()).toEqual([
        ["storage.access-logging-off", "s3_bucket_server_access_logging_enabled"],
        ["storage.no-tls-only-policy", "s3_bucket_secure_transport_policy"],
        ["storage.partial-public-access-block", "s3_bucket_level_public_access_block"],
      ]);
      const b = bucket.config.bucket;
      // The vault's own ciphertext of a WAV is not audio; a plaintext copy dropped beside it is.
      const s = await v.subjects.add({ ref: "bucket-scan" });
      await v.blobs.put({ subjectId: s.id, kind: "raw", data: [wavBytes(new Int16Array(1600))] });
      await bucket.client.send(
        new PutObjectCommand({
          Bucket: b,
          Key: "exports/interview-17.wav",
          Body: wavBytes(new Int16Array(1600)),
        }),
      );
      const scanned = await runDoctor(v, { rootFile });
      expect(scanned.filter((f) => f.rule === "storage.plaintext-audio")).toEqual([
        expect.objectContaining({ severity: "critical", location: "exports/interview-17.wav" }),
      ]);
      await bucket.client.send(new DeleteObjectCommand({ Bucket: b, Key: "exports/interview-17.wav" }));
      expect(rules(await runDoctor(v, { rootFile }))).not.toContain("storage.plaintext-audio");

      // Someone opens the bucket after the vault started: the next doctor run says so, critically.
      await bucket.client.send(new DeletePublicAccessBlockCommand({ Bucket: b }));
      await bucket.client.send(
        new PutBucketPolicyCommand({
          Bucket: b,
          Policy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:aws:s3:::${b}/*` },
            ],
          }),
        }),
      );
      const found = await runDoctor(v, { rootFile });
      expect(found.find((f) => f.rule === "storage.public-policy")).toMatchObject({
        severity: "critical",
        prowler: "s3_bucket_public_access",
      });
      expect(found.find((f) => f.rule === "storage.no-public-access-block")?.severity).toBe("high");
      expect(exitStatusFor(found)).toBe(6);
    } finally {
      await v.close();
      await sb.cleanup();
      await bucket.drop();
    }
  });
});

describe("doctor checks without a vault", () => {
  it("recognises audio containers by their magic numbers, and not the vault's own blobs", () => {
    const b = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
    expect(audioKind(b("RIFF", [0, 0, 0, 0], "WAVE"))).toBe("WAV");
    expect(audioKind(b("fLaC"))).toBe("FLAC");
    expect(audioKind(b("OggS"))).toBe("Ogg");
    expect(audioKind(b("ID3", [4, 0]))).toBe("MP3");
    expect(audioKind(b([0xff, 0xfb, 0x90, 0x64]))).toBe("MP3");
    expect(audioKind(b([0, 0, 0, 0x20], "ftypM4A "))).toBe("MP4/M4A");
    expect(audioKind(b([0x1a, 0x45, 0xdf, 0xa3]))).toBe("Matroska/WebM");
    expect(audioKind(b("#!AMR\n"))).toBe("AMR");
    expect(audioKind(b("VVB1", [1, 2, 3, 4]))).toBeUndefined();
    expect(audioKind(new Uint8Array(0))).toBeUndefined();
  });

  it("wants verified TLS to a PostgreSQL that is not on this machine", () => {
    expect(checkPostgresUrl("postgres://u@db.example:5432/v")[0]?.rule).toBe("transport.postgres-tls");
    expect(checkPostgresUrl("postgres://u@db.example/v?sslmode=require")[0]?.severity).toBe("high");
    expect(checkPostgresUrl("postgres://u@db.example/v?sslmode=verify-full")).toEqual([]);
    expect(checkPostgresUrl("postgres://u@127.0.0.1:5432/v")).toEqual([]);
    expect(checkPostgresUrl("postgres://u@[::1]/v")).toEqual([]);
    // the finding never repeats the URL (it may hold a password)
    expect(JSON.stringify(checkPostgresUrl("postgres://u:secret@db.example/v"))).not.toContain("secret");
  });

  it("maps the worst severity to the exit status", () => {
    const f = (severity: Finding["severity"]): Finding => ({
      rule: "r",
      severity,
      area: "keys",
      what: "w",
      why: "y",
      fix: "f",
    });
    expect(exitStatusFor([])).toBe(0);
    expect(exitStatusFor([f("info")])).toBe(0);
    expect(exitStatusFor([f("info"), f("low")])).toBe(3);
    expect(exitStatusFor([f("medium"), f("low")])).toBe(4);
    expect(exitStatusFor([f("high")])).toBe(5);
    expect(exitStatusFor([f("low"), f("critical"), f("high")])).toBe(6);
    expect(
      (sarif([f("critical")]) as { runs: { results: { level: string }[] }[] }).runs[0]!.results[0]!.level,
    ).toBe("error");
  });
});
