/**
 * Group commit of read events: concurrent reads share write transactions, every read is answered
 * only after its own event is committed, and a failed batch fails every read in it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReadEventRecorder } from "../../src/server/read-events.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { eventsOf } from "./helpers.js";
import { internalsOf } from "../../src/platform/vault.js";

describe.each(BACKENDS)("read events ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  beforeAll(async () => {
    sb = sandbox(backend);
    v = await sb.init();
  });
  afterAll(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("commits 60 concurrent reads in fewer transactions, each before its read resolves", async () => {
    const record = createReadEventRecorder();
    const meta = internalsOf(v).meta;
    const write = meta.write.bind(meta);
    let transactions = 0;
    // Counts the recorder's transactions on the real store (nothing is faked).
    meta.write = ((fn: Parameters<typeof write>[0]) => {
      transactions++;
      return write(fn);
    }) as typeof meta.write;
    try {
      const before = (await eventsOf(v, "access.granted")).length;
      const resolvedWith: number[] = [];
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          record(v, { type: "access.granted", action: "subject.list", resource: `Vault:read-${i}` }).then(
            async () => {
              // Committed by the time the read goes on: visible to a fresh query.
              const all = await eventsOf(v, "access.granted");
              resolvedWith.push(all.filter((e) => e.resource === `Vault:read-${i}`).length);
            },
          ),
        ),
      );
      expect(resolvedWith).toEqual(Array.from({ length: 60 }, () => 1));
      expect((await eventsOf(v, "access.granted")).length).toBe(before + 60);
      expect(transactions).toBeGreaterThanOrEqual(1);
      expect(transactions).toBeLessThan(60);
    } finally {
      meta.write = write;
    }
  });

  it("fails every read of a batch whose transaction fails, and records none of them", async () => {
    const record = createReadEventRecorder();
    const meta = internalsOf(v).meta;
    const write = meta.write.bind(meta);
    meta.write = (fn: Parameters<typeof write>[0]) =>
      write(async (trx) => {
        await fn(trx);
        throw new Error("disk full");
      });
    const before = (await eventsOf(v, "access.granted")).length;
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          record(v, { type: "access.granted", action: "subject.list", resource: `Vault:failed-${i}` }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array.from({ length: 5 }, () => "rejected"));
    } finally {
      meta.write = write;
    }
    expect((await eventsOf(v, "access.granted")).length).toBe(before);
    // The recorder works again afterwards.
    await record(v, { type: "access.granted", action: "subject.list", resource: "Vault:after" });
    expect((await eventsOf(v, "access.granted")).length).toBe(before + 1);
  });

  it("records one event per principal, action and resource per window", async () => {
    let t = 1_000_000;
    const record = createReadEventRecorder({ windowMs: 60_000, now: () => t });
    const read = (resource: string) =>
      record(v, { type: "access.granted", action: "consent.read", resource });
    const count = async (resource: string) =>
      (await eventsOf(v, "access.granted")).filter((e) => e.resource === resource).length;
    await read("Subject:windowed");
    await read("Subject:windowed");
    t += 59_000;
    await read("Subject:windowed");
    expect(await count("Subject:windowed")).toBe(1);
    await read("Subject:other");
    expect(await count("Subject:other")).toBe(1);
    // Another principal reading the same resource is its own access.
    const other = v.withActor({ type: "principal", id: "prn_other", role: "auditor" });
    await record(other, { type: "access.granted", action: "consent.read", resource: "Subject:windowed" });
    expect(await count("Subject:windowed")).toBe(2);
    t += 2_000; // past the first event's window
    await read("Subject:windowed");
    expect(await count("Subject:windowed")).toBe(3);
  });
});
