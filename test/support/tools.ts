/**
 * Tests that need a system tool skip with a stated reason when it is missing, unless
 * VOXVAULT_REQUIRE_TOOLS=1 (set by .ci/run), in which case a missing tool fails the suite.
 */
import { execFileSync } from "node:child_process";

export const REQUIRE_TOOLS = process.env.VOXVAULT_REQUIRE_TOOLS === "1";

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Returns true when the tool is there; throws under VOXVAULT_REQUIRE_TOOLS=1 when it is not. */
export function need(what: string, available: boolean, reason: string): boolean {
  if (available) return true;
  if (REQUIRE_TOOLS) throw new Error(`${what} is required (VOXVAULT_REQUIRE_TOOLS=1) but missing: ${reason}`);
  console.warn(`skipping ${what} tests: ${reason}`);
  return false;
}
