/**
 * The media link's own cost, in the same bench run: the link-micro child runs
 * N calls both ways through a real link, then the same harness without the
 * link; the difference is what the link itself costs (both of its ends).
 */
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';
import { runJsonChild } from './json-child.js';

const CHILD = join(REPO_ROOT, 'scripts/bench/link-micro-child.ts');

interface ChildResult {
  calls: number;
  seconds: number;
  cpuSeconds: number;
  frames: number;
  sent: number;
  lost: number;
  p50: number;
  p99: number;
  p999: number;
}

export interface LinkMicroResult {
  calls: number;
  seconds: number;
  /** CPU seconds per call-minute the link adds (both ends, both directions), harness subtracted. */
  cpuPerCallMinute: number;
  /** One-way latency of a frame through the link (ms). */
  latencyMs: { p50: number; p99: number; p999: number };
  frames: number;
  lost: number;
}

const runChild = (args: string[]) =>
  runJsonChild<ChildResult>('link-micro child', ['--conditions=source', '--import', 'tsx', CHILD, ...args]);

export async function measureLink(calls: number, seconds: number): Promise<LinkMicroResult> {
  const args = ['--calls', String(calls), '--seconds', String(seconds)];
  const withLink = await runChild(args);
  const harness = await runChild([...args, '--no-link']);
  const callMinutes = (calls * withLink.seconds) / 60;
  return {
    calls,
    seconds: withLink.seconds,
    cpuPerCallMinute: Math.max(0, withLink.cpuSeconds - harness.cpuSeconds) / callMinutes,
    latencyMs: { p50: withLink.p50, p99: withLink.p99, p999: withLink.p999 },
    frames: withLink.frames,
    lost: withLink.lost,
  };
}
