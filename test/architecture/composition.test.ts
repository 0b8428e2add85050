import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import * as entry from "../../src/index.js";
import { FsBlobStore } from "../../src/store/blob/fs/store.js";
import type { BlobStore } from "../../src/store/blob/types.js";
import { BACKENDS, codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** Files under src/ (relative) whose code matches `re`. */
function filesUsing(re: RegExp): string[] {
  return sources(SRC)
    .filter((f) => re.test(readFileSync(f, "utf8")))
    .map((f) => path.relative(SRC, f))
    .sort();
}

describe("one composition root", () => {
  it("builds providers, stores and metadata drivers only in their own folder and src/platform/compose.ts", () => {
    const outside = (files: string[], own: string) =>
      files.filter((f) => !f.startsWith(own) && f !== "platform/compose.ts");
    expect(outside(filesUsing(/\bFileKeyProvider\.(create|open)\(/), "keys/")).toEqual([]);
    expect(outside(filesUsing(/\bFsBlobStore\.open\(/), "store/blob/")).toEqual([]);
    expect(outside(filesUsing(/\bconnectMetadata\(/), "store/meta/")).toEqual([]);
    expect(outside(filesUsing(/\bopenBlobStore\(/), "store/blob/")).toEqual([]);
    // the checks see what they look for (a check that matches nothing could never fail)
    expect(filesUsing(/\bFileKeyProvider\.(create|open)\(/)).toContain("platform/compose.ts");
    expect(filesUsing(/\bconnectMetadata\(/)).toContain("platform/compose.ts");
  });

  it("hands the stores, the drivers and the key tree to nothing above the services", () => {
    expect(filesUsing(/\binternalsOf\b/)).toEqual(["platform/vault.ts"]);
    expect(filesUsing(/\.internals\b/)).toEqual([]);
    expect(Object.keys(entry)).not.toContain("internalsOf");
    // entry points call services: no metadata transactions or event recording of their own
    for (const dir of ["server/", "cli/"]) {
      expect(filesUsing(/\brecordEvent\(|\.meta\.(write|db)\b/).filter((f) => f.startsWith(dir))).toEqual([]);
    }
  });
});

/** A store of the application's own (here: the filesystem store behind a counter). */
function countingStore(inner: BlobStore, kind = "counting"): BlobStore & { puts: number } {
  const s = {
    kind,
    puts: 0,
    put: (n: string, d: AsyncIterable<Uint8Array>) => {
      s.puts++;
      return inner.put(n, d);
    },
    get: (n: string) => inner.get(n),
    open: (n: string) => inner.open(n),
    stat: (n: string) => inner.stat(n),
    delete: (n: string) => inner.delete(n),
    list: () => inner.list(),
    sweepIncomplete: (ms: number) => inner.sweepIncomplete(ms),
  };
  return s;
}

describe.each(BACKENDS)("a library user's blob store ($name)", (backend) => {
  let sb: Sandbox;
  afterEach(async () => {
    await sb.cleanup();
  });

  it("is recorded at init, required at every open, and holds every object", async () => {
    sb = sandbox(backend);
    const inner = await FsBlobStore.open({ root: path.join(sb.root, "elsewhere") });
    const store = countingStore(inner);
    const v = await sb.init({ blobStore: store });
    expect(v.config.blobStore).toEqual({ driver: "external", kind: "counting" });
    const s = await v.subjects.add({ ref: "injected@example.com" });
    const blob = await v.blobs.put({
      subjectId: s.id,
      kind: "note",
      data: [new TextEncoder().encode("hello")],
    });
    expect(store.puts).toBe(1);
    await v.close();
    expect(readdirSync(sb.dataDir)).not.toContain("blobs");

    expect(await codeOf(sb.open())).toBe("CONFIG_INVALID");
    expect(await codeOf(sb.open({ blobStore: countingStore(inner, "other") }))).toBe("CONFIG_INVALID");
    const again = await sb.open({ blobStore: countingStore(inner) });
    try {
      const read = await again.blobs.read(blob.id);
      expect((await collectBytes(read.stream)).toString()).toBe("hello");
    } finally {
      await again.close();
    }
  });

  it("is refused for a vault whose blobs live on the filesystem", async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    const inner = await FsBlobStore.open({ root: path.join(sb.root, "elsewhere") });
    expect(await codeOf(sb.open({ blobStore: countingStore(inner) }))).toBe("CONFIG_INVALID");
  });
});

describe("the public Vault type", () => {
  it("has no internals", async () => {
    const sb = sandbox({ name: "sqlite" });
    const v = await sb.init();
    try {
      // @ts-expect-error the metadata driver, blob store and key tree are not part of the public type
      expect(v.internals).toBeUndefined();
    } finally {
      await v.close();
      await sb.cleanup();
    }
  });
});
