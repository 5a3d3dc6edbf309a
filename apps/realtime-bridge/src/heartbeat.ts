/**
 * This bridge's liveness key. An owner lease alone cannot tell a dead bridge
 * from a busy one for up to a lease period; the heartbeat key expires three
 * beats after the process stops, so another bridge can take a call over fast.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';

const BEATS_TO_LIVE = 3;

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.del(this.key).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    try {
      await this.redis.set(this.key, String(Date.now()), 'PX', this.intervalMs * BEATS_TO_LIVE);
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.error('heartbeat failed', errorFields(err));
      this.failing = true;
    }
  }
}
