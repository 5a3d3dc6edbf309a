/**
 * The floor of the two-process shape, in the same bench run: `floor.mjs` runs bare relays of the
 * direct shape and of the gateway + bridge shape (audio only, each role its own process) and
 * reports both CPUs. Their ratio is the least the system's CPU ratio could be on this host with
 * any gateway and bridge in separate processes; set beside the measured ratio it says how much of
 * the gap is the shape and how much the services' own work (set-up, Redis, checks, timers).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@voice/testkit';

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
  /** One measurement per bench round, in order. */
  runs: FloorMeasurement[];
  /** Why a round's measurement failed (the bench goes on without it). */
  errors: string[];
}

export const floorRatio = (m: FloorMeasurement): number => m.splitCores / m.directCores;

export function measureFloor(calls: number, seconds: number): Promise<FloorMeasurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, String(calls), String(seconds)], {
      cwd: REPO_ROOT,
      env: { ...process.env, FLOOR_JSON: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`floor.mjs exited with ${code} (its error is printed above)`));
      try {
        const result = JSON.parse(out.trim().split('\n').pop() ?? '') as FloorMeasurement;
        if (!(result.directCores > 0)) throw new Error(`no CPU measured for the one-process relay: ${out.trim()}`);
        resolve(result);
      } catch (err) {
        reject(new Error(`floor.mjs printed no result: ${String(err)}`));
      }
    });
  });
}
