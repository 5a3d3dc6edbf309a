/**
 * The floor of the two-process shape, in the same bench run: `floor.mjs` runs bare relays of the
 * direct shape and of the gateway + bridge shape (audio only, each role its own process) and
 * reports both CPUs. Their ratio is the least the system's CPU ratio could be on this host with
 * any gateway and bridge in separate processes; set beside the measured ratio it says how much of
 * the gap is the shape and how much the services' own work (set-up, Redis, checks, timers).
 */
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';
import { runJsonChild } from './json-child.js';

const SCRIPT = join(REPO_ROOT, 'scripts/bench/floor.mjs');

export interface FloorMeasurement {
  calls: number;
  seconds: number;
  /** Cores used by the one-process relay, and by the gateway + bridge relays together. */
  directCores: number;
  splitCores: number;
}

export interface FloorResult {
  calls: number;
  seconds: number;
  /** One measurement per bench round that measured it, in order, with its round. */
  runs: Array<FloorMeasurement & { round: number }>;
  /** Why a round's measurement failed (the bench goes on without it). */
  errors: string[];
}

export const floorRatio = (m: FloorMeasurement): number => m.splitCores / m.directCores;

export async function measureFloor(calls: number, seconds: number): Promise<FloorMeasurement> {
  const result = await runJsonChild<FloorMeasurement>('floor.mjs', [SCRIPT, String(calls), String(seconds)], {
    ...process.env,
    FLOOR_JSON: '1',
  });
  if (!(result.directCores > 0)) throw new Error('floor.mjs measured no CPU for the one-process relay');
  return result;
}
