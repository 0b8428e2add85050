/**
 * What a CLI command loads (issue 12 §5, start-up): `--help` nothing of the vault, `subject list`
 * the vault but not the HTTP server, Cedar, PostgreSQL's driver, the audio pipeline or ONNX. Not a
 * timing test (bench/cli/startup.ts measures time): a loader hook records every module resolved,
 * so the test fails when a static import drags something heavy back into start-up.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandbox, type Sandbox } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";

const HOOK = `export async function resolve(s, c, next) {
  const r = await next(s, c);
  process.stderr.write("LOADED " + r.url + "\\n");
  return r;
}`;
const REGISTER = `import { register } from "node:module";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)});`;

/** The URLs a run of the built CLI resolved (tsc output: one file per module). */
function loaded(entry: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const main = new URL(`../../dist/${entry}`, import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", `data:text/javascript,${encodeURIComponent(REGISTER)}`, main, ...args],
      { env },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`${args.join(" ")} failed: ${stderr}`));
        else resolve([...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!));
      },
    );
  });
}

const pkgs = (urls: readonly string[], names: readonly string[]) =>
  names.filter((n) => urls.some((u) => u.includes(`/node_modules/${n}/`)));
const ours = (urls: readonly string[], dirs: readonly string[]) =>
  dirs.filter((d) => urls.some((u) => u.includes(`/dist/${d}`)));

const SERVER_AND_MEDIA = [
  "fastify",
  "@cedar-policy/cedar-wasm",
  "typebox",
  "pg",
  "audio-decode",
  "@wasm-audio-decoders/flac",
  "mpg123-decoder",
  "ogg-opus-decoder",
  "onnxruntime-node",
];

describe("CLI start-up loads only what a command needs", () => {
  let sb: Sandbox;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    sb = sandbox({ name: "sqlite" });
    env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    expect((await spawnCli(["init"], env)).code).toBe(0);
    expect((await spawnCli(["subject", "add", "--ref", "startup"], env)).code).toBe(0);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it("--help loads no vault, database, schema or server code", async () => {
    const urls = await loaded("cli/main.js", ["--help"], env);
    expect(urls.some((u) => u.includes("/node_modules/commander/"))).toBe(true);
    expect(pkgs(urls, ["kysely", "zod", "better-sqlite3", ...SERVER_AND_MEDIA])).toEqual([]);
    expect(
      ours(urls, [
        "vault/vault.js",
        "vault/lifecycle.js",
        "store/",
        "server/",
        "audio/",
        "embed/",
        "policy/",
        "audit/",
      ]),
    ).toEqual([]);
  });

  it("subject list loads the vault but not the server, Cedar, pg, the audio pipeline or ONNX", async () => {
    for (const entry of ["cli/main.js", "bin/voxvault.js"]) {
      const urls = await loaded(entry, ["subject", "list"], env);
      expect(
        urls.some((u) => u.includes("/node_modules/better-sqlite3/")),
        entry,
      ).toBe(true);
      expect(pkgs(urls, SERVER_AND_MEDIA), entry).toEqual([]);
      expect(ours(urls, ["server/app.js", "audio/decode/", "audio/features/", "embed/"]), entry).toEqual([]);
    }
  });
});

describe("the installed command's environment", () => {
  it("runs with at most two glibc malloc arenas (MALLOC_ARENA_MAX=2, from its #! line)", async () => {
    // executed as a shell would, through its #! line; a preloaded module reports what Node got
    const bin = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;
    const report = `data:text/javascript,${encodeURIComponent("process.stderr.write('ARENAS=' + process.env.MALLOC_ARENA_MAX + '\\n');")}`;
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--import=${report}` };
    delete env.MALLOC_ARENA_MAX;
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile(bin, ["--version"], { env }, (error, _stdout, err) => {
        if (error) reject(new Error(`voxvault --version failed: ${err}`, { cause: error }));
        else resolve(err);
      });
    });
    expect(stderr).toContain("ARENAS=2\n");
  });
});
