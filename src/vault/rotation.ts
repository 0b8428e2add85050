/**
 * Root rotation with post-compromise security (docs/architecture.md §Rotation).
 *
 * An attacker who copied a key file and a database before the rotation holds: every root
 * generation of that key file, every subject key and vault secret of that copy, and the host key
 * of that key file. After `rotateRoot` completes, nothing of that opens anything written after it
 * nor any key of the current state:
 *   1. start (one transaction): a new generation from fresh randomness becomes active; every vault
 *      secret is rewrapped under it; the secrets that would let the attacker act — the reference
 *      index keys, the certificate signing key, the TLS key, the log signing key — are replaced;
 *      this host gets a new host key; the new generation is sealed to the other approved hosts'
 *      current host keys only (revoke a host first if its key file was copied);
 *   2. every subject gets a new key version under the new generation and its data keys, sealed
 *      reference and index entry move to it (one transaction per subject: resumable, bounded
 *      memory, progress);
 *   3. finish: no key remains under the old generation, the old index keys are punctured, and the
 *      old generation is retired — kept only to restore backups made before the rotation, until
 *      `keys destroy-generation` (or never used again if the compromise makes them worthless).
 * Running it again while a rotation is under way resumes it.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { recordEvent } from "../audit/record.js";
import { randomBytes, toBase64, wipe } from "../crypto/bytes.js";
import { ed25519PrivateKey, ed25519RawPublicKey } from "../crypto/ed25519.js";
import { hostKeyFingerprint } from "../crypto/host-seal.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import { CERT_SECRET } from "./certificates.js";
import type { VaultDeps } from "./deps.js";
import type { KeyService } from "./keys.js";
import { ROTATION_META, rotationState, type RotationState } from "./keys.js";
import { bucketsInUse, REF_SELECTOR_SECRET, renewBucketKey, retireBucketKeys } from "./refs.js";
import { appliedSeqIn, punctureLogId, sealToHost, syncRoot } from "./root-sync.js";
import { CERT_PUBLIC_KEY_META, CERT_RETIRED_KEYS_META, retiredCertificateKeys } from "./shred.js";
import { RATE_LIMIT_SECRET, TLS_CERT_FILE, TLS_SECRET } from "./secret-names.js";

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "tree" | "provider" | "actor" | "now"> & {
  readonly dataDir: string;
  readonly keys: Pick<KeyService, "rotateSubject" | "subjectsOutside">;
  readonly rotateLogKey: () => Promise<unknown>;
  readonly sweepRetention: () => Promise<unknown>;
};

export interface RootRotation {
  readonly fromGeneration: number;
  readonly toGeneration: number;
  readonly resumed: boolean;
  readonly subjectsRotated: number;
  readonly secretsRotated: readonly string[];
}

export interface RotationProgress {
  readonly phase: "start" | "subjects" | "finish";
  readonly subjectsDone: number;
  readonly subjectsLeft: number;
}

async function countOutside(db: MetaDb, generation: number): Promise<number> {
  const r = await db
    .selectFrom("subject_keys")
    .innerJoin("subjects", "subjects.id", "subject_keys.subject_id")
    .select((eb) => eb.fn.count<number>("subjects.id").distinct().as("n"))
    .where("subjects.status", "!=", "shredded")
    .where((eb) =>
      eb.or([
        eb("subject_keys.root_generation", "is", null),
        eb("subject_keys.root_generation", "!=", generation),
      ]),
    )
    .executeTakeFirstOrThrow();
  return r.n;
}

/** Replaces the certificate signing key; the old public key stays published as retired. */
async function rotateCertificateKey(deps: Deps, trx: MetaDb): Promise<void> {
  const current = await trx
    .selectFrom("vault_meta")
    .select("value")
    .where("key", "=", CERT_PUBLIC_KEY_META)
    .executeTakeFirstOrThrow();
  const retired = [...(await retiredCertificateKeys(trx)).map(toBase64), current.value];
  const seed = randomBytes(32);
  const publicKey = toBase64(ed25519RawPublicKey(ed25519PrivateKey(seed)));
  const old = (await deps.tree.secretVersions(trx, CERT_SECRET)).map((s) => {
    wipe(s.value);
    return s.version;
  });
  const version = await deps.tree.createSecret(trx, CERT_SECRET, seed);
  wipe(seed);
  await deps.tree.deleteSecret(trx, CERT_SECRET, old);
  await trx
    .updateTable("vault_meta")
    .set({ value: publicKey })
    .where("key", "=", CERT_PUBLIC_KEY_META)
    .execute();
  await trx.deleteFrom("vault_meta").where("key", "=", CERT_RETIRED_KEYS_META).execute();
  await trx
    .insertInto("vault_meta")
    .values({ key: CERT_RETIRED_KEYS_META, value: JSON.stringify(retired) })
    .execute();
  await recordEvent(trx, deps.actor, { type: "keys.secret_rotated", name: CERT_SECRET, version });
}

async function start(deps: Deps): Promise<{ state: RotationState; secrets: string[] }> {
  return deps.meta.write(async (trx) => {
    await syncRoot(deps, trx); // every puncture applied before the new generation is sealed anywhere
    const from = await deps.tree.activeGeneration(trx);
    const max = await trx
      .selectFrom("root_generations")
      .select((eb) => eb.fn.max("generation").as("g"))
      .executeTakeFirstOrThrow();
    // never reuse a number any host may hold (a restore can forget generations made since the copy)
    const to = Math.max(max.g, ...(await deps.provider.generations())) + 1;
    const at = deps.now().toISOString();
    await deps.provider.createGeneration(to);
    await trx
      .updateTable("root_generations")
      .set({ status: "retiring" })
      .where("generation", "=", from)
      .execute();
    await trx
      .insertInto("root_generations")
      .values({
        generation: to,
        status: "active",
        check_value: Buffer.from(await deps.provider.checkValue(to)),
        created_at: at,
        retired_at: null,
        destroyed_at: null,
      })
      .execute();
    await deps.tree.rewrapSecrets(trx, to);

    const secrets: string[] = [];
    // reference index: a new selector (the old one stays until finish, for lookups) and new bucket keys
    const selector = randomBytes(32);
    const sv = await deps.tree.createSecret(trx, REF_SELECTOR_SECRET, selector);
    wipe(selector);
    for (const b of await bucketsInUse(trx)) await renewBucketKey(trx, deps.tree, b);
    await recordEvent(trx, deps.actor, {
      type: "keys.secret_rotated",
      name: REF_SELECTOR_SECRET,
      version: sv,
    });
    secrets.push(REF_SELECTOR_SECRET);
    await rotateCertificateKey(deps, trx);
    secrets.push(CERT_SECRET);
    // TLS: the key goes; `serve` makes a new certificate and key at its next start
    await deps.tree.deleteSecret(trx, TLS_SECRET);
    secrets.push(TLS_SECRET);
    // rate-limit buckets are named by keyed hashes of client addresses: a new key, empty buckets
    await deps.tree.deleteSecret(trx, RATE_LIMIT_SECRET);
    await trx.deleteFrom("rate_limits").execute();
    secrets.push(RATE_LIMIT_SECRET);

    // this host's key: the copied key file must not open what is sealed from now on
    const dist = deps.provider.distribution;
    if (dist) {
      const pub = await dist.rotateHostKey();
      await trx
        .updateTable("key_hosts")
        .set({ public_key: Buffer.from(pub) })
        .where("id", "=", deps.provider.hostId)
        .execute();
      await recordEvent(trx, deps.actor, {
        type: "keys.host_key_rotated",
        hostId: deps.provider.hostId,
        fingerprint: hostKeyFingerprint(pub),
      });
      const seq = await appliedSeqIn(deps.provider, await punctureLogId(trx));
      const others = await trx
        .selectFrom("key_hosts")
        .select(["id", "public_key"])
        .where("status", "=", "approved")
        .where("id", "!=", deps.provider.hostId)
        .execute();
      for (const h of others) await sealToHost(trx, dist, h, to, seq, at);
    }
    const state: RotationState = { fromGeneration: from, toGeneration: to, startedAt: at };
    await trx
      .insertInto("vault_meta")
      .values({ key: ROTATION_META, value: JSON.stringify(state) })
      .execute();
    await recordEvent(trx, deps.actor, {
      type: "keys.root_rotation_started",
      fromGeneration: from,
      toGeneration: to,
      secretsRotated: secrets,
    });
    return { state, secrets };
  });
}

async function finish(deps: Deps, state: RotationState, subjects: number): Promise<void> {
  await deps.meta.write(async (trx) => {
    const left = await countOutside(trx, state.toGeneration);
    const secretsLeft = await trx
      .selectFrom("vault_secrets")
      .select("name")
      .where((eb) =>
        eb.or([eb("root_generation", "is", null), eb("root_generation", "!=", state.toGeneration)]),
      )
      .executeTakeFirst();
    if (left > 0 || secretsLeft) {
      throw new VaultError(
        "INTERNAL",
        `root rotation: ${left} subjects still hold keys of an older generation`,
      );
    }
    const at = deps.now().toISOString();
    // the old index keys: only the newest selector and bucket-key versions stay
    const selectors = (await deps.tree.secretVersions(trx, REF_SELECTOR_SECRET)).map((s) => {
      wipe(s.value);
      return s.version;
    });
    await deps.tree.deleteSecret(trx, REF_SELECTOR_SECRET, selectors.slice(0, -1));
    const points: number[] = [];
    for (const b of await bucketsInUse(trx)) points.push(...(await retireBucketKeys(trx, deps.tree, b)));
    await deps.tree.recordPunctures(trx, points, "keys.root_rotated", at);
    await trx
      .updateTable("root_generations")
      .set({ status: "retired", retired_at: at })
      .where("status", "=", "retiring")
      .execute();
    await trx.deleteFrom("vault_meta").where("key", "=", ROTATION_META).execute();
    await recordEvent(trx, deps.actor, {
      type: "keys.root_generation_rotated",
      fromGeneration: state.fromGeneration,
      toGeneration: state.toGeneration,
      subjects,
    });
  });
  await deps.meta.write((trx) => syncRoot(deps, trx));
}

export function createRotationService(deps: Deps) {
  return {
    async rotateRoot(onProgress?: (p: RotationProgress) => void): Promise<RootRotation> {
      let state = await rotationState(deps.meta.db);
      const resumed = state !== null;
      let secrets: string[] = [];
      if (!state) ({ state, secrets } = await start(deps));
      if (!state.outsideDone) {
        // steps outside the transaction, redone on resume until recorded as done
        await fs.rm(path.join(deps.dataDir, TLS_CERT_FILE), { force: true });
        await deps.rotateLogKey();
        state = { ...state, outsideDone: true };
        const value = JSON.stringify(state);
        await deps.meta.write((trx) =>
          trx.updateTable("vault_meta").set({ value }).where("key", "=", ROTATION_META).execute(),
        );
      }
      const total = await countOutside(deps.meta.db, state.toGeneration);
      onProgress?.({ phase: "start", subjectsDone: 0, subjectsLeft: total });
      let done = 0;
      // Expired retention-bound blobs pin old subject-key versions; erase them first (and again if
      // an epoch ends while the rotation runs).
      for (let attempt = 0; attempt < 3; attempt++) {
        await deps.sweepRetention();
        let after = "";
        for (;;) {
          const page = await deps.keys.subjectsOutside(state.toGeneration, after, 100);
          if (page.length === 0) break;
          for (const id of page) {
            if (await deps.keys.rotateSubject(id)) done++;
            onProgress?.({ phase: "subjects", subjectsDone: done, subjectsLeft: Math.max(0, total - done) });
          }
          after = page[page.length - 1]!;
        }
        if ((await countOutside(deps.meta.db, state.toGeneration)) === 0) break;
      }
      onProgress?.({ phase: "finish", subjectsDone: done, subjectsLeft: 0 });
      await finish(deps, state, done);
      return {
        fromGeneration: state.fromGeneration,
        toGeneration: state.toGeneration,
        resumed,
        subjectsRotated: done,
        secretsRotated: secrets,
      };
    },
  };
}

export type RotationService = ReturnType<typeof createRotationService>;
