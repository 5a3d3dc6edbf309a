/**
 * `npm run bench`'s floor budget: the floor's streaming plus the system's own set-up, against the
 * direct bridge's whole call. The arithmetic is what the closing notes quote, so it is pinned here
 * with round figures.
 */
import { expect } from 'chai';
import { floorBudget } from '../../scripts/bench/floor-budget.js';
import type { ScenarioReport } from '../../scripts/bench/report.js';

/** A report with only what the budget reads: a 30 s call, CPU per call-minute, set-up per call. */
function report(cpu: { whole: number; streaming: number; setupMs: number }): ScenarioReport {
  return {
    durationS: 30,
    cpu: {
      servicesPerCallMinute: cpu.whole,
      steady: { servicesPerCallMinute: cpu.streaming, redisPerCallMinute: 0, setupMsPerCall: cpu.setupMs },
    },
  } as unknown as ScenarioReport;
}

describe('bench floor budget: the floor plus a call set-up', function () {
  // The direct bridge: 0.14 CPU s per call-minute streaming, 0.15 for the whole 30 s call.
  const direct = report({ whole: 0.15, streaming: 0.14, setupMs: 5 });

  it('adds the system set-up, spread over the call, to streaming at the floor', function () {
    const system = report({ whole: 0.34, streaming: 0.28, setupMs: 30 });
    const budget = floorBudget(1.5, system, direct, 1.5);
    // Streaming at the floor 1.5 x 0.14 = 0.21, set-up 30 ms over half a minute = 0.06: 0.27 / 0.15.
    expect(budget?.ratioAtFloor).to.be.closeTo(1.8, 1e-9);
    expect(budget?.setupMs).to.equal(30);
    // Under 1.5x the whole call may cost 0.225 per call-minute: 0.015 left for set-up, 7.5 ms a call.
    expect(budget?.setupRoomMs).to.be.closeTo(7.5, 1e-9);
  });

  it('leaves no room when the floor alone is over the goal', function () {
    const budget = floorBudget(1.7, report({ whole: 0.34, streaming: 0.28, setupMs: 30 }), direct, 1.5);
    expect(budget?.setupRoomMs).to.be.below(0);
  });

  it('has nothing to say without a steady window on either side', function () {
    const noSteady = { durationS: 30, cpu: { servicesPerCallMinute: 0.3 } } as unknown as ScenarioReport;
    expect(floorBudget(1.4, noSteady, direct, 1.5)).to.equal(undefined);
    expect(floorBudget(1.4, report({ whole: 0.3, streaming: 0.2, setupMs: 30 }), noSteady, 1.5)).to.equal(undefined);
  });
});
