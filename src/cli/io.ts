/** The CLI's view of the process, injectable so tests can run commands in-process. */
import type { Readable, Writable } from "node:stream";

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly isTty: boolean;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    isTty: process.stdout.isTTY,
  };
}

export function writeLine(stream: Writable, line = ""): void {
  stream.write(line + "\n");
}
