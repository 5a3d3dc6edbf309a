/**
 * CPU seconds and peak RSS of each process over one scenario, read from /proc.
 * VmHWM is a lifetime peak, so RSS is sampled and the scenario's own maximum kept.
 */
import { readFileSync } from 'node:fs';
import { readProcStats } from '@voice/testkit';

const CLOCK_TICKS_PER_SECOND = 100;
/** /proc/stat cpu fields that are not work (idle, iowait) or counted twice (guest time is in user already). */
const NOT_WORK_FIELDS = [3, 4, 8, 9];

/** /proc/stat cpu field: time the hypervisor ran something else while this VM wanted the CPU. */
const STEAL_FIELD = 7;

function cpuFields(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
}

/** CPU seconds the whole host has spent busy (all processes, all cores) since boot; steal included. */
export function hostBusySeconds(): number {
  const busy = cpuFields().reduce((sum, v, i) => (NOT_WORK_FIELDS.includes(i) ? sum : sum + v), 0);
  return busy / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds stolen from this VM by the hypervisor since boot. */
export function hostStealSeconds(): number {
  return (cpuFields()[STEAL_FIELD] ?? 0) / CLOCK_TICKS_PER_SECOND;
}

export interface Measured {
  label: string;
  /** The set-up the process belongs to: 'system', 'direct', or 'bench' (this process: both doubles). */
  role: 'system' | 'direct' | 'bench';
  pid: number;
}

export interface ProcessUsage {
  label: string;
  role: Measured['role'];
  cpuSeconds: number;
  /** CPU seconds while every call was live (the steady state, without set-up and tear-down). */
  steadyCpuSeconds: number | undefined;
  peakRssMiB: number;
}

/**
 * The steady state of a scenario: from the first sample with every planned call
 * live to the first sample after it with fewer (a call hung up).
 */
export class SteadyWindow {
  startedAt: number | undefined;
  endedAt: number | undefined;

  update(live: number, planned: number, at = performance.now()): 'start' | 'end' | undefined {
    if (this.startedAt === undefined && live === planned && planned > 0) {
      this.startedAt = at;
      return 'start';
    }
    if (this.startedAt !== undefined && this.endedAt === undefined && live < planned) {
      this.endedAt = at;
      return 'end';
    }
    return undefined;
  }

  get seconds(): number | undefined {
    return this.startedAt === undefined || this.endedAt === undefined
      ? undefined
      : (this.endedAt - this.startedAt) / 1000;
  }
}

export class ResourceSampler {
  private readonly startCpu = new Map<number, number>();
  private readonly steadyCpu = new Map<number, { start?: number; end?: number }>();
  private readonly hostBusyAtStart = hostBusySeconds();
  private readonly hostStealAtStart = hostStealSeconds();
  private readonly peakRss = new Map<number, number>();
  readonly steady = new SteadyWindow();

  constructor(private readonly processes: readonly Measured[]) {
    for (const p of processes) {
      const stats = readProcStats(p.pid);
      this.startCpu.set(p.pid, stats?.cpuSeconds ?? 0);
      this.peakRss.set(p.pid, stats?.rssMiB ?? 0);
      this.steadyCpu.set(p.pid, {});
    }
  }

  /** One sample: RSS peaks, and CPU at the edges of the steady window. */
  sample(live: number, planned: number): void {
    const edge = this.steady.update(live, planned);
    for (const p of this.processes) {
      const stats = readProcStats(p.pid);
      const rss = stats?.rssMiB ?? 0;
      if (rss > (this.peakRss.get(p.pid) ?? 0)) this.peakRss.set(p.pid, rss);
      if (edge && stats) this.steadyCpu.get(p.pid)![edge] = stats.cpuSeconds;
    }
  }

  /** Busy CPU seconds of the whole host since the sampler started (steal excluded). */
  hostBusy(): number {
    return hostBusySeconds() - this.hostBusyAtStart - this.hostSteal();
  }

  /** CPU seconds the hypervisor took from this VM since the sampler started. */
  hostSteal(): number {
    return hostStealSeconds() - this.hostStealAtStart;
  }

  finish(): ProcessUsage[] {
    return this.processes.map((p) => {
      const stats = readProcStats(p.pid);
      const rss = Math.max(this.peakRss.get(p.pid) ?? 0, stats?.rssMiB ?? 0);
      const { start, end } = this.steadyCpu.get(p.pid)!;
      return {
        label: p.label,
        role: p.role,
        cpuSeconds: (stats?.cpuSeconds ?? 0) - (this.startCpu.get(p.pid) ?? 0),
        steadyCpuSeconds: start === undefined || end === undefined ? undefined : end - start,
        peakRssMiB: rss,
      };
    });
  }
}
