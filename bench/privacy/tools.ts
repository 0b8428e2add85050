/** Running the external audio tools (flite, festival, sox, lame, opusenc/opusdec, iconv). */

import { execFile, execFileSync } from "node:child_process";

export const CORPUS_TOOLS = ["sox", "flite", "text2wave", "lame", "opusenc", "opusdec", "iconv"] as const;

export function hasTool(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

export function missingTools(names: readonly string[] = CORPUS_TOOLS): string[] {
  return names.filter((n) => !hasTool(n));
}

export function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 16 << 20, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** First line of a tool's version output, for the manifest (best effort). */
export function toolVersion(cmd: string, args: readonly string[] = ["--version"]): string {
  try {
    const out = execFileSync(cmd, args, { stdio: "pipe", encoding: "utf8" });
    return (out.split("\n").find((l) => l.trim() !== "") ?? "").trim();
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string | Buffer; stderr?: string | Buffer };
    const out = `${stdout?.toString() ?? ""}${stderr?.toString() ?? ""}`;
    return (out.split("\n").find((l) => l.trim() !== "") ?? "unknown").trim();
  }
}

/** Runs async jobs with at most `limit` in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
