/** Peak RSS (VmHWM) and CPU time of a child process, sampled from /proc until it exits. */
import { readFileSync } from "node:fs";

const CLK = 100; // USER_HZ

export interface ProcStats {
  peakRssMiB: number;
  cpuSec: number;
}

/** Samples a process's peak RSS and CPU time until it exits. */
export function watch(pid: number): { stop(): ProcStats } {
  const s: ProcStats = { peakRssMiB: 0, cpuSec: 0 };
  const t = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) s.peakRssMiB = Math.max(s.peakRssMiB, Number(hwm[1]) / 1024);
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      s.cpuSec = (Number(stat[11]) + Number(stat[12])) / CLK;
    } catch {
      // exited
    }
  }, 50);
  return {
    stop() {
      clearInterval(t);
      return s;
    },
  };
}
