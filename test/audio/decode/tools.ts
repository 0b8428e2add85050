import { spawnSync } from "node:child_process";

/**
 * Whether a test that needs an external tool (sox, ffmpeg, flite, ...) should run. A missing
 * tool skips the test, unless VOXVAULT_REQUIRE_TOOLS=1, where it is a failure.
 */
export function requireTool(name: string): boolean {
  const found = spawnSync("sh", ["-c", 'command -v "$0"', name], { stdio: "ignore" }).status === 0;
  if (!found && process.env.VOXVAULT_REQUIRE_TOOLS === "1") {
    throw new Error(`${name} is not installed and VOXVAULT_REQUIRE_TOOLS=1`);
  }
  return found;
}

/** A skip reason naming the missing tools, or null when all are present. */
export function missingTools(...names: string[]): string | null {
  const missing = names.filter((n) => !requireTool(n));
  return missing.length ? `skipped: ${missing.join(", ")} not installed` : null;
}
