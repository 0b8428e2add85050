import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";

function objectPath(dataDir: string, blobId: string): string {
  return path.join(dataDir, "blobs", "objects", blobId.slice(4, 6), blobId);
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

describe.each(BACKENDS)("subjects and blobs ($name)", (backend) => {
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

  it("adds subjects with unique references per tenant and finds them by reference", async () => {
    const a = await v.subjects.add({ ref: "ana@example.org" });
    expect(a.id).toMatch(/^sub_[0-9a-z]{26}$/);
    expect(await codeOf(v.subjects.add({ ref: "ana@example.org" }))).toBe("SUBJECT_EXISTS");
    // NFC and NFD spellings are the same reference
    const nfc = await v.subjects.add({ ref: "Zoë" });
    expect(await codeOf(v.subjects.add({ ref: "Zoe\u0308" }))).toBe("SUBJECT_EXISTS");
    const otherTenant = await v.subjects.add({ ref: "ana@example.org", tenant: "acme" });
    expect(otherTenant.tenant).toBe("acme");
    expect((await v.subjects.findByRef("ana@example.org"))?.id).toBe(a.id);
    expect((await v.subjects.findByRef("ana@example.org", "acme"))?.id).toBe(otherTenant.id);
    expect(await v.subjects.findByRef("nobody")).toBeUndefined();
    expect(await v.subjects.revealRef(nfc.id)).toBe("Zoë");
    const listed = await v.subjects.list();
    expect(listed.map((s) => s.id).sort()).toEqual([a.id, nfc.id, otherTenant.id].sort());
    expect((await v.subjects.list({ tenant: "acme" })).map((s) => s.id)).toEqual([otherTenant.id]);
    const page1 = await v.subjects.list({ limit: 2 });
    const page2 = await v.subjects.list({ limit: 2, after: page1[1]!.id });
    expect([...page1, ...page2].map((s) => s.id)).toEqual(listed.map((s) => s.id));
    const types = (await v.audit.list()).map((e) => e.event.type);
    expect(types.filter((t) => t === "subject.created")).toHaveLength(3);
    expect(types).toContain("subject.reference_revealed");
    expect(types.filter((t) => t === "subject.looked_up")).toHaveLength(2);
  });

  it("rejects malformed input with INVALID_ARGUMENT and unknown ids with NOT_FOUND", async () => {
    for (const ref of ["", " padded", "line\nbreak", "x".repeat(513)]) {
      expect(await codeOf(v.subjects.add({ ref }))).toBe("INVALID_ARGUMENT");
    }
    expect(await codeOf(v.subjects.add({ ref: "a", tenant: "../etc" }))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(v.subjects.get("../../etc/passwd"))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(v.subjects.get("sub_00000000000000000000000000"))).toBe("SUBJECT_NOT_FOUND");
    expect(await codeOf(v.blobs.read("blb_00000000000000000000000000"))).toBe("BLOB_NOT_FOUND");
    expect(await codeOf(v.blobs.read("blb_/../../x"))).toBe("INVALID_ARGUMENT");
    const s = await v.subjects.add({ ref: "k" });
    expect(await codeOf(v.blobs.put({ subjectId: s.id, kind: "Raw Audio", data: [new Uint8Array(1)] }))).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("stores blobs as ciphertext under random names and reads them back, whole and by range", async () => {
    const s = await v.subjects.add({ ref: "carla@example.org" });
    const data = randomBytes(300_000);
    const info = await v.blobs.put({
      subjectId: s.id,
      kind: "raw",
      data: [data.subarray(0, 1000), data.subarray(1000)],
    });
    expect(info.plaintextSize).toBe(data.length);
    expect(info.size).toBe(statSync(objectPath(sb.dataDir, info.id)).size);
    const back = await v.blobs.read(info.id);
    expect((await collectBytes(back.stream)).equals(data)).toBe(true);
    const part = await v.blobs.read(info.id, { start: 70_000, end: 200_001 });
    expect((await collectBytes(part.stream)).equals(data.subarray(70_000, 200_001))).toBe(true);
    expect(await codeOf(v.blobs.read(info.id, { start: 5, end: data.length + 1 }))).toBe(
      "BLOB_RANGE_INVALID",
    );
    expect(await v.subjects.get(s.id)).toMatchObject({ blobCount: 1 });
    // Nothing in the data directory names the subject or holds plaintext.
    const needle = data.subarray(5000, 5032);
    for (const f of allFiles(sb.dataDir)) {
      expect(f.includes(s.id)).toBe(false);
      const bytes = readFileSync(f);
      expect(bytes.includes(needle), f).toBe(false);
      expect(bytes.includes(Buffer.from("carla@example.org")), f).toBe(false);
    }
    const events = (await v.audit.list({ subjectId: s.id })).map((e) => e.event);
    expect(events.map((e) => e.type)).toEqual(["subject.created", "blob.written", "blob.read", "blob.read"]);
    expect(events[3]).toMatchObject({ type: "blob.read", start: 70_000, end: 200_001 });
    expect(JSON.stringify(events)).not.toContain("carla");
  });

  it("detects damaged, truncated, extended and swapped objects with specific errors", async () => {
    const a = await v.subjects.add({ ref: "a" });
    const b = await v.subjects.add({ ref: "b" });
    const blobA = await v.blobs.put({ subjectId: a.id, kind: "raw", data: [randomBytes(200_000)] });
    const blobB = await v.blobs.put({ subjectId: b.id, kind: "raw", data: [randomBytes(200_000)] });
    const pa = objectPath(sb.dataDir, blobA.id);
    const pb = objectPath(sb.dataDir, blobB.id);
    const readAll = async (id: string) => collectBytes((await v.blobs.read(id)).stream);
    const original = readFileSync(pa);

    const flipped = Buffer.from(original);
    flipped[70_000] = flipped[70_000]! ^ 1;
    writeFileSync(pa, flipped);
    expect(await codeOf(readAll(blobA.id))).toBe("BLOB_SEGMENT_CORRUPT");

    writeFileSync(pa, original);
    truncateSync(pa, original.length - 10);
    expect(await codeOf(readAll(blobA.id))).toBe("BLOB_TRUNCATED");
    expect(
      await codeOf(async () => collectBytes((await v.blobs.read(blobA.id, { start: 0, end: 10 })).stream)),
    ).toBe("BLOB_TRUNCATED");

    writeFileSync(pa, Buffer.concat([original, Buffer.from("more")]));
    expect(await codeOf(readAll(blobA.id))).toBe("BLOB_TRAILING_DATA");

    // B's object put in A's place: sealed under another key for another subject.
    writeFileSync(pa, readFileSync(pb));
    expect(await codeOf(readAll(blobA.id))).toBe("BLOB_WRONG_KEY");

    renameSync(pb, pb + ".moved");
    expect(await codeOf(readAll(blobB.id))).toBe("BLOB_NOT_FOUND");
    renameSync(pb + ".moved", pb);
    writeFileSync(pa, original);
    expect((await readAll(blobA.id)).length).toBe(200_000);
  });

  it("streams a large blob with bounded buffering and random segment sizes", async () => {
    const s = await v.subjects.add({ ref: "big" });
    function* gen(): Generator<Uint8Array> {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(100_000 + i, i);
    }
    const info = await v.blobs.put({ subjectId: s.id, kind: "frames", data: gen(), segmentLog2: 14 });
    let total = 0;
    let i = 0;
    let expectedOffset = 0;
    for await (const chunk of (await v.blobs.read(info.id)).stream) {
      // spot-check contents without holding the whole blob
      const pos = expectedOffset;
      let blockStart = 0;
      for (i = 0; i < 64; i++) {
        const len = 100_000 + i;
        if (pos < blockStart + len) break;
        blockStart += len;
      }
      expect(chunk[0]).toBe(i);
      total += chunk.length;
      expectedOffset += chunk.length;
    }
    expect(total).toBe(info.plaintextSize);
  });
});
