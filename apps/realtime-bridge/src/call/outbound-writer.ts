/**
 * Writes agent audio and control messages to the call's outbound stream
 * (`call:{CA}:out`), which the gateway holding the caller's socket tails.
 * Writes are fire-and-forget on the auto-pipelined connection: order is kept
 * by the single connection, and the hot path never waits for Redis.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { CALL_STREAM_DEFAULTS, callKeys, encodeOutbound, preciseNow, type OutboundEntry } from '@voice/redis';

export class OutboundWriter {
  private readonly key: string;
  private expirySet = false;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly redis: Redis,
    callSid: string,
    private readonly logger: Logger,
  ) {
    this.key = callKeys.outbound(callSid);
  }

  write(entry: OutboundEntry): void {
    if (this.closed) return;
    this.redis
      .xadd(this.key, 'MAXLEN', '~', CALL_STREAM_DEFAULTS.outboundMaxLen, '*', ...encodeOutbound(entry))
      .catch((err: unknown) => {
        // Log the first few: a Redis outage would otherwise log once per audio delta.
        if (this.failures++ < 3) this.logger.error('outbound stream write failed', { kind: entry.kind, ...errorFields(err) });
      });
    if (!this.expirySet) {
      this.expirySet = true;
      this.redis.expire(this.key, CALL_STREAM_DEFAULTS.ttlSeconds).catch(() => undefined);
    }
  }

  /** Model audio with its marks (start-of-item before it, end-of-delta after it), as one entry. */
  writeAgentAudio(payload: string, marks: string[], greeting: boolean): void {
    const markBefore = marks.length === 2 ? marks[0] : undefined;
    this.write({ kind: 'media', payload, at: preciseNow(), greeting, markBefore, markAfter: marks[marks.length - 1] });
  }

  /** After the call ended nothing may recreate the stream. */
  close(): void {
    this.closed = true;
  }
}
