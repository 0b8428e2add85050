/**
 * The transparency log inside the vault, on every metadata backend: leaves in the same
 * transaction (batched), the CLI shapes, key rotation, tamper detection by `audit verify`,
 * rollback refusal, and clear errors for bad input.
 */
import { readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { OperationNodeTransformer, type KyselyPlugin } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dataDirAnchor, keyDirAnchor } from "../../src/audit/anchor.js";
import { attachLog } from "../../src/audit/open.js";
import { recordEvent } from "../../src/audit/record.js";
import { fromBase64 } from "../../src/crypto/bytes.js";
import { KeyCache } from "../../src/keys/cache.js";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { defaultKeyFile } from "../../src/keys/key-file.js";
import { KeyTree } from "../../src/keys/tree.js";
import { connectMetadata, type DialectDriver, type MetaDb } from "../../src/store/meta/index.js";
import { postgresWrite } from "../../src/store/meta/postgres/write-lock.js";
import { sqliteWrite } from "../../src/store/meta/sqlite/write-lock.js";
import {
  ed25519NoteSigner,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  verifyInclusion,
} from "../../src/tlog/index.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";
import { attackerSql, cliEnv, querySql, snapshotDb, codeOfSync } from "./helpers.js";

const VKEY_RE = /^voxvault\.local\/vlt_[0-9a-z]{26}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/;

let refs = 0;
async function populate(v: Vault, subjects = 3): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < subjects; i++) {
    const s = await v.subjects.add({ ref: `contractor-${refs++}` });
    ids.push(s.id);
    await v.blobs.put({ subjectId: s.id, kind: "raw", data: [Buffer.from(`voice ${i}`)] });
  }
  return ids;
}

/** Counts the raw tile statements a driver issues (the SQL TileStore's reads and upserts). */
function countingDriver(base: DialectDriver): {
  driver: DialectDriver;
  counts: { reads: number; writes: number };
} {
  const counts = { reads: 0, writes: 0 };
  const plugin: KyselyPlugin = {
    transformQuery(args) {
      // The tile store's statements are raw SQL (RawNode): match them by their text.
      const fragments = (args.node as { sqlFragments?: readonly string[] }).sqlFragments;
      const text = fragments?.join("?") ?? "";
      // SQLite: the tile SELECT; PostgreSQL: the state-and-edge-tiles UNION (log-state.ts).
      if (text.trimStart().startsWith("SELECT") && /tlog_tile|AS kind/.test(text)) counts.reads++;
      // The upsert; on PostgreSQL it is inside one statement with the state update.
      if (/INSERT INTO tlog_tile|^\s*WITH /.test(text)) counts.writes++;
      return new OperationNodeTransformer().transformNode(args.node);
    },
    transformResult: (args) => Promise.resolve(args.result),
  };
  const db = base.db.withPlugin(plugin);
  const write = <T>(fn: (trx: MetaDb) => Promise<T>) =>
    base.dialect === "sqlite" ? sqliteWrite(db, fn) : postgresWrite(db, base.schema!, fn);
  return {
    counts,
    driver: { ...base, db, write },
  };
}

describe.each(BACKENDS)("transparency log ($name)", (backend) => {
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

  it("records every event as a leaf, in order, with its leaf index; the first checkpoint is signed at init", async () => {
    expect(await v.log.size()).toMatchObject({ size: 1, checkpointSize: 1 });
    await populate(v, 2);
    const events = await v.audit.list();
    expect(events.map((e) => e.event.type)).toEqual([
      "vault.initialized",
      "subject.created",
      "blob.written",
      "subject.created",
      "blob.written",
    ]);
    expect(events.map((e) => e.leafIndex)).toEqual([0, 1, 2, 3, 4]);
    expect((await v.log.size()).size).toBe(5);
    const origin = await v.log.origin();
    expect(origin).toBe(`voxvault.local/${v.id}`);
    // Leaves carry ids, times and types; the subject only as a commitment.
    const leaf = JSON.parse(new TextDecoder().decode(await v.log.leaf(1))) as Record<string, string>;
    expect(Object.keys(leaf)).toEqual(["at", "event", "format", "id", "subject", "type"]);
    expect(leaf.id).toBe(events[1]!.id);
    expect(JSON.stringify(leaf)).not.toContain((events[1]!.event as { subjectId: string }).subjectId);
  });

  it("appends the events of one transaction as one batch: one tile read and one tile upsert", async () => {
    await v.close();
    const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as { vaultId: string };
    const keyFile = defaultKeyFile(cfg.vaultId, sb.env);
    const provider = await FileKeyProvider.open({ file: keyFile, vaultId: cfg.vaultId });
    const tree = new KeyTree(cfg.vaultId, provider, new KeyCache({ maxEntries: 100, ttlMs: 60_000 }));
    const raw = connectMetadata(
      backend.name === "sqlite"
        ? { driver: "sqlite", file: path.join(sb.dataDir, "meta.sqlite") }
        : { driver: "postgres", url: backend.pgUrl!, schema: sb.schema },
    );
    const { driver, counts } = countingDriver(raw);
    const meta = attachLog(driver, { vaultId: cfg.vaultId, tree, dataDir: sb.dataDir, keyFile });
    try {
      const actor = { type: "system", id: "test" } as const;
      const recorded = await meta.write(async (trx) => {
        const out = [];
        for (let i = 0; i < 5; i++)
          out.push(await recordEvent(trx, actor, { type: "subject.looked_up", subjectId: `sub_${i}` }));
        return out;
      });
      expect(recorded.map((r) => r.leafIndex)).toEqual([1, 2, 3, 4, 5]);
      expect(counts).toEqual({ reads: 1, writes: 1 });
      // A transaction that records nothing touches no tile.
      await meta.write(() => Promise.resolve());
      expect(counts).toEqual({ reads: 1, writes: 1 });
      // An event outside a vault write transaction is refused.
      expect(
        await codeOf(
          raw.write((trx) => recordEvent(trx, actor, { type: "subject.looked_up", subjectId: "sub_x" })),
        ),
      ).toBe("INTERNAL");
    } finally {
      await raw.close();
      await provider.close();
    }
    v = await sb.open();
    expect((await v.log.size()).size).toBe(6);
    expect((await v.log.verify()).ok).toBe(true);
  });

  it("prints the verifier key, checkpoint, leaf and proofs in the stable shapes", async () => {
    await populate(v);
    const key = await run("audit", "key");
    expect(key.code, key.stderr).toBe(0);
    const vkey = key.stdout.trim();
    expect(vkey).toMatch(VKEY_RE);
    const verifier = parseVerifierKey(vkey);
    const cp = await run("audit", "checkpoint");
    expect(cp.code).toBe(0);
    const opened = openCheckpoint(cp.stdout, { origin: `voxvault.local/${v.id}`, logVerifiers: [verifier] });
    expect(opened.checkpoint.size).toBe(7);
    expect(cp.stdout).toBe(await v.log.checkpoint({ refresh: false }));

    const leaf = JSON.parse((await run("audit", "leaf", "3", "--json")).stdout) as Record<string, unknown>;
    expect(Object.keys(leaf)).toEqual(["index", "data"]);
    expect(leaf.index).toBe(3);
    const proof = JSON.parse((await run("audit", "proof", "--index", "3", "--json")).stdout) as {
      index: number;
      treeSize: number;
      inclusion: string[];
    };
    expect(Object.keys(proof)).toEqual(["index", "treeSize", "inclusion"]);
    expect(proof.treeSize).toBe(7);
    verifyInclusion(
      leafHash(fromBase64(leaf.data as string)),
      3,
      7,
      proof.inclusion.map(fromBase64),
      opened.checkpoint.rootHash,
    );
    const older = JSON.parse(
      (await run("audit", "proof", "--index", "3", "--size", "5", "--json")).stdout,
    ) as {
      treeSize: number;
    };
    expect(older.treeSize).toBe(5);
    const cons = JSON.parse(
      (await run("audit", "consistency", "--from", "2", "--to", "7", "--json")).stdout,
    ) as Record<string, unknown>;
    expect(Object.keys(cons)).toEqual(["from", "to", "consistency"]);
    expect(cons).toMatchObject({ from: 2, to: 7 });

    // Bad input: clear codes and the CLI's exit statuses.
    const beyond = await run("audit", "leaf", "99", "--json");
    expect([beyond.code, beyond.stderr]).toEqual([
      1,
      "error[INVALID_ARGUMENT]: the log has 7 leaves; there is no leaf 99\n",
    ]);
    expect((await run("audit", "proof", "--index", "1", "--size", "99")).stderr).toMatch(
      /^error\[INVALID_ARGUMENT\]/,
    );
    expect((await run("audit", "proof", "--index", "5", "--size", "5")).stderr).toMatch(
      /^error\[INVALID_ARGUMENT\]/,
    );
    expect((await run("audit", "consistency", "--from", "8", "--to", "7")).stderr).toMatch(
      /^error\[INVALID_ARGUMENT\]/,
    );
    const usage = await run("audit", "proof", "--index", "-1");
    expect(usage.code).toBe(2);
  });

  it("a proof for another tree size, or a checkpoint signed by another key, is refused", async () => {
    await populate(v);
    const cp = openCheckpoint(await v.log.checkpoint(), {
      origin: await v.log.origin(),
      logVerifiers: [parseVerifierKey((await v.log.activeKey()).vkey)],
    }).checkpoint;
    const leaf = leafHash(await v.log.leaf(2));
    const atFive = await v.log.inclusionProof(2, 5);
    expect(
      codeOfSync(() => {
        verifyInclusion(leaf, 2, cp.size, atFive.inclusion.map(fromBase64), cp.rootHash);
      }),
    ).toBe("PROOF_INVALID");
    const forged = await signCheckpoint({ ...cp, extensions: [] }, [
      ed25519NoteSigner(cp.origin, new Uint8Array(32).fill(7)),
    ]);
    expect(
      await codeOf(async () =>
        openCheckpoint(forged, {
          origin: cp.origin,
          logVerifiers: [parseVerifierKey((await v.log.activeKey()).vkey)],
        }),
      ),
    ).toBe("CHECKPOINT_INVALID");
  });

  it("rotates the log key: an event, a checkpoint signed by both keys, the old seed destroyed, old checkpoints still verify", async () => {
    await populate(v, 1);
    const before = await v.log.checkpoint();
    const oldKey = await v.log.activeKey();
    const rotated = await run("audit", "key", "--rotate", "--json");
    expect(rotated.code, rotated.stderr).toBe(0);
    const { from, to } = JSON.parse(rotated.stdout) as {
      from: { vkey: string; key: string };
      to: { vkey: string; key: string };
    };
    expect(from.vkey).toBe(oldKey.vkey);
    expect(to.vkey).toMatch(VKEY_RE);
    expect(to.vkey).not.toBe(from.vkey);
    const events = await v.audit.list({ type: "log.key_rotated" });
    expect(events.map((e) => e.event)).toEqual([
      { type: "log.key_rotated", fromKey: from.key, toKey: to.key },
    ]);
    // The checkpoint that covers the rotation is signed by both keys.
    const after = await v.log.checkpoint({ refresh: false });
    const origin = await v.log.origin();
    for (const k of [from.vkey, to.vkey]) {
      expect(openCheckpoint(after, { origin, logVerifiers: [parseVerifierKey(k)] }).checkpoint.size).toBe(4);
    }
    expect(
      openCheckpoint(before, { origin, logVerifiers: [parseVerifierKey(from.vkey)] }).checkpoint.size,
    ).toBe(3);
    // Later checkpoints only by the new key.
    await v.subjects.add({ ref: "later" });
    const later = await v.log.checkpoint();
    expect(
      codeOfSync(() => openCheckpoint(later, { origin, logVerifiers: [parseVerifierKey(from.vkey)] })),
    ).toBe("CHECKPOINT_INVALID");
    const secrets = await querySql<{ name: string }>(
      sb,
      "SELECT name FROM vault_secrets WHERE name LIKE 'audit-log-signing/%'",
    );
    expect(secrets.map((s) => s.name)).toEqual([`audit-log-signing/${to.key.split("+")[1]}`]);
    const all = (await run("audit", "key", "--all")).stdout.trim().split("\n");
    expect(all).toHaveLength(2);
    expect(all[0]).toMatch(/ retired /);
    expect(all[1]).toMatch(/ active /);
    expect((await v.log.verify()).ok).toBe(true);
  });

  describe("audit verify names what was tampered with", () => {
    let ids: string[];
    beforeEach(async () => {
      ids = await populate(v, 4); // leaves 0..8
      await v.log.checkpoint();
      await v.subjects.revealRef(ids[0]!); // leaf 9, not yet checkpointed
      await v.close();
    });
    const verify = async () => {
      const r = await run("audit", "verify", "--json");
      const out = await run("audit", "verify");
      expect(out.code).toBe(r.code);
      return {
        code: r.code,
        stderr: r.stderr,
        report: JSON.parse(r.stdout) as {
          ok: boolean;
          problems: { kind: string; index?: number; message: string }[];
        },
        text: out.stdout,
      };
    };
    const reopen = async () => {
      v = await sb.open();
    };

    it("passes untouched", async () => {
      const r = await verify();
      expect(r.report.ok).toBe(true);
      expect(r.code).toBe(0);
      await reopen();
    });

    it("a changed event row", async () => {
      await attackerSql(sb, [
        "UPDATE audit_events SET payload = replace(payload, '\"size\":', '\"size\":1') WHERE leaf_index = 4",
      ]);
      const r = await verify();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error\[LOG_INCONSISTENT\]: audit log verification failed/);
      expect(r.report.problems).toContainEqual(expect.objectContaining({ kind: "event-changed", index: 4 }));
      expect(r.report.problems).toContainEqual(
        expect.objectContaining({
          kind: "checkpoint-mismatch",
          message: expect.stringMatching(/a leaf in \d+\.\.8 was changed/) as string,
        }),
      );
      expect(r.text).toMatch(/event-changed @4: leaf 4: event evt_\w+ no longer matches its logged leaf/);
      await reopen();
    });

    it("a deleted event row", async () => {
      await attackerSql(sb, ["DELETE FROM audit_events WHERE leaf_index = 6"]);
      const r = await verify();
      expect(r.report.problems).toEqual([
        expect.objectContaining({
          kind: "event-deleted",
          index: 6,
          message: "leaf 6: no event row records it (deleted or renumbered)",
        }),
      ]);
      await reopen();
    });

    it("inserted event rows", async () => {
      const row = (leaf: string, id: string) =>
        `INSERT INTO audit_events (id, at, type, actor, subject_id, payload, leaf_index, actor_id) VALUES ('${id}', '2030-01-01T00:00:00.000Z', 'blob.read', '{"id":"x","type":"cli"}', NULL, '{}', ${leaf}, 'cli:x')`;
      await attackerSql(sb, [
        row("NULL", "evt_inserted0000000000000000a"),
        row("10", "evt_inserted0000000000000000b"),
      ]);
      const r = await verify();
      expect(r.report.problems.map((p) => p.kind).sort()).toEqual(["event-inserted", "event-unlogged"]);
      expect(r.report.problems.find((p) => p.kind === "event-inserted")!.message).toMatch(
        /claims leaf 10, beyond the log's 10 leaves/,
      );
      await reopen();
    });

    it("reordered event rows", async () => {
      await attackerSql(sb, [
        "UPDATE audit_events SET leaf_index = 1000 WHERE leaf_index = 2",
        "UPDATE audit_events SET leaf_index = 2 WHERE leaf_index = 5",
        "UPDATE audit_events SET leaf_index = 5 WHERE leaf_index = 1000",
      ]);
      const r = await verify();
      const moved = r.report.problems.filter((p) => p.kind === "event-reordered");
      expect(moved).toContainEqual(
        expect.objectContaining({
          index: 2,
          message: expect.stringMatching(/was logged as leaf 5/) as string,
        }),
      );
      expect(moved).toContainEqual(
        expect.objectContaining({
          index: 5,
          message: expect.stringMatching(/was logged as leaf 2/) as string,
        }),
      );
      await reopen();
    });

    it("a rewritten tile", async () => {
      // Flip a byte of an interior node of tile 0/0 (position 2 = node (1,0)).
      const [tile] = await querySql<{ hashes: Buffer }>(
        sb,
        "SELECT hashes FROM tlog_tile WHERE level = 0 AND idx = 0",
      );
      const bytes = Buffer.from(tile!.hashes);
      bytes[64] = bytes[64]! ^ 0xff;
      const literal =
        backend.name === "sqlite" ? `X'${bytes.toString("hex")}'` : `'\\x${bytes.toString("hex")}'::bytea`;
      const flip = `UPDATE tlog_tile SET hashes = ${literal} WHERE level = 0 AND idx = 0`;
      await attackerSql(sb, [flip]);
      const r = await verify();
      expect(r.report.problems).toContainEqual(
        expect.objectContaining({
          kind: "tile-differs",
          message: "stored tile 0/0 differs from the tree recomputed from the events",
        }),
      );
      await reopen();
    });

    it("a checkpoint signed by another key", async () => {
      await reopen();
      const origin = await v.log.origin();
      await v.close();
      const forged = await signCheckpoint({ origin, size: 2, rootHash: new Uint8Array(32), extensions: [] }, [
        ed25519NoteSigner(origin, new Uint8Array(32).fill(9)),
      ]);
      await attackerSql(sb, [
        `INSERT INTO tlog_checkpoints (log_id, size, root_hash, signed_at, note) VALUES (1, 2, ${backend.name === "sqlite" ? "zeroblob(32)" : "'\\x" + "00".repeat(32) + "'::bytea"}, '2030-01-01T00:00:00.000Z', '${forged}')`,
      ]);
      const r = await verify();
      expect(r.report.problems).toEqual([
        expect.objectContaining({
          kind: "checkpoint-signature",
          message: expect.stringMatching(
            /^checkpoint 2 .*not signed by the log|^checkpoint 2 .*rejected/,
          ) as string,
        }),
      ]);
      await reopen();
    });

    it("a truncated log: refused at open while an anchor remembers it, named by verify once the anchors are gone too", async () => {
      await attackerSql(sb, [
        "DELETE FROM audit_events WHERE leaf_index >= 7",
        "DELETE FROM tlog_tile",
        "UPDATE tlog_state SET size = 7",
      ]);
      expect(await codeOf(sb.open())).toBe("LOG_INCONSISTENT");
      const refused = await run("audit", "verify");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /^error\[LOG_INCONSISTENT\]: the metadata holds 7 log leaves but checkpoint 9 was signed/,
      );
      const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as {
        vaultId: string;
      };
      rmSync(dataDirAnchor(sb.dataDir));
      rmSync(keyDirAnchor(defaultKeyFile(cfg.vaultId, sb.env), cfg.vaultId));
      const r = await verify();
      const kinds = new Set(r.report.problems.map((p) => p.kind));
      expect(kinds).toEqual(new Set(["truncated", "tile-differs", "root-differs"]));
      expect(r.report.problems).toContainEqual(
        expect.objectContaining({
          kind: "truncated",
          message: expect.stringMatching(
            /checkpoint 9 .* covers more leaves than the log's 7: leaves 7\.\.8 were removed/,
          ) as string,
        }),
      );
      await reopen();
    });
  });

  it("refuses a restored older database instead of forking the log", async () => {
    await populate(v, 1);
    await v.log.checkpoint();
    await v.close();
    const snapshot = await snapshotDb(sb);
    v = await sb.open();
    await populate(v, 2);
    await v.log.checkpoint();
    await v.close();
    await snapshot.restore();
    expect(await codeOf(sb.open())).toBe("LOG_INCONSISTENT");

    // With every anchor gone too, the restored copy opens; if it then grows a different tree
    // and the old anchor comes back, the fork is detected.
    const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as { vaultId: string };
    const anchors = [
      dataDirAnchor(sb.dataDir),
      keyDirAnchor(defaultKeyFile(cfg.vaultId, sb.env), cfg.vaultId),
    ];
    for (const a of anchors) renameSync(a, `${a}.saved`);
    v = await sb.open();
    await populate(v, 3);
    await v.log.checkpoint();
    await v.close();
    for (const a of anchors) renameSync(`${a}.saved`, a);
    const forked = await codeOf(sb.open());
    expect(forked).toBe("LOG_INCONSISTENT");
    // The documented limit: with every anchor removed, nothing on this host remembers the
    // older log (witnesses do: test/audit/witness.test.ts).
    for (const a of anchors) rmSync(a);
    v = await sb.open();
  });
});
