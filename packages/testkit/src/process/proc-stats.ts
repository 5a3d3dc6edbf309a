/**
 * CPU time and peak memory of a child process, read from /proc (Linux), for
 * the bench's "CPU seconds per call-minute and peak RSS per service".
 */
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStats {
  /** user + system CPU seconds used so far. */
  cpuSeconds: number;
  /** Peak resident set size (VmHWM), MiB. */
  peakRssMiB: number;
  rssMiB: number;
}

export function readProcStats(pid: number): ProcStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return {
      cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
      peakRssMiB: kib('VmHWM') / 1024,
      rssMiB: kib('VmRSS') / 1024,
    };
  } catch {
    return undefined;
  }
}
