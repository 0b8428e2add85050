/**
 * Gates for tests that need system tools. A missing tool skips the test with a stated reason,
 * unless VOXVAULT_REQUIRE_TOOLS=1, in which case the test runs and fails in its beforeAll.
 */
import { spawnSync } from "node:child_process";

export const REQUIRE_TOOLS = process.env.VOXVAULT_REQUIRE_TOOLS === "1";

const cache = new Map<string, boolean>();

function probe(cmd: string, args: string[]): boolean {
  const key = [cmd, ...args].join(" ");
  let ok = cache.get(key);
  if (ok === undefined) {
    const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 60_000 });
    ok = r.error === undefined && r.status === 0;
    cache.set(key, ok);
  }
  return ok;
}

const PROBES: Record<string, [string, string[]]> = {
  sox: ["sox", ["--version"]],
  ffmpeg: ["ffmpeg", ["-version"]],
  flite: ["flite", ["-h"]],
};

let pythonCache: string | null | undefined;

/** A python3 that can import torchaudio: $VOXVAULT_PYTHON, python3 on PATH, /usr/bin/python3. */
export function torchPython(): string | null {
  if (pythonCache !== undefined) return pythonCache;
  const candidates = [process.env.VOXVAULT_PYTHON, "python3", "/usr/bin/python3"].filter(
    (c): c is string => typeof c === "string" && c.length > 0,
  );
  pythonCache = candidates.find((c) => probe(c, ["-c", "import torch, torchaudio, numpy"])) ?? null;
  return pythonCache;
}

export type Tool = "sox" | "ffmpeg" | "flite" | "torchaudio";

export interface ToolGate {
  /** Pass to describe.skipIf. Never true when VOXVAULT_REQUIRE_TOOLS=1. */
  readonly skip: boolean;
  /** Suffix for the suite title, e.g. " [skipped: ffmpeg not found]". */
  readonly note: string;
  readonly missing: readonly Tool[];
  /** Call in beforeAll: throws when a tool is missing (only reachable when required). */
  assertAvailable(): void;
}

export function toolGate(...tools: Tool[]): ToolGate {
  const missing = tools.filter((t) => {
    if (t === "torchaudio") return torchPython() === null;
    const p = PROBES[t]!;
    return !probe(p[0], p[1]);
  });
  const reason =
    missing.length === 0
      ? ""
      : `missing ${missing.map((m) => (m === "torchaudio" ? "python3 with torchaudio" : m)).join(", ")}`;
  const skip = missing.length > 0 && !REQUIRE_TOOLS;
  if (skip)
    console.warn(`[voxvault tests] skipping: ${reason} (set VOXVAULT_REQUIRE_TOOLS=1 to fail instead)`);
  return {
    skip,
    note: skip ? ` [skipped: ${reason}]` : "",
    missing,
    assertAvailable() {
      if (missing.length > 0) {
        throw new Error(`VOXVAULT_REQUIRE_TOOLS=1 but ${reason}`);
      }
    },
  };
}

/** Runs a command, throwing with its stderr on failure; returns stdout + stderr. */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout + r.stderr;
}
