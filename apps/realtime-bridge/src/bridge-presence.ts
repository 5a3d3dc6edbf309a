/**
 * This bridge's entry in the bridge registry: where its media link listens,
 * how loaded it is, whether it is draining. Written every heartbeat and
 * whenever the bridge fills up or gets room again (so gateways stop offering
 * calls to a full bridge within a round trip, not a heartbeat); removed on stop.
 * The next report after a call is taken also gives back the place POST /calls
 * reserved for it while it rang (BridgeRegistry.publish); until then the call
 * may count twice (reserved and loaded), which only errs toward refusing.
 */
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { BridgeInfo, BridgeRegistry } from '@voice/redis';

export interface PresenceSource {
  load(): number;
  draining(): boolean;
}

export class BridgePresence {
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private lastFull: boolean | undefined;
  /** Calls taken since the last report: their outbound room reservations go with the next one. */
  private taken: string[] = [];

  constructor(
    private readonly registry: BridgeRegistry,
    private readonly identity: Pick<BridgeInfo, 'instance' | 'linkHost' | 'linkPort' | 'capacity'>,
    private readonly source: PresenceSource,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.report();
    this.timer = setInterval(() => void this.report(), this.intervalMs);
    this.timer.unref();
  }

  /** This bridge took a call (it counts in `load` from now on). */
  callTaken(callSid: string): void {
    this.taken.push(callSid);
  }

  /** Load changed: report now if the bridge just became full or got room back. */
  loadChanged(): void {
    const full = this.isFull();
    if (full !== this.lastFull) void this.report();
  }

  /** Draining began: tell gateways at once. */
  async reportNow(): Promise<void> {
    await this.report();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.registry.remove(this.identity.instance).catch(() => undefined);
  }

  private isFull(): boolean {
    return this.source.draining() || this.source.load() >= this.identity.capacity;
  }

  private async report(): Promise<void> {
    this.lastFull = this.isFull();
    const taken = this.taken;
    this.taken = [];
    try {
      await this.registry.publish(
        { ...this.identity, load: this.source.load(), draining: this.source.draining(), at: Date.now() },
        taken,
      );
      this.failing = false;
    } catch (err) {
      // Given back with the next report; a reservation never given back expires after the longest ring.
      this.taken.push(...taken);
      if (!this.failing) this.logger.error('bridge registry report failed', errorFields(err));
      this.failing = true;
    }
  }
}
