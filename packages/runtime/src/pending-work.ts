/**
 * Tracks writes nobody awaits (a calls-row update must not hold up audio, nor
 * Twilio's answer), so shutdown can let them land before it closes the
 * connections they use.
 */
export class PendingWork {
  private readonly inFlight = new Set<Promise<unknown>>();

  get size(): number {
    return this.inFlight.size;
  }

  /** `work` must handle its own errors: this only waits for it. */
  track(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }

  /** Resolves once everything tracked so far (and anything tracked meanwhile) has settled. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
