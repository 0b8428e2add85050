/**
 * Vaults from before the transparency log (migration 0002): their events become the first leaves,
 * in their original order, the first time the vault opens; the append-only trigger allows exactly
 * that one assignment.
 */
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dataDirAnchor, keyDirAnchor } from "../../src/audit/anchor.js";
import { defaultKeyFile } from "../../src/keys/key-file.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { attackerSql, querySql } from "./helpers.js";

/** Runs one statement with the triggers in force. */
async function plainSql(sb: Sandbox, q: string): Promise<void> {
  if (sb.backend.name === "sqlite") {
    const { default: Db } = await import("better-sqlite3");
    const db = new Db(path.join(sb.dataDir, "meta.sqlite"));
    try {
      db.exec(q);
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: sb.backend.pgUrl });
  await c.connect();
  try {
    await c.query(`SET search_path = ${sb.schema}; ${q}`);
  } finally {
    await c.end();
  }
}

describe.each(BACKENDS)("a vault from before the log ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  beforeEach(async () => {
    sb = sandbox(backend);
    v = await sb.init();
  });
  afterEach(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("the append-only trigger allows a pre-log row its leaf index once, and nothing else", async () => {
    await v.close();
    const row = (id: string) =>
      `INSERT INTO audit_events (id, at, type, actor, subject_id, payload) VALUES ('${id}', '2020-01-01T00:00:00.000Z', 'subject.looked_up', '{"id":"x","type":"cli"}', 'sub_a', '{"subjectId":"sub_a"}')`;
    await plainSql(sb, row("evt_legacy"));
    await expect(
      plainSql(sb, "UPDATE audit_events SET leaf_index = 99, payload = '{}' WHERE id = 'evt_legacy'"),
    ).rejects.toThrow(/append-only/);
    await expect(
      plainSql(sb, "UPDATE audit_events SET leaf_index = 99, subject_id = NULL WHERE id = 'evt_legacy'"),
    ).rejects.toThrow(/append-only/);
    await plainSql(sb, "UPDATE audit_events SET leaf_index = 99, actor_id = 'cli:x' WHERE id = 'evt_legacy'");
    await expect(
      plainSql(sb, "UPDATE audit_events SET leaf_index = 100 WHERE id = 'evt_legacy'"),
    ).rejects.toThrow(/append-only/);
    await expect(
      plainSql(sb, "UPDATE audit_events SET actor_id = 'cli:y' WHERE id = 'evt_legacy'"),
    ).rejects.toThrow(/append-only/);
    await expect(
      plainSql(sb, "UPDATE audit_events SET leaf_index = NULL WHERE leaf_index = 0"),
    ).rejects.toThrow(/append-only/);
    await expect(plainSql(sb, "DELETE FROM tlog_checkpoints")).rejects.toThrow(/append-only/);
    await expect(plainSql(sb, "UPDATE tlog_checkpoints SET note = 'x'")).rejects.toThrow(/append-only/);
    // The row stays outside the log, and verify says so.
    v = await sb.open();
    const r = await v.log.verify();
    expect(r.problems.map((p) => p.kind)).toEqual(["event-inserted"]);
  });

  it("gets leaves for its old events in their order at the next open, then logs as usual", async () => {
    for (let i = 0; i < 4; i++) await v.subjects.add({ ref: `old-${i}` });
    await v.close();
    const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as { vaultId: string };
    // What migration 0002 leaves behind in a vault that had events: no leaves, no log state.
    await attackerSql(sb, [
      "UPDATE audit_events SET leaf_index = NULL, actor_id = NULL",
      "DELETE FROM tlog_tile",
      "DELETE FROM tlog_state",
      "DELETE FROM tlog_checkpoints",
      "DELETE FROM tlog_keys",
      "DELETE FROM vault_secrets WHERE name LIKE 'audit-log-%'",
    ]);
    rmSync(dataDirAnchor(sb.dataDir));
    rmSync(keyDirAnchor(defaultKeyFile(cfg.vaultId, sb.env), cfg.vaultId));
    v = await sb.open();
    const events = await v.audit.list();
    expect(events.map((e) => e.leafIndex)).toEqual([0, 1, 2, 3, 4]);
    expect((await v.log.size()).checkpointSize).toBe(5);
    const actors = await querySql<{ actor_id: string }>(sb, "SELECT actor_id FROM audit_events ORDER BY seq");
    expect(actors.every((a) => a.actor_id.startsWith("cli:uid:"))).toBe(true);
    await v.subjects.add({ ref: "new" });
    expect((await v.audit.list()).map((e) => e.leafIndex)).toEqual([0, 1, 2, 3, 4, 5]);
    const r = await v.log.verify();
    expect(r.problems).toEqual([]);
    expect(r.anchors).toBe(2);
  });
});
