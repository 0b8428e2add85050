import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.js";
import {
  eventCommitment,
  eventOpening,
  eventRecord,
  leafBytes,
  parseLeaf,
  subjectCommitment,
  subjectCommitmentKey,
  type EventRow,
} from "../../src/audit/leaf.js";
import { codeOfSync } from "./helpers.js";

// docs/tlog.md §10 test vector; the expected values were computed with Python's hmac/hashlib/json.
const K = Uint8Array.from({ length: 32 }, (_, i) => i);
const SUBJECT = "sub_tvwxyz0123456789abcdefghjk";
const READ: EventRow = {
  id: "evt_0123456789abcdefghjkmnpqrs",
  at: "2025-01-01T00:00:00.000Z",
  type: "blob.read",
  actor: '{"id":"uid:1000","type":"cli"}',
  payload: `{"blobId":"blb_jkmnpqrstvwxyz0123456789ab","end":5,"kind":"raw","start":0,"subjectId":"${SUBJECT}"}`,
};
const READ_LEAF =
  '{"at":"2025-01-01T00:00:00.000Z","event":"BQ9iC8Z3GzvhP2Lw59Vz79jI+0Zq/k/i6LWfWMsoFBY=",' +
  '"format":"voxvault/audit-leaf/v1","id":"evt_0123456789abcdefghjkmnpqrs",' +
  '"subject":"1rwyo6thjZ3BKO8y+ryJgQbb16tjJTjkAvuPWfDeX5E=","type":"blob.read"}';
const INIT: EventRow = {
  id: "evt_abcdefghjkmnpqrstvwxyz0123",
  at: "2025-01-01T00:00:00.000Z",
  type: "vault.initialized",
  actor: '{"id":"uid:1000","type":"cli"}',
  payload:
    '{"keyProvider":"local","metadata":"sqlite","schemaVersion":3,"vaultId":"vlt_0123456789abcdefghjkmnpq"}',
};
const INIT_LEAF =
  '{"at":"2025-01-01T00:00:00.000Z","event":"lv6PECDk/Bdm4WTP/ihjKUYEuyKzreRnfO4Hc391xho=",' +
  '"format":"voxvault/audit-leaf/v1","id":"evt_abcdefghjkmnpqrstvwxyz0123","type":"vault.initialized"}';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const leafHashHex = (b: Uint8Array) =>
  createHash("sha256")
    .update(Buffer.from([0]))
    .update(b)
    .digest("hex");

describe("audit leaf format v1", () => {
  it("matches the documented vectors byte for byte", () => {
    expect(eventRecord(READ)).toBe(
      `{"actor":{"id":"uid:1000","type":"cli"},"at":"2025-01-01T00:00:00.000Z","id":"evt_0123456789abcdefghjkmnpqrs",` +
        `"payload":{"blobId":"blb_jkmnpqrstvwxyz0123456789ab","end":5,"kind":"raw","start":0,"subjectId":"${SUBJECT}"},"type":"blob.read"}`,
    );
    expect(toBase64(eventOpening(K, READ.id))).toBe("OWUaqQO6EhvVtbwylKzo5elHE8q3wr0y9ywWutrv9cQ=");
    expect(toBase64(subjectCommitmentKey(K, SUBJECT))).toBe("2v9HQqvjqdgj4hNIHDZawMOd0AEWZ8E4iCnhlWiSjvM=");
    const read = leafBytes(K, READ, SUBJECT);
    expect(text(read)).toBe(READ_LEAF);
    expect(leafHashHex(read)).toBe("fd39bc90fa1bd6badec7ba5b3afc66ff93659634406971a1c0dbd164f668c772");
    const init = leafBytes(K, INIT);
    expect(text(init)).toBe(INIT_LEAF);
    expect(leafHashHex(init)).toBe("1b3c3d7284e4d78834828f47518d5a3beec464dc9a2fcbad3283e9377c424868");
  });

  it("carries no actor, payload or subject id in clear", () => {
    const leaf = text(leafBytes(K, READ, SUBJECT));
    for (const secret of [SUBJECT, "uid:1000", "blb_jkmnpqrstvwxyz0123456789ab", "raw"]) {
      expect(leaf).not.toContain(secret);
    }
  });

  it("lets the holder of a subject key recognise its leaves and nobody else's", () => {
    const skey = subjectCommitmentKey(K, SUBJECT);
    const parsed = parseLeaf(leafBytes(K, READ, SUBJECT));
    expect(parsed.subject).toEqual(subjectCommitment(skey, READ.id));
    const other = subjectCommitmentKey(K, "sub_0000000000000000000000000a");
    expect(parsed.subject).not.toEqual(subjectCommitment(other, READ.id));
    // Two leaves about one subject do not share a commitment (unlinkable without the key).
    const second = parseLeaf(leafBytes(K, { ...READ, id: "evt_1123456789abcdefghjkmnpqrs" }, SUBJECT));
    expect(second.subject).not.toEqual(parsed.subject);
    // The opening binds the leaf to exactly this record.
    expect(parsed.event).toEqual(eventCommitment(eventOpening(K, READ.id), eventRecord(READ)));
    const changed = eventRecord({ ...READ, payload: READ.payload.replace('"end":5', '"end":6') });
    expect(parsed.event).not.toEqual(eventCommitment(eventOpening(K, READ.id), changed));
  });

  it("parses strictly", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(parseLeaf(enc(INIT_LEAF)).type).toBe("vault.initialized");
    const bad = [
      INIT_LEAF.replace("{", "{ "), // not canonical
      INIT_LEAF.replace('"format":"voxvault/audit-leaf/v1"', '"format":"voxvault/audit-leaf/v2"'),
      INIT_LEAF.replace('"type":', '"extra":1,"type":'),
      INIT_LEAF.replace(/"event":"[^"]+"/, '"event":"AAAA"'),
      INIT_LEAF.replace(/,"id":"[^"]+"/, ""),
      "[]",
      "not json",
    ];
    for (const b of bad)
      expect(
        codeOfSync(() => parseLeaf(enc(b))),
        b,
      ).toBe("PROOF_INVALID");
    expect(codeOfSync(() => parseLeaf(Uint8Array.of(0xff, 0xfe)))).toBe("PROOF_INVALID");
    expect(fromBase64(toBase64(enc(INIT_LEAF)))).toEqual(enc(INIT_LEAF));
  });
});
