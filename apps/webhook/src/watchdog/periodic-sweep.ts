/**
 * A sweep run every `everyMs` (the stream watchdog, the placed-call sweep):
 * never two at once (a slow sweep is joined, not overlapped), the timer does
 * not keep the process alive, and stop waits for the sweep under way.
 */
export class PeriodicSweep {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly everyMs: number,
    /** One sweep; it logs its own failures (a rejection here would be unhandled). */
    private readonly run: () => Promise<void>,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One sweep now, or the one under way. */
  sweep(): Promise<void> {
    this.sweeping ??= this.run().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }
}
