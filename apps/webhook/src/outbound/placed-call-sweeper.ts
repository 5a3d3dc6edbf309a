/**
 * Outbound calls whose status callbacks were lost. Twilio posts a placed call's
 * final status once (busy, no-answer, ...; it does not retry), so if this
 * service was down at that moment the row would stay `placed` for ever. Every
 * `sweepMs` this asks Twilio (calls(sid).fetch) about the calls still placed
 * well after any ring would have ended (`sweep`, run by a PeriodicSweep), and
 * finalizes those it says are over exactly as the status callback would have
 * (`twilio.call_status source=sweep`, then `call.ended`). A call Twilio does not know is finalized
 * as failed. A call Twilio still reports as live is left to its callbacks.
 * Every webhook replica sweeps. Each claims the calls it asks about
 * (claimStalePlaced), so however many replicas there are a stale call is
 * asked about once per `recheckAfterMs` (Twilio rate-limits its REST API), and
 * the conditional update finalizes a call once.
 */
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { OutboundRoom, RedisClient, Timeline } from '@voice/redis';
import { twilioRefusal, type TwilioClient } from '@voice/protocols/twilio-rest';
import type { Counter } from 'prom-client';
import { FINAL_STATUSES, finalizeUnanswered } from './finalize-unanswered.js';

export const PLACED_SWEEP_DEFAULTS = {
  /** Calls asked about per sweep at most (Twilio's REST rate limits; a backlog takes a few sweeps). */
  batch: 50,
  /** Calls placed longer ago than this are history, not the sweep's business. */
  lookBackMs: 24 * 3600_000,
} as const;

const TWILIO_NOT_FOUND = 404;

export type PlacedSweepOutcome = 'finalized' | 'still_live' | 'unknown_to_twilio' | 'error';

export interface PlacedCallSweeperDeps {
  twilio: TwilioClient;
  redis: RedisClient;
  calls: CallRepository;
  timeline: Timeline;
  room?: OutboundRoom;
  logger: Logger;
  /** A call still placed this long after it was placed lost its callbacks (longer than any ring). */
  staleAfterMs: number;
  /** A call asked about (by any replica) is not asked about again for this long. */
  recheckAfterMs: number;
  outcomes: Counter<'outcome'>;
}

export class PlacedCallSweeper {
  constructor(private readonly deps: PlacedCallSweeperDeps) {}

  /** One sweep (run every sweep interval by a PeriodicSweep; it logs its own failures). */
  async sweep(): Promise<void> {
    const { deps } = this;
    const now = Date.now();
    try {
      const stale = await deps.calls.claimStalePlaced({
        placedBefore: new Date(now - deps.staleAfterMs),
        placedAfter: new Date(now - PLACED_SWEEP_DEFAULTS.lookBackMs),
        checkedBefore: new Date(now - deps.recheckAfterMs),
        limit: PLACED_SWEEP_DEFAULTS.batch,
      });
      for (const call of stale) deps.outcomes.inc({ outcome: await this.settle(call.callSid) });
    } catch (err) {
      deps.logger.error('placed-call sweep failed', errorFields(err));
    }
  }

  private async settle(callSid: string): Promise<PlacedSweepOutcome> {
    const { deps } = this;
    const log = deps.logger.child({ callSid });
    let status: string;
    let durationS: number | undefined;
    try {
      const call = await deps.twilio.calls(callSid).fetch();
      status = call.status;
      durationS = call.duration === null || call.duration === undefined ? undefined : Number(call.duration);
    } catch (err) {
      if (twilioRefusal(err)?.status !== TWILIO_NOT_FOUND) {
        log.warn('placed-call sweep: Twilio not reachable about the call; asking again next sweep', errorFields(err));
        return 'error';
      }
      log.warn('placed-call sweep: Twilio does not know the call; finalized as failed');
      await finalizeUnanswered(deps, callSid, 'failed', undefined, log);
      return 'unknown_to_twilio';
    }
    const final = FINAL_STATUSES[status];
    if (!final) return 'still_live';
    await deps.timeline.record(
      callSid,
      'twilio.call_status',
      { call_status: status, duration_s: durationS, source: 'sweep' },
      { logger: log, level: 'warn' },
    );
    await finalizeUnanswered(deps, callSid, final, durationS, log);
    return 'finalized';
  }
}
