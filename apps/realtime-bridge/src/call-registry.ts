/**
 * The calls this bridge instance owns, and the lease that proves it: the owner
 * key `call:{CA}:owner` is renewed while the call lives, so if this process dies
 * the lease lapses and the call can be taken over.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { callKeys } from '@voice/redis';
import type { CallSession } from './call/call-session.js';

export class CallRegistry {
  private readonly calls = new Map<string, CallSession>();
  private renewTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly redis: Redis,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.calls.size;
  }

  has(callSid: string): boolean {
    return this.calls.has(callSid);
  }

  get(callSid: string): CallSession | undefined {
    return this.calls.get(callSid);
  }

  all(): CallSession[] {
    return [...this.calls.values()];
  }

  add(session: CallSession): void {
    this.calls.set(session.callSid, session);
  }

  remove(callSid: string): void {
    this.calls.delete(callSid);
    if (this.calls.size === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** Resolves when no call is left, or after `timeoutMs`. */
  async waitUntilIdle(timeoutMs: number): Promise<boolean> {
    if (this.calls.size === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  startLeaseRenewal(): void {
    this.renewTimer = setInterval(() => this.renew(), Math.max(250, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
  }

  stopLeaseRenewal(): void {
    clearInterval(this.renewTimer);
  }

  private renew(): void {
    if (this.calls.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const callSid of this.calls.keys()) pipeline.pexpire(callKeys.owner(callSid), this.leaseMs);
    pipeline.exec().catch((err: unknown) => this.logger.error('owner lease renewal failed', errorFields(err)));
  }
}
