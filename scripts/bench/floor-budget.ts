/**
 * Whether the CPU goal is within reach at the bench's call length once a call's set-up is counted.
 * The floor rows say what streaming alone could cost at best (bare relays); a call also pays for
 * its set-up (webhook requests, Postgres, the claim, Redis, the link attach), and a 30 s call pays
 * it over half a minute. This puts the two together, from one round's system and direct reports:
 *
 *   at the floor = (floor ratio x direct's streaming + the system's set-up) / direct's whole call
 *
 * all per call-minute. Over the goal, no gateway + bridge could meet it at this call length with
 * this set-up, however little their streaming cost; `setupRoomMs` is the set-up a call could
 * afford if streaming cost exactly the floor.
 */
import type { ScenarioReport } from './report.js';

export interface FloorBudget {
  /** The whole-call ratio if the system streamed at the floor and kept its measured set-up. */
  ratioAtFloor: number;
  /** The system's set-up, CPU ms per call (services + Redis), as measured. */
  setupMs: number;
  /** The set-up per call that would still fit under `goal` with streaming at the floor; negative when none would. */
  setupRoomMs: number;
}

const MS_PER_S = 1000;
const S_PER_MIN = 60;

export function floorBudget(
  floorRatio: number,
  system: ScenarioReport,
  direct: ScenarioReport,
  goal: number,
): FloorBudget | undefined {
  const setupMs = system.cpu.steady?.setupMsPerCall;
  const directStreaming = direct.cpu.steady?.servicesPerCallMinute;
  const directWhole = direct.cpu.servicesPerCallMinute;
  if (setupMs === undefined || directStreaming === undefined || !(directWhole > 0) || !(system.durationS > 0))
    return undefined;
  const callMinutes = system.durationS / S_PER_MIN;
  const streamingAtFloor = floorRatio * directStreaming;
  const setupPerCallMinute = setupMs / MS_PER_S / callMinutes;
  return {
    ratioAtFloor: (streamingAtFloor + setupPerCallMinute) / directWhole,
    setupMs,
    setupRoomMs: (goal * directWhole - streamingAtFloor) * callMinutes * MS_PER_S,
  };
}
