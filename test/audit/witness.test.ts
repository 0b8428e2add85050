/**
 * Witnessing (c2sp.org/tlog-witness shape over files): the witness mode's add-checkpoint rules,
 * and a vault and a witness exchanging request and cosignatures through the CLI.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dataDirAnchor, keyDirAnchor } from "../../src/audit/anchor.js";
import { addCheckpoint, initWitness, trustLog, witnessInfo } from "../../src/audit/witness.js";
import { formatAddCheckpoint, parseAddCheckpoint } from "../../src/audit/witness-protocol.js";
import { defaultKeyFile } from "../../src/keys/key-file.js";
import {
  MemoryTileStore,
  SIGNATURE_TYPE_ED25519,
  appendLeaves,
  consistencyProof,
  ed25519NoteSigner,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  verifierKeyString,
} from "../../src/tlog/index.js";
import { ed25519PrivateKey, ed25519RawPublicKey } from "../../src/crypto/ed25519.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";
import { cliEnv, snapshotDb, codeOfSync } from "./helpers.js";

const ORIGIN = "example.org/test-log";
const SEED = new Uint8Array(32).fill(3);
const LOG_VKEY = verifierKeyString(
  ORIGIN,
  SIGNATURE_TYPE_ED25519,
  ed25519RawPublicKey(ed25519PrivateKey(SEED)),
);

/** A small log the test controls: append leaves, sign checkpoints, prove consistency. */
class TestLog {
  readonly store = new MemoryTileStore();
  size = 0;
  root: Uint8Array = new Uint8Array(32);
  constructor(private readonly salt: string) {}
  async grow(n: number): Promise<void> {
    const hashes = Array.from({ length: n }, (_, i) =>
      leafHash(new TextEncoder().encode(`${this.salt}${this.size + i}`)),
    );
    const r = await appendLeaves(this.store, this.size, hashes);
    this.size = r.size;
    this.root = r.root;
  }
  checkpoint(seed = SEED, origin = ORIGIN): Promise<string> {
    return signCheckpoint({ origin, size: this.size, rootHash: this.root, extensions: [] }, [
      ed25519NoteSigner(origin, seed),
    ]);
  }
  async request(oldSize: number, seed = SEED, origin = ORIGIN): Promise<string> {
    const proof =
      oldSize === 0 || oldSize === this.size ? [] : await consistencyProof(this.store, oldSize, this.size);
    return formatAddCheckpoint({ oldSize, proof, checkpoint: await this.checkpoint(seed, origin) });
  }
}

describe("witness mode: add-checkpoint", () => {
  let dir: string;
  let vkey: string;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "vv-witness-"));
    vkey = await initWitness(path.join(dir, "w"), "witness.example/w1");
    await trustLog(path.join(dir, "w"), LOG_VKEY);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const state = () => path.join(dir, "w");

  it("cosigns a first checkpoint, then only consistent larger ones; refuses forks, rollbacks and strangers", async () => {
    const log = new TestLog("a");
    await log.grow(10);
    const first = await addCheckpoint(state(), await log.request(0), () => 1_700_000_000);
    expect(first.status).toBe(200);
    expect(first.body).toMatch(/^— witness\.example\/w1 [A-Za-z0-9+/]+=*\n$/);
    // The response verifies as a cosignature on the checkpoint (quorum 1).
    const cp10 = await log.checkpoint();
    const cosigned = openCheckpoint(cp10 + first.body, {
      origin: ORIGIN,
      logVerifiers: [parseVerifierKey(LOG_VKEY)],
      witnesses: [parseVerifierKey(vkey)],
      witnessQuorum: 1,
    });
    expect(cosigned.cosignatures).toEqual([
      expect.objectContaining({ name: "witness.example/w1", timestamp: 1_700_000_000 }),
    ]);

    // Same size again: fine with the same root (idempotent), a conflict with another.
    expect((await addCheckpoint(state(), await log.request(10))).status).toBe(200);
    const fork = new TestLog("b");
    await fork.grow(10);
    expect(await addCheckpoint(state(), await fork.request(10))).toEqual({
      status: 409,
      contentType: "text/x.tlog.size",
      body: "10\n",
    });

    // Growth with a valid consistency proof is cosigned; a fork that grew is not (422).
    await log.grow(7);
    expect((await addCheckpoint(state(), await log.request(10))).status).toBe(200);
    await fork.grow(9);
    const forkReq = await fork.request(17); // proof from the fork's own 17, not the cosigned tree
    expect((await addCheckpoint(state(), forkReq)).status).toBe(422);
    // A wrong old size gets the witness's size back; old > size is a bad request.
    expect(await addCheckpoint(state(), await log.request(10))).toEqual({
      status: 409,
      contentType: "text/x.tlog.size",
      body: "17\n",
    });
    const big = parseAddCheckpoint(await log.request(17));
    expect((await addCheckpoint(state(), formatAddCheckpoint({ ...big, oldSize: 18 }))).status).toBe(400);
    // An older checkpoint (going backwards) is refused.
    const older = new TestLog("a");
    await older.grow(12);
    const back = formatAddCheckpoint({ oldSize: 17, proof: [], checkpoint: await older.checkpoint() });
    expect((await addCheckpoint(state(), back)).status).toBe(400);
    // Unknown origin: 404. Not signed by the trusted key: 403. Malformed: 400.
    expect((await addCheckpoint(state(), await log.request(0, SEED, "example.org/other"))).status).toBe(404);
    expect((await addCheckpoint(state(), await log.request(17, new Uint8Array(32).fill(4)))).status).toBe(
      403,
    );
    expect((await addCheckpoint(state(), "old 1\nnot base64!\n\nx")).status).toBe(400);
    expect((await addCheckpoint(state(), (await log.request(17)).replace("old 17", "old 017"))).status).toBe(
      400,
    );
    // The witness still remembers 17 and its root.
    expect((await witnessInfo(state())).logs).toEqual([{ origin: ORIGIN, size: 17, logKeys: [LOG_VKEY] }]);
  });

  it("formats requests exactly as c2sp.org/tlog-witness shows them", async () => {
    const log = new TestLog("a");
    await log.grow(5);
    const body = await log.request(3);
    const lines = body.split("\n");
    expect(lines[0]).toBe("old 3");
    const blank = lines.indexOf("");
    expect(blank).toBeGreaterThan(1);
    lines.slice(1, blank).forEach((l) => {
      expect(l).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    });
    expect(lines.slice(blank + 1).join("\n")).toBe(await log.checkpoint());
    expect(parseAddCheckpoint(body)).toEqual({
      oldSize: 3,
      proof: await consistencyProof(log.store, 3, 5),
      checkpoint: await log.checkpoint(),
    });
    expect(codeOfSync(() => parseAddCheckpoint(`old 0\n${"AAAA\n".repeat(1)}\n`))).toBe("INVALID_ARGUMENT");
  });
});

describe.each(BACKENDS)("a vault and its witness, over files ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let env: NodeJS.ProcessEnv;
  const run = (...args: string[]) => cli(args, env);
  beforeEach(async () => {
    sb = sandbox(backend);
    v = await sb.init();
    env = cliEnv(sb);
  });
  afterEach(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("exports a request, the witness cosigns, the vault imports it and serves the cosigned checkpoint", async () => {
    const w = path.join(sb.root, "witness");
    const wkey = (
      await run("audit", "witness", "init", "--state", w, "--name", "union.example/witness")
    ).stdout.trim();
    const logKey = (await run("audit", "key")).stdout.trim();
    expect((await run("audit", "witness", "trust", "--state", w, logKey)).code).toBe(0);
    expect((await run("audit", "witnesses", "add", wkey)).code).toBe(0);
    await v.subjects.add({ ref: "a" });

    const round = async () => {
      const req = path.join(sb.root, "req.txt");
      const resp = path.join(sb.root, "resp.txt");
      const r1 = await run("audit", "witnesses", "request", "union.example/witness", "--out", req);
      expect(r1.code, r1.stderr).toBe(0);
      const r2 = await run("audit", "witness", "add-checkpoint", "--state", w, req);
      expect(r2.code, r2.stderr).toBe(0);
      writeFileSync(resp, r2.stdout);
      const r3 = await run("audit", "witnesses", "import", resp, "--json");
      expect(r3.code, r3.stderr).toBe(0);
      return { request: readFileSync(req, "utf8"), imported: JSON.parse(r3.stdout) as { size: number }[] };
    };
    const first = await round();
    expect(first.request).toMatch(/^old 0\n\n/);
    const served = (await run("audit", "checkpoint", "--no-refresh")).stdout;
    const opened = openCheckpoint(served, {
      origin: `voxvault.local/${v.id}`,
      logVerifiers: [parseVerifierKey(logKey)],
      witnesses: [parseVerifierKey(wkey)],
      witnessQuorum: 1,
    });
    expect(opened.checkpoint.size).toBe(first.imported[0]!.size);

    // Later: the request carries the consistency proof from what the witness cosigned.
    for (let i = 0; i < 5; i++) await v.subjects.add({ ref: `later-${i}` });
    const second = await round();
    expect(second.request).toMatch(new RegExp(`^old ${opened.checkpoint.size}\\n[A-Za-z0-9+/]{43}=\\n`));
    expect(second.imported[0]!.size).toBeGreaterThan(opened.checkpoint.size);
    const report = await v.log.verify();
    expect(report.ok).toBe(true);
    expect(report.cosignatures).toBe(2);
    expect((await v.log.witnesses.list())[0]).toMatchObject({
      status: "active",
      cosignedSize: second.imported[0]!.size,
    });
  });

  it("a restored database that grew another tree is refused by the witness", async () => {
    const w = path.join(sb.root, "witness");
    const wkey = await initWitness(w, "union.example/witness");
    await trustLog(w, (await v.log.activeKey()).vkey);
    await v.log.witnesses.add(wkey);
    await v.subjects.add({ ref: "a" });
    await v.log.witnesses.import(
      (await addCheckpoint(w, await v.log.witnesses.request("union.example/witness"))).body,
    );
    await v.close();
    const snapshot = await snapshotDb(sb);
    // After the copy the log grows and the witness cosigns the larger tree.
    v = await sb.open();
    for (let i = 0; i < 3; i++) await v.subjects.add({ ref: `b${i}` });
    await v.log.witnesses.import(
      (await addCheckpoint(w, await v.log.witnesses.request("union.example/witness"))).body,
    );
    const witnessed = (await witnessInfo(w)).logs[0]!.size;
    await v.close();
    await snapshot.restore();
    // The attacker also removes the local anchors; the vault opens and grows a different tree.
    const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as { vaultId: string };
    rmSync(dataDirAnchor(sb.dataDir));
    rmSync(keyDirAnchor(defaultKeyFile(cfg.vaultId, sb.env), cfg.vaultId));
    v = await sb.open();
    for (let i = 0; i < 6; i++) await v.subjects.add({ ref: `c${i}` });
    const stale = await addCheckpoint(w, await v.log.witnesses.request("union.example/witness"));
    expect(stale).toEqual({ status: 409, contentType: "text/x.tlog.size", body: `${witnessed}\n` });
    const retry = await addCheckpoint(
      w,
      await v.log.witnesses.request("union.example/witness", { oldSize: witnessed }),
    );
    expect(retry.status).toBe(422);
    // Through the CLI: non-zero exit, the HTTP status in the message.
    const req = path.join(sb.root, "req.txt");
    await run(
      "audit",
      "witnesses",
      "request",
      "union.example/witness",
      "--old-size",
      String(witnessed),
      "--out",
      req,
    );
    const refused = await run("audit", "witness", "add-checkpoint", "--state", w, req);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error\[PROOF_INVALID\]: witness refused \(HTTP 422\)/);
    const empty = await run("audit", "witness", "add-checkpoint", "--state", w, "-");
    expect([empty.code, empty.stderr]).toEqual([
      1,
      "error[INVALID_ARGUMENT]: witness refused (HTTP 400): malformed add-checkpoint request: no old size line\n",
    ]);
  });

  it("refuses cosignatures by unknown keys and ones that do not verify", async () => {
    const w = path.join(sb.root, "witness");
    const wkey = await initWitness(w, "union.example/witness");
    await trustLog(w, (await v.log.activeKey()).vkey);
    const stranger = path.join(sb.root, "stranger");
    await initWitness(stranger, "stranger.example/w");
    await trustLog(stranger, (await v.log.activeKey()).vkey);
    await v.log.witnesses.add(wkey);
    const body = (await addCheckpoint(stranger, await v.log.witnesses.request("union.example/witness"))).body;
    expect(await codeOf(v.log.witnesses.import(body))).toBe("CHECKPOINT_INVALID");
    const unknown = await run("audit", "witnesses", "import", "-");
    expect(unknown.stderr).toMatch(/^error\[NOTE_INVALID\]/);
    // A line with the witness's name and key id but a signature over something else.
    const good = (await addCheckpoint(w, await v.log.witnesses.request("union.example/witness"))).body;
    const bytes = Buffer.from(good.trim().split(" ")[2]!, "base64");
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    const broken = `— union.example/witness ${bytes.toString("base64")}\n`;
    const err = await codeOf(v.log.witnesses.import(broken));
    expect(err).toBe("CHECKPOINT_INVALID");
    expect((await v.log.witnesses.import(good)).map((c) => c.witness)).toEqual([
      wkey.split("+").slice(0, 2).join("+"),
    ]);
    // Witness keys must be cosignature/v1 keys; removing one is an event.
    expect(await codeOf(v.log.witnesses.add((await v.log.activeKey()).vkey))).toBe("INVALID_ARGUMENT");
    await v.log.witnesses.remove("union.example/witness");
    expect((await v.audit.list()).map((e) => e.event.type).slice(-2)).toEqual([
      "log.witness_added",
      "log.witness_removed",
    ]);
  });
});
