import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { epochEnd, epochFor } from "../../src/vault/retention-keys.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";

const DAY = 86_400_000;

describe("retention epochs", () => {
  it("round expiry up to the end of the UTC day", () => {
    expect(epochFor(new Date("2026-03-04T23:59:59Z"))).toBe("20260304");
    expect(epochEnd("20260304").toISOString()).toBe("2026-03-05T00:00:00.000Z");
    expect(epochEnd("20261231").toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });
});

describe.each(BACKENDS)("retention-bound blobs ($name)", (backend) => {
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

  it("are readable until their epoch ends, then cryptographically erased by the sweep", async () => {
    const s = await v.subjects.add({ ref: "r" });
    const data = randomBytes(20_000);
    const kept = await v.blobs.put({
      subjectId: s.id,
      kind: "raw",
      data: [data],
      retention: { expiresAt: new Date(Date.now() + DAY) },
    });
    const forever = await v.blobs.put({ subjectId: s.id, kind: "quality", data: [Buffer.from("{}")] });
    expect(kept.retentionEpoch).toMatch(/^\d{8}$/);
    expect((await collectBytes((await v.blobs.read(kept.id)).stream)).equals(data)).toBe(true);
    expect(
      await codeOf(
        v.blobs.put({
          subjectId: s.id,
          kind: "raw",
          data: [data],
          retention: { expiresAt: new Date(Date.now() - 2 * DAY) },
        }),
      ),
    ).toBe("INVALID_ARGUMENT");
    // rotation keeps retention-bound blobs readable
    await v.keys.rotateSubject(s.id);
    expect((await collectBytes((await v.blobs.read(kept.id)).stream)).equals(data)).toBe(true);
    expect(await v.subjects.keyVersions(s.id)).toEqual([2]);

    expect((await v.retention.sweep()).epochsDestroyed).toEqual([]); // nothing due yet
    await v.close();
    const later = new Date(Date.now() + 3 * DAY);
    v = await sb.open({ now: () => later });
    expect(await codeOf(v.blobs.read(kept.id))).toBe("RETENTION_EXPIRED");
    const before = await v.keys.status();
    const report = await v.retention.sweep();
    expect(report.epochsDestroyed).toEqual([kept.retentionEpoch]);
    expect(report.blobsRemoved).toBe(1);
    expect(report.puncturedPoints).toBe(1);
    const status = await v.keys.status();
    // the epoch's root point is punctured in the log and on this host; the root generation stays
    expect(status.punctureSeq).toBe(before.punctureSeq + 1);
    expect(status.provider.appliedSeq).toBe(status.punctureSeq);
    expect(status.activeGeneration).toBe(before.activeGeneration);
    expect(status.secrets.some((x) => x.name.startsWith("retention-epoch/"))).toBe(false);
    expect(await codeOf(v.blobs.read(kept.id))).toBe("BLOB_NOT_FOUND");
    expect((await collectBytes((await v.blobs.read(forever.id)).stream)).toString()).toBe("{}");
    expect(await v.subjects.get(s.id)).toMatchObject({ blobCount: 1 });
    const types = (await v.audit.list()).map((e) => e.event.type);
    expect(types).toContain("retention.expired");
    expect(types).toContain("keys.retention_epochs_destroyed");
    expect((await v.retention.sweep()).epochsDestroyed).toEqual([]);
  });
});
