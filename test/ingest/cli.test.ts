import { afterEach, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS, convert, speech, writeTemp } from "../support/audio.js";
import { sandbox, type Sandbox } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";

describe.runIf(HAVE_AUDIO_TOOLS)("voxvault ingest (built binary)", () => {
  let sb: Sandbox;
  afterEach(async () => {
    await sb.cleanup();
  });

  it("ingests a batch, reports each bad file with its code, keeps going, exits non-zero", async () => {
    sb = sandbox({ name: "sqlite" });
    const env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    expect((await spawnCli(["init", "--retain-raw", "30d"], env)).code).toBe(0);
    const subject = JSON.parse(
      (await spawnCli(["subject", "add", "--ref", "batch", "--json"], env)).stdout,
    ) as { id: string };
    const good1 = speech("Please state your name and the position you are applying for.", "slt");
    const bad = writeTemp("cli-bad.wav", "not audio at all\n".repeat(50));
    const good2 = convert(speech("I have five years of experience in data annotation.", "awb"), ".mp3");
    const r = await spawnCli(["ingest", "--subject", subject.id, "--json", good1, bad, good2], env);
    expect(r.code).toBe(1);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            file: string;
            id?: string;
            derivations?: { name: string }[];
            error?: { code: string };
          },
      );
    expect(lines).toHaveLength(3);
    expect(lines[0]!.id).toMatch(/^rec_/);
    expect(lines[0]!.derivations!.map((d) => d.name).sort()).toEqual([
      "quality",
      "raw",
      "speaker-template",
      "voice-stats",
    ]);
    expect(lines[1]).toMatchObject({ file: bad, error: { code: "UNSUPPORTED_FORMAT" } });
    expect(lines[2]!.id).toMatch(/^rec_/);
    expect(r.stderr).toContain(`error[UNSUPPORTED_FORMAT]: ${bad}: `);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^error\[INGEST_FAILED\]: 1 of 3 files failed$/);

    const human = await spawnCli(["ingest", "--subject", subject.id, good1], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /: recording rec_\w+, \d+\.\d s \(\d+\.\d s speech\), pcm_s16 16000 Hz x1 -> /,
    );
    expect(human.stdout).toContain("quality");
    expect(human.stdout).toContain("voice-stats");
    expect(human.stdout).toMatch(/raw \(kept until \d{4}-\d\d-\d\d\)/);
    const list = JSON.parse(
      (await spawnCli(["derivation", "list", "--subject", subject.id, "--json"], env)).stdout,
    ) as {
      derivations: unknown[];
    };
    expect(list.derivations).toHaveLength(12);
    const verify = await spawnCli(["verify-speaker", "--subject", subject.id, "--json", good2], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ match: true });
    const sweep = await spawnCli(["retention", "sweep"], env);
    expect(sweep.stdout).toContain("nothing has expired");
  });
});
