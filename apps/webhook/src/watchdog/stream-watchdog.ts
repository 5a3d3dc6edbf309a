/**
 * The call-side watchdog. The gateway can only judge sockets that exist; if
 * Twilio never opens the media stream at all, nothing else notices. The
 * calls row the webhook writes is the watchdog's arming: every
 * `sweepMs` the webhook ends, in one statement, the calls answered more than
 * `delayMs` ago whose stream never started (`stream.never_started`, then
 * `call.ended end_reason=no_stream`, their transient keys deleted). Postgres
 * already holds the truth (the gateway stamps stream_started_at), so this
 * costs Redis nothing per call, and SKIP LOCKED lets every webhook replica
 * sweep without two of them ending the same call.
 */
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { transientCallKeys, type RedisClient, type Timeline } from '@voice/redis';
import type { Counter } from 'prom-client';

export const STREAM_WATCHDOG_DEFAULTS = {
  /** Calls ended per sweep at most (a backlog is worked off over a few sweeps). */
  batch: 200,
  /** Calls answered longer ago than this are history, not the watchdog's business. */
  lookBackMs: 3600_000,
  endReason: 'no_stream',
} as const;

export interface StreamWatchdogDeps {
  redis: RedisClient;
  delayMs: number;
  calls: CallRepository;
  timeline: Timeline;
  logger: Logger;
  neverStarted: Counter;
}

export class StreamWatchdog {
  constructor(private readonly deps: StreamWatchdogDeps) {}

  /** One sweep (run every sweep interval by a PeriodicSweep; it logs its own failures). */
  async sweep(): Promise<void> {
    const { deps } = this;
    const now = Date.now();
    try {
      const failed = await deps.calls.failNeverStarted({
        answeredBefore: new Date(now - deps.delayMs),
        answeredAfter: new Date(now - STREAM_WATCHDOG_DEFAULTS.lookBackMs),
        limit: STREAM_WATCHDOG_DEFAULTS.batch,
        endReason: STREAM_WATCHDOG_DEFAULTS.endReason,
      });
      await Promise.all(failed.map((call) => this.record(call.callSid, now - call.receivedAt.getTime())));
    } catch (err) {
      deps.logger.error('stream watchdog sweep failed', errorFields(err));
    }
  }

  private async record(callSid: string, waitedMs: number): Promise<void> {
    const { deps } = this;
    const log = deps.logger.child({ callSid });
    deps.neverStarted.inc();
    await deps.timeline.record(
      callSid,
      'stream.never_started',
      { waited_ms: waitedMs },
      { level: 'error', logger: log },
    );
    await deps.timeline.record(
      callSid,
      'call.ended',
      { end_reason: STREAM_WATCHDOG_DEFAULTS.endReason, rx: 0, tx: 0, is_ghost: false, duration_ms: 0 },
      { logger: log },
    );
    await deps.redis
      .del(...transientCallKeys(callSid))
      .catch((err: unknown) => log.error('call key cleanup failed', errorFields(err)));
  }
}
