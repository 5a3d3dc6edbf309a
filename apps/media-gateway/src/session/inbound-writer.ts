/**
 * Writes one call's `call:{CA}:in` stream (gateway -> bridge). Every write is
 * fired, not awaited: the command connection is auto-pipelined, so frames keep
 * their order without one frame waiting for the previous round trip.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { CALL_STREAM_DEFAULTS, callKeys, encodeInbound } from '@voice/redis';
import type { InboundEntry } from '@voice/redis';

export class InboundWriter {
  private readonly key: string;
  private readonly maxLen = String(CALL_STREAM_DEFAULTS.inboundMaxLen);
  private failures = 0;
  private readonly onError: (err: unknown) => void;

  constructor(
    private readonly redis: Redis,
    callSid: string,
    private readonly logger: Logger,
    logEvery: number,
  ) {
    this.key = callKeys.inbound(callSid);
    this.onError = (err: unknown) => {
      this.failures++;
      if (this.failures === 1 || this.failures % logEvery === 0) {
        this.logger.error('inbound stream write failed', {
          key: this.key,
          failures: this.failures,
          ...errorFields(err),
        });
      }
    };
  }

  get writeFailures(): number {
    return this.failures;
  }

  /** The first entry of the stream; also gives the key its safety-net TTL. */
  start(entry: Extract<InboundEntry, { kind: 'start' }>): void {
    this.append(entry);
    this.redis.expire(this.key, CALL_STREAM_DEFAULTS.ttlSeconds).catch(this.onError);
  }

  append(entry: InboundEntry): void {
    this.redis.xadd(this.key, 'MAXLEN', '~', this.maxLen, '*', ...encodeInbound(entry)).catch(this.onError);
  }
}
