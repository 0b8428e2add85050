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

/**
 * A skip reason naming the GStreamer elements missing (gst-inspect-1.0 cannot load them), or
 * null when all load; like missingTools, a failure under VOXVAULT_REQUIRE_TOOLS=1.
 */
export function missingGstElements(...elements: string[]): string | null {
  const tool = missingTools("gst-launch-1.0", "gst-inspect-1.0");
  if (tool !== null) return tool;
  const missing = elements.filter(
    (e) => spawnSync("gst-inspect-1.0", ["--exists", e], { stdio: "ignore" }).status !== 0,
  );
  if (missing.length && process.env.VOXVAULT_REQUIRE_TOOLS === "1") {
    throw new Error(`GStreamer elements ${missing.join(", ")} are missing and VOXVAULT_REQUIRE_TOOLS=1`);
  }
  return missing.length ? `skipped: GStreamer elements ${missing.join(", ")} not installed` : null;
}
