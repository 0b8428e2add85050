/** OCSF export of the audit events: stdout, file, webhook (loopback), each line with its leaf index. */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AUDIT_EVENT_TYPES, type AuditEvent } from "../../src/audit/events.js";
import { toOcsf } from "../../src/audit/ocsf.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";
import { cliEnv } from "./helpers.js";

interface Ocsf {
  class_uid: number;
  category_uid: number;
  activity_id: number;
  type_uid: number;
  time: number;
  metadata: { uid: string; sequence: number; version: string; event_code: string; log_name: string };
  unmapped: { voxvault: { leaf_index: number; payload: Record<string, unknown> } };
  user?: { uid: string };
  api?: { operation: string };
  resources?: { type: string; uid: string }[];
  src_endpoint?: unknown;
}

const lines = (s: string) =>
  s
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Ocsf);

describe("OCSF mapping", () => {
  it("maps every event type to API Activity, Account Change, Authentication or Entity Management with a consistent type_uid", () => {
    for (const type of AUDIT_EVENT_TYPES) {
      const o = toOcsf(
        {
          seq: 1,
          id: "evt_x",
          at: "2025-01-01T00:00:00.000Z",
          actor: { type: "cli", id: "uid:1" },
          event: { type, subjectId: "sub_x" } as unknown as AuditEvent,
          leafIndex: 7,
        },
        { vaultId: "vlt_x", origin: "voxvault.local/vlt_x", productVersion: "0.1.0" },
      ) as unknown as Ocsf;
      expect([3001, 3002, 3004, 6003], type).toContain(o.class_uid);
      expect(o.type_uid).toBe(o.class_uid * 100 + o.activity_id);
      expect(o.category_uid).toBe(Math.floor(o.class_uid / 1000));
      expect(o.metadata.sequence).toBe(7);
      expect(o.time).toBe(Date.UTC(2025, 0, 1));
      if (o.class_uid === 6003) expect(o.api?.operation).toBe(type);
      if (o.class_uid === 3001 || o.class_uid === 3002) expect(o.user?.uid).toBe("sub_x");
      // Refusals are failures; everything else records something that happened.
      expect((o as unknown as { status_id: number }).status_id, type).toBe(
        type === "access.denied" || type === "budget.exceeded" ? 2 : 1,
      );
    }
  });
});

describe.each(BACKENDS)("audit export ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let env: NodeJS.ProcessEnv;
  let server: Server | undefined;
  beforeEach(async () => {
    sb = sandbox(backend);
    v = await sb.init();
    env = cliEnv(sb);
    const s = await v.subjects.add({ ref: "ana" });
    const b = await v.blobs.put({ subjectId: s.id, kind: "raw", data: [Buffer.from("x")] });
    await v.blobs.read(b.id);
    await v.shredding.request(s.id);
  });
  afterEach(async () => {
    await new Promise<void>((r) => {
      if (server)
        server.close(() => {
          r();
        });
      else r();
    });
    server = undefined;
    await v.close();
    await sb.cleanup();
  });

  it("writes one OCSF line per event to stdout, in log order, each with its leaf index", async () => {
    const r = await cli(["audit", "export"], env);
    expect(r.code, r.stderr).toBe(0);
    const out = lines(r.stdout);
    const events = await v.audit.list();
    expect(out.map((o) => o.metadata.sequence)).toEqual(events.map((e) => e.leafIndex));
    expect(out.map((o) => o.metadata.uid)).toEqual(events.map((e) => e.id));
    expect(out.map((o) => [o.metadata.event_code, o.class_uid, o.activity_id])).toEqual(
      [
        ["vault.initialized", 3004, 1],
        ["subject.created", 3001, 1],
        ["blob.written", 6003, 1],
        ["blob.read", 6003, 2],
        ["subject.shredded", 3001, 6],
        ["keys.punctures_applied", 3004, 3],
      ].filter(([t]) => events.some((e) => e.event.type === t)),
    );
    const read = out.find((o) => o.metadata.event_code === "blob.read")!;
    expect(read.resources?.map((x) => x.type)).toEqual(["subject", "blob"]);
    expect(read.metadata.log_name).toBe(`voxvault.local/${v.id}`);
    expect(read.metadata.version).toBe("1.3.0");
    // Any line can be proven later from its leaf index.
    const proof = await v.log.inclusionProof(read.unmapped.voxvault.leaf_index);
    expect(proof.index).toBe(read.metadata.sequence);
  });

  it("writes to a file, appends from a leaf index on", async () => {
    const file = path.join(sb.root, "events.ocsf.jsonl");
    const r1 = await cli(["audit", "export", "--out", file, "--limit", "2"], env);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/^exported 2 events from leaf 0 to /);
    const r2 = await cli(["audit", "export", "--out", file, "--append", "--from-index", "2"], env);
    expect(r2.code, r2.stderr).toBe(0);
    const all = lines(readFileSync(file, "utf8"));
    expect(all.map((o) => o.metadata.sequence)).toEqual((await v.audit.list()).map((e) => e.leafIndex));
  });

  it("posts batches of JSON lines to a webhook, and fails clearly when it refuses", async () => {
    const bodies: { type: string | undefined; body: string }[] = [];
    let status = 200;
    server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        bodies.push({ type: req.headers["content-type"], body });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) =>
      server!.listen(0, "127.0.0.1", () => {
        r();
      }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
    const r = await cli(["audit", "export", "--webhook", url, "--batch", "2", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const total = (await v.audit.list()).length;
    expect(JSON.parse(r.stdout)).toMatchObject({ exported: total });
    expect(bodies.length).toBe(Math.ceil(total / 2));
    expect(bodies.every((b) => b.type === "application/x-ndjson")).toBe(true);
    expect(bodies.flatMap((b) => lines(b.body)).map((o) => o.metadata.sequence)).toEqual([
      ...Array(total).keys(),
    ]);

    status = 500;
    const refused = await cli(["audit", "export", "--webhook", url], env);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      "error[EXPORT_FAILED]: webhook answered HTTP 500 after 0 events\n",
    ]);
    await new Promise<void>((res) =>
      server!.close(() => {
        res();
      }),
    );
    server = undefined;
    const gone = await cli(["audit", "export", "--webhook", url], env);
    expect(gone.stderr).toMatch(/^error\[EXPORT_FAILED\]: webhook http:\/\/127\.0\.0\.1:\d+ unreachable/);
    expect((await cli(["audit", "export", "--webhook", "ftp://x"], env)).stderr).toMatch(
      /^error\[INVALID_ARGUMENT\]/,
    );
  });
});
