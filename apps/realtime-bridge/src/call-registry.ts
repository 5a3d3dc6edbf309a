/**
 * The calls this bridge instance owns, its admission count, and the leases
 * that prove ownership: each owner key is renewed while the call lives, so
 * if this process dies the lease lapses.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { CallOwnership } from './call-ownership.js';
import type { CallSession } from './call/call-session.js';

export class CallRegistry {
  private readonly calls = new Map<string, CallSession>();
  /** Claims being decided (between reading a claim and registering or dropping its session). */
  private reserved = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  /** When the live calls' meta was last kept (keepMeta): far less often than the leases. */
  private metaKeptAt = Date.now();

  constructor(
    private readonly ownership: CallOwnership,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    /** How often every live call's meta TTL is renewed (CALL_META_REFRESH_MS). */
    private readonly metaRefreshMs: number,
  ) {}

  get size(): number {
    return this.calls.size;
  }

  /** Live calls plus claims in flight: what admission counts. */
  get load(): number {
    return this.calls.size + this.reserved;
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

  reserve(): void {
    this.reserved++;
  }

  unreserve(): void {
    this.reserved = Math.max(0, this.reserved - 1);
  }

  add(session: CallSession): void {
    this.calls.set(session.callSid, session);
  }

  remove(session: CallSession): void {
    if (this.calls.get(session.callSid) !== session) return;
    this.calls.delete(session.callSid);
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

  /** Renews every lease now (Redis came back, maybe empty: each missing owner key is written again). */
  renewNow(): void {
    this.renew();
  }

  private renew(): void {
    // One command per call per third of a lease; separate commands (auto-pipelined), since on a
    // cluster each call's key lives in its own slot. The meta once every metaRefreshMs (minutes).
    const keepMeta = Date.now() - this.metaKeptAt >= this.metaRefreshMs;
    if (keepMeta) this.metaKeptAt = Date.now();
    for (const session of this.calls.values()) {
      if (session.finished) continue;
      this.ownership
        .renew(session.callSid)
        .catch((err: unknown) =>
          this.logger.error('owner lease renewal failed', { callSid: session.callSid, ...errorFields(err) }),
        );
      if (keepMeta)
        this.ownership
          .keepMeta(session.callSid)
          .catch((err: unknown) =>
            this.logger.error('call meta renewal failed', { callSid: session.callSid, ...errorFields(err) }),
          );
    }
  }
}
