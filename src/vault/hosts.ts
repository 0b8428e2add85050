/**
 * Hosts of a vault (docs/architecture.md §Several hosts). Each host holds its own root provider
 * (a key file) and a host key pair; the vault lists hosts with their public keys. A new host
 * joins with a pending row and no root material; an approved host that checked the fingerprint
 * out of band approves it, sealing every live generation to its public key; the new host picks
 * them up at its next sync. No key file is ever copied between hosts.
 */
import os from "node:os";
import { recordEvent } from "../audit/record.js";
import { hostKeyFingerprint } from "../crypto/host-seal.js";
import { VaultError } from "../errors.js";
import { parseId } from "../ids.js";
import type { DialectDriver } from "../store/meta/index.js";
import type { KeyHostStatus } from "../store/meta/schema.js";
import type { VaultDeps } from "./deps.js";
import {
  appliedSeqIn,
  latestPunctureSeq,
  liveGenerations,
  punctureLogId,
  sealToHost,
  syncRoot,
} from "./root-sync.js";

export interface HostInfo {
  readonly id: string;
  readonly name: string;
  readonly status: KeyHostStatus;
  readonly fingerprint: string;
  readonly createdAt: string;
  readonly approvedAt: string | null;
  readonly revokedAt: string | null;
  /** Puncture log position the host applied, and how many punctures it is behind. */
  readonly appliedSeq: number;
  readonly behind: number;
  readonly generations: readonly number[];
  readonly lastSeen: string | null;
  readonly self: boolean;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The machine's host name, made a valid host name ("host" if nothing is left). */
export function defaultHostName(): string {
  return (
    os
      .hostname()
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .replace(/^[^A-Za-z0-9]+/, "")
      .slice(0, 63) || "host"
  );
}

export function checkHostName(name: string): string {
  if (!NAME_RE.test(name))
    throw new VaultError("INVALID_ARGUMENT", "host name must match [A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  return name;
}

type Deps = Pick<VaultDeps, "meta" | "tree" | "provider" | "actor" | "now">;

export function createHostService(deps: Deps) {
  async function load(id: string) {
    const hostId = parseId("hst", id, "host id");
    const row = await deps.meta.db
      .selectFrom("key_hosts")
      .selectAll()
      .where("id", "=", hostId)
      .executeTakeFirst();
    if (!row) throw new VaultError("NOT_FOUND", `no host ${hostId}`);
    return row;
  }

  return {
    async list(): Promise<HostInfo[]> {
      const db = deps.meta.db;
      const latest = await latestPunctureSeq(db);
      const rows = await db.selectFrom("key_hosts").selectAll().orderBy("created_at").execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        status: r.status,
        fingerprint: hostKeyFingerprint(r.public_key),
        createdAt: r.created_at,
        approvedAt: r.approved_at,
        revokedAt: r.revoked_at,
        appliedSeq: r.applied_seq,
        behind: r.status === "approved" ? Math.max(0, latest - r.applied_seq) : 0,
        generations: JSON.parse(r.generations) as number[],
        lastSeen: r.last_seen,
        self: r.id === deps.provider.hostId,
      }));
    },

    /**
     * Approves a pending host whose key fingerprint the operator compared out of band: every live
     * generation, as punctured now, is sealed to its public key.
     */
    async approve(id: string, fingerprint: string): Promise<HostInfo> {
      const dist = deps.provider.distribution;
      if (!dist)
        throw new VaultError(
          "INVALID_ARGUMENT",
          "this root provider is shared by all hosts: nothing to approve",
        );
      await deps.meta.write(async (trx) => {
        await syncRoot(deps, trx); // seal the newest punctured state
        const row = await trx
          .selectFrom("key_hosts")
          .selectAll()
          .where("id", "=", parseId("hst", id, "host id"))
          .executeTakeFirst();
        if (!row) throw new VaultError("NOT_FOUND", `no host ${id}`);
        if (row.status !== "pending")
          throw new VaultError("INVALID_ARGUMENT", `host ${row.id} is ${row.status}, not pending`);
        const actual = hostKeyFingerprint(row.public_key);
        if (fingerprint.toLowerCase() !== actual) {
          throw new VaultError(
            "INVALID_ARGUMENT",
            `fingerprint mismatch: host ${row.id} presents ${actual}; do not approve a key you have not compared`,
          );
        }
        const live = await liveGenerations(trx);
        const held = new Set(await deps.provider.generations());
        const seq = await appliedSeqIn(deps.provider, await punctureLogId(trx));
        const at = deps.now().toISOString();
        const sent: number[] = [];
        for (const g of live) {
          if (!held.has(g)) continue;
          await sealToHost(trx, dist, row, g, seq, at);
          sent.push(g);
        }
        await trx
          .updateTable("key_hosts")
          .set({ status: "approved", approved_at: at })
          .where("id", "=", row.id)
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "keys.host_approved",
          hostId: row.id,
          fingerprint: actual,
          generations: sent,
        });
      });
      return (await this.list()).find((h) => h.id === id)!;
    },

    /**
     * Revokes a host: it receives nothing sealed from now on and cannot open the vault. Its key
     * file still holds the generations it had; after a suspected copy, rotate the root next.
     */
    async revoke(id: string): Promise<void> {
      const row = await load(id);
      if (row.id === deps.provider.hostId)
        throw new VaultError("INVALID_ARGUMENT", "a host cannot revoke itself");
      await deps.meta.write(async (trx) => {
        await trx.deleteFrom("key_distributions").where("host_id", "=", row.id).execute();
        await trx
          .updateTable("key_hosts")
          .set({ status: "revoked", revoked_at: deps.now().toISOString() })
          .where("id", "=", row.id)
          .execute();
        await recordEvent(trx, deps.actor, { type: "keys.host_revoked", hostId: row.id });
      });
    },
  };
}

export type HostService = ReturnType<typeof createHostService>;

/**
 * Registers a new host (pending) for the key file that `provider` just created. Written without
 * an audit event: a pending host holds nothing and can do nothing; the approval is the audited
 * act, by a host that can write the log.
 */
export async function registerPendingHost(
  driver: DialectDriver,
  host: { id: string; name: string; publicKey: Uint8Array; at: string },
): Promise<void> {
  await driver.write(async (trx) => {
    await trx
      .insertInto("key_hosts")
      .values({
        id: host.id,
        name: checkHostName(host.name),
        public_key: Buffer.from(host.publicKey),
        status: "pending",
        created_at: host.at,
        approved_at: null,
        revoked_at: null,
        applied_seq: 0,
        generations: "[]",
        last_seen: null,
      })
      .execute();
  });
}
