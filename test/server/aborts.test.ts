/**
 * A client that goes away mid-upload or mid-download is not a server failure: nothing is logged
 * at error level, no STORE_IO or INTERNAL is reported, and nothing of the partial upload is kept.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.js";
import { FsBlobStore } from "../../src/store/blob/fs/store.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { call, makeWorld, speechBytes, type World } from "./helpers.js";

const OBJECT = `blb_${"0".repeat(26)}`;

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  err?: unknown;
}

describe.runIf(HAVE_AUDIO_TOOLS)("client aborts", () => {
  let w: World;
  let app: Awaited<ReturnType<typeof buildServer>>;
  let port: number;
  const lines: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  beforeAll(async () => {
    w = await makeWorld({ name: "sqlite" }, { recordings: 1, reconstructable: true });
    const logStream = new PassThrough();
    let pending = "";
    logStream.on("data", (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const p of parts) {
        const l = JSON.parse(p) as LogLine;
        lines.push(l);
        for (const x of waiters.filter((y) => y.match(l))) x.resolve(l);
      }
    });
    let t = Date.now();
    app = await buildServer({
      vault: w.vault,
      engine: w.engine,
      logger: true,
      logStream,
      now: () => (t += 3_600_000),
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
    await w.close();
  });

  /** The request's last log line: how the server ended it (a signal, not a sleep). */
  const ended = (reqId: string) =>
    new Promise<LogLine>((resolve) => {
      const match = (l: LogLine) =>
        l.reqId === reqId && /request failed|request completed|client aborted|closed prematurely/.test(l.msg);
      const seen = lines.find(match);
      if (seen) resolve(seen);
      else waiters.push({ match, resolve });
    });
  const started = (path: string) =>
    new Promise<string>((resolve) => {
      const match = (l: LogLine) =>
        l.msg === "incoming request" && (l as { req?: { url?: string } }).req?.url === path;
      const seen = lines.find(match);
      if (seen) resolve(seen.reqId!);
      else
        waiters.push({
          match,
          resolve: (l) => {
            resolve(l.reqId!);
          },
        });
    });

  /** Sends a request head and part of its body, waits until the server works on it, then hangs up. */
  async function abortAfter(
    path: string,
    head: string,
    body: Buffer,
    hangUpWhen?: (s: net.Socket) => Promise<void>,
  ) {
    const s = net.connect(port, "127.0.0.1");
    s.on("error", () => undefined);
    await new Promise((r) => s.once("connect", r));
    const id = started(path);
    s.write(head);
    s.write(body);
    const reqId = await id;
    if (hangUpWhen) await hangUpWhen(s);
    s.destroy();
    return ended(reqId);
  }

  const errorsOf = (reqId: string | undefined) => lines.filter((l) => l.reqId === reqId && l.level >= 50);

  it("mid-upload of a resumable chunk: no error logged, nothing stored", async () => {
    const up = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s1.id}/uploads`,
      token: w.tok.operator,
      json: { length: 1_000_000 },
    });
    const id = (up.json() as { id: string }).id;
    const path = `/v1/uploads/${id}`;
    const last = await abortAfter(
      path,
      `PATCH ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${w.tok.operator}\r\n` +
        "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 1000000\r\n\r\n",
      Buffer.alloc(100_000, 1),
    );
    expect(errorsOf(last.reqId)).toEqual([]);
    expect(JSON.stringify(last)).not.toMatch(/STORE_IO|INTERNAL/);
    const state = await call(w.app, { method: "GET", url: path, token: w.tok.operator });
    expect((state.json() as { upload: unknown }).upload).toMatchObject({ offset: 0, status: "open" });
  });

  it("mid-upload of a recording: no error logged", async () => {
    const path = `/v1/subjects/${w.s1.id}/recordings`;
    const last = await abortAfter(
      path,
      `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${w.tok.operator}\r\n` +
        "Content-Type: audio/wav\r\nContent-Length: 1000000\r\n\r\n",
      speechBytes("slt").subarray(0, 40_000),
    );
    expect(errorsOf(last.reqId)).toEqual([]);
    expect(JSON.stringify(last)).not.toMatch(/STORE_IO|INTERNAL/);
  });

  it("mid-download: no error logged", async () => {
    const bg = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s1.id}/breakglass`,
      token: w.tok.operator,
      json: { material: "raw", reason: "court order 2026/117: produce the interview audio" },
    });
    const grant = (bg.json() as { id: string }).id;
    for (const t of [w.tok.operator2, w.tok.operator3])
      await call(w.app, {
        method: "POST",
        url: `/v1/breakglass/${grant}/decision`,
        token: t,
        json: { decision: "approve" },
      });
    const path = `/v1/derivations/${w.s1.drv.raw!}?breakglass=${grant}`;
    const last = await abortAfter(
      path.split("?")[0]!,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${w.tok.operator}\r\n\r\n`,
      Buffer.alloc(0),
      (s) => new Promise((r) => s.once("data", r)),
    );
    expect(errorsOf(last.reqId)).toEqual([]);
  });
});

describe("the blob store and its data source", () => {
  it("passes a source's error through unchanged (not STORE_IO) and keeps nothing", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "vv-store-"));
    try {
      const store = await FsBlobStore.open({ root });
      const gone = Object.assign(new Error("aborted"), { code: "ECONNRESET" });
      async function* source(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(1000);
        await Promise.resolve();
        throw gone;
      }
      await expect(store.put(OBJECT, source())).rejects.toBe(gone);
      expect(readdirSync(path.join(root, "incoming"))).toEqual([]);
      expect(await store.stat(OBJECT)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
