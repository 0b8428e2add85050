/** One contract, every blob-store driver (kysely's habit: the same tests over real backends). */
import { randomBytes } from "node:crypto";
import net from "node:net";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { FsBlobStore } from "../../src/store/blob/fs/store.js";
import { openBlobStore } from "../../src/store/blob/drivers.js";
import type { BlobStore } from "../../src/store/blob/types.js";
import { codeOf, collectBytes } from "../support/backends.js";
import { freshBucket, HAVE_S3, s3Env } from "../support/s3.js";

interface Harness {
  readonly store: BlobStore;
  /** Leaves an abandoned partial write behind, as a crash would. */
  abandon(): Promise<void>;
  /** Partial writes the backend still holds. */
  pending(): Promise<number>;
  cleanup(): Promise<void>;
}

const PART = 5 * 1024 * 1024;

const DRIVERS: { name: string; make(): Promise<Harness> }[] = [
  {
    name: "fs",
    async make() {
      const root = mkdtempSync(path.join(os.tmpdir(), "vv-store-"));
      const store = await FsBlobStore.open({ root });
      return {
        store,
        abandon() {
          const p = path.join(root, "incoming", "dead.part");
          writeFileSync(p, "x");
          utimesSync(p, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
          return Promise.resolve();
        },
        pending: async () => (await import("node:fs")).readdirSync(path.join(root, "incoming")).length,
        cleanup() {
          rmSync(root, { recursive: true, force: true });
          return Promise.resolve();
        },
      };
    },
  },
  ...(HAVE_S3
    ? [
        {
          name: "s3",
          async make(): Promise<Harness> {
            const b = await freshBucket();
            const store = await openBlobStore(b.config, { localDir: "/nonexistent", env: s3Env() });
            const pending = async () =>
              (await b.client.send(new ListMultipartUploadsCommand({ Bucket: b.config.bucket }))).Uploads
                ?.length ?? 0;
            return {
              store,
              async abandon() {
                await b.client.send(
                  new CreateMultipartUploadCommand({ Bucket: b.config.bucket, Key: name() }),
                );
              },
              pending,
              cleanup: () => b.drop(),
            };
          },
        },
      ]
    : []),
];

const name = () =>
  `blb_${randomBytes(16)
    .toString("hex")
    .slice(0, 26)
    .replace(/[^0-9a-z]/g, "a")}`;

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    await Promise.resolve(); // a source that yields to the event loop, like a socket
    yield data.subarray(i, Math.min(data.length, i + size));
  }
}

describe.each(DRIVERS)("blob store contract ($name)", (driver) => {
  let h: Harness;
  afterEach(async () => {
    await h.cleanup();
  });

  it("stores and streams back objects of every size around the part boundary", async () => {
    h = await driver.make();
    for (const size of [0, 1, 4096, PART - 1, PART, PART + 1, 3 * PART + 17]) {
      const data = randomBytes(size);
      const n = name();
      expect(await h.store.put(n, chunked(data, 65_536 + 3))).toEqual({ size });
      expect((await collectBytes(h.store.get(n))).equals(data), `size ${size}`).toBe(true);
      expect((await h.store.stat(n))?.size).toBe(size);
    }
  });

  it("reads ranges of a multipart object", async () => {
    h = await driver.make();
    const data = randomBytes(2 * PART + 999);
    const n = name();
    await h.store.put(n, chunked(data, 1 << 20));
    const o = await h.store.open(n);
    try {
      expect(o.size).toBe(data.length);
      for (const [off, len] of [
        [0, 10],
        [PART - 5, 10],
        [2 * PART + 990, 9],
        [12345, 1 << 20],
        [data.length - 1, 50],
      ] as const) {
        const got = await o.read(off, len);
        expect(Buffer.from(got).equals(data.subarray(off, Math.min(data.length, off + len)))).toBe(true);
      }
    } finally {
      await o.close();
    }
  });

  it("never overwrites an object, single-part or multipart, and keeps the first", async () => {
    h = await driver.make();
    for (const size of [100, 2 * PART + 1]) {
      const first = randomBytes(size);
      const n = name();
      await h.store.put(n, chunked(first, 1 << 20));
      expect(await codeOf(h.store.put(n, chunked(randomBytes(size), 1 << 20)))).toBe("STORE_IO");
      expect((await collectBytes(h.store.get(n))).equals(first)).toBe(true);
    }
    expect(await h.pending()).toBe(0);
  });

  it("passes a failing source's error through and leaves nothing visible or pending", async () => {
    h = await driver.make();
    const n = name();
    async function* failing(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield randomBytes(PART);
      yield randomBytes(PART);
      throw new Error("client went away");
    }
    await expect(h.store.put(n, failing())).rejects.toThrow("client went away");
    expect(await h.store.stat(n)).toBeUndefined();
    expect(await h.pending()).toBe(0);
  });

  it("answers missing objects with BLOB_NOT_FOUND, deletes, lists and refuses malformed names", async () => {
    h = await driver.make();
    const n = name();
    expect(await h.store.stat(n)).toBeUndefined();
    expect(await codeOf(collectBytes(h.store.get(n)))).toBe("BLOB_NOT_FOUND");
    expect(await codeOf(h.store.open(n))).toBe("BLOB_NOT_FOUND");
    expect(await h.store.delete(n)).toBe(false);
    const names = [name(), name(), name()].sort();
    for (const m of names) await h.store.put(m, chunked(randomBytes(10), 10));
    const listed: string[] = [];
    for await (const o of h.store.list()) listed.push(o.name);
    expect(listed.sort()).toEqual(names);
    expect(await h.store.delete(names[0]!)).toBe(true);
    expect(await h.store.stat(names[0]!)).toBeUndefined();
    for (const bad of ["../x", "blb_../../etc", "BLB_AAAAAAAAAAAAAAAAAAAAAAAAAA", ""])
      expect(await codeOf(h.store.put(bad, chunked(randomBytes(1), 1)))).toBe("INVALID_ARGUMENT");
  });

  it("sweeps abandoned partial writes older than the cutoff only", async () => {
    h = await driver.make();
    await h.abandon();
    expect(await h.pending()).toBe(1);
    expect(await h.store.sweepIncomplete(24 * 3_600_000)).toBe(0);
    expect(await h.store.sweepIncomplete(driver.name === "s3" ? 0 : 60_000)).toBe(1);
    expect(await h.pending()).toBe(0);
  });
});

describe("S3 configuration fails closed", () => {
  it("refuses plain HTTP to a non-loopback endpoint, before any request", async () => {
    const cfg = {
      driver: "s3" as const,
      bucket: "voices",
      region: "us-east-1",
      endpoint: "http://s3.example.com",
    };
    expect(await codeOf(openBlobStore(cfg, { localDir: "/x", env: s3Env() }))).toBe("INSECURE_CONFIG");
  });
  it("refuses half a credential pair", async () => {
    const cfg = {
      driver: "s3" as const,
      bucket: "voices",
      region: "us-east-1",
      endpoint: "https://s3.example.com",
    };
    expect(
      await codeOf(openBlobStore(cfg, { localDir: "/x", env: { VOXVAULT_S3_ACCESS_KEY_ID: "a" } })),
    ).toBe("CONFIG_INVALID");
  });
});

/**
 * A proxy in front of the S3 service that resets the first `failures` connections it gets, and
 * with `dropPutReply` swallows the reply to the first PUT (the request reached the service, its
 * answer is lost on the way back, as when a connection dies at the wrong moment).
 */
async function flakyProxy(
  target: URL,
  failures: number,
  dropPutReply = false,
): Promise<{ url: string; resets(): number; close(): Promise<void> }> {
  let seen = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => undefined);
    if (seen++ < failures) {
      client.resetAndDestroy();
      return;
    }
    const up = net.connect(Number(target.port), target.hostname);
    up.on("error", () => client.destroy());
    let swallow = false;
    client.on("data", (chunk: Buffer) => {
      if (dropPutReply && chunk.subarray(0, 4).toString() === "PUT ") {
        dropPutReply = false;
        swallow = true;
      }
      up.write(chunk);
    });
    up.on("data", (chunk: Buffer) => {
      if (swallow) {
        client.destroy(); // the service answered; the client never hears it
        up.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on("close", () => up.destroy());
    up.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    resets: () => Math.min(seen, failures),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          r();
        });
      }),
  };
}

describe.runIf(HAVE_S3)("S3 under faults", () => {
  it("retries connections reset by the network and completes the put and the read", async () => {
    const b = await freshBucket();
    const proxy = await flakyProxy(new URL(b.config.endpoint!), 3);
    try {
      const store = await openBlobStore(
        { ...b.config, endpoint: proxy.url },
        { localDir: "/nonexistent", env: s3Env() },
      );
      expect(proxy.resets()).toBe(3); // the bucket check at open already went through three resets
      const data = randomBytes(2 * PART + 5);
      const n = name();
      await store.put(n, chunked(data, 1 << 20));
      expect((await collectBytes(store.get(n))).equals(data)).toBe(true);
    } finally {
      await proxy.close();
      await b.drop();
    }
  });

  it("fails a put with STORE_IO when the service stays away, and leaves no object behind", async () => {
    const b = await freshBucket();
    const proxy = await flakyProxy(new URL(b.config.endpoint!), 0);
    try {
      const store = await openBlobStore(
        { ...b.config, endpoint: proxy.url },
        { localDir: "/x", env: s3Env() },
      );
      await proxy.close(); // the service is gone (connection refused from now on)
      const n = name();
      expect(await codeOf(store.put(n, chunked(randomBytes(1000), 100)))).toBe("STORE_IO");
      const direct = await openBlobStore(b.config, { localDir: "/x", env: s3Env() });
      expect(await direct.stat(n)).toBeUndefined();
    } finally {
      await b.drop();
    }
  });

  it("takes a put whose reply was lost for done when the retry finds exactly its object", async () => {
    const b = await freshBucket();
    const proxy = await flakyProxy(new URL(b.config.endpoint!), 0, true);
    try {
      const store = await openBlobStore(
        { ...b.config, endpoint: proxy.url },
        { localDir: "/x", env: s3Env() },
      );
      const data = randomBytes(1000);
      const n = name();
      expect(await store.put(n, chunked(data, 100))).toEqual({ size: 1000 });
      expect((await collectBytes(store.get(n))).equals(data)).toBe(true);
    } finally {
      await proxy.close();
      await b.drop();
    }
  });
});

describe.runIf(HAVE_S3)("S3 store specifics", () => {
  it("deletes every version of an object, the one from before versioning included", async () => {
    const b = await freshBucket();
    try {
      const store = await openBlobStore(b.config, { localDir: "/x", env: s3Env() });
      const n = name();
      await store.put(n, chunked(randomBytes(100), 100)); // the "null" version
      await b.client.send(
        new PutBucketVersioningCommand({
          Bucket: b.config.bucket,
          VersioningConfiguration: { Status: "Enabled" },
        }),
      );
      expect(await store.delete(n)).toBe(true);
      expect(await store.stat(n)).toBeUndefined();
      const left = await b.client.send(new ListObjectVersionsCommand({ Bucket: b.config.bucket }));
      expect([...(left.Versions ?? []), ...(left.DeleteMarkers ?? [])]).toEqual([]);
    } finally {
      await b.drop();
    }
  });

  it("sweeps only its own abandoned uploads, not another application's in the same bucket", async () => {
    const b = await freshBucket();
    try {
      const store = await openBlobStore(b.config, { localDir: "/x", env: s3Env() });
      await b.client.send(
        new CreateMultipartUploadCommand({ Bucket: b.config.bucket, Key: "backups/db.tar" }),
      );
      await b.client.send(new CreateMultipartUploadCommand({ Bucket: b.config.bucket, Key: name() }));
      expect(await store.sweepIncomplete(0)).toBe(1);
      const left = await b.client.send(new ListMultipartUploadsCommand({ Bucket: b.config.bucket }));
      expect((left.Uploads ?? []).map((u) => u.Key)).toEqual(["backups/db.tar"]);
    } finally {
      await b.drop();
    }
  });

  it("reports a bucket that disappeared as STORE_IO, not as a missing blob", async () => {
    const b = await freshBucket();
    const store = await openBlobStore(b.config, { localDir: "/x", env: s3Env() });
    await b.drop();
    expect(await codeOf(collectBytes(store.get(name())))).toBe("STORE_IO");
    expect(await codeOf(store.put(name(), chunked(randomBytes(10), 10)))).toBe("STORE_IO");
  });

  it("refuses plain HTTP however the endpoint arrives (AWS_ENDPOINT_URL_S3), before sending", async () => {
    const saved = process.env.AWS_ENDPOINT_URL_S3;
    process.env.AWS_ENDPOINT_URL_S3 = "http://s3.attacker.example";
    try {
      const cfg = { driver: "s3" as const, bucket: "voices", region: "us-east-1" };
      expect(await codeOf(openBlobStore(cfg, { localDir: "/x", env: s3Env() }))).toBe("INSECURE_CONFIG");
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
      else process.env.AWS_ENDPOINT_URL_S3 = saved;
    }
  });
});
