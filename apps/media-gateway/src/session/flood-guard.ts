/**
 * Caps messages per socket per window. Twilio sends 50 media frames a second;
 * a sender far above the cap is broken or hostile, and its excess is dropped
 * before any parsing so it cannot starve the other calls on this process.
 */
export class FloodGuard {
  private windowStart = 0;
  private inWindow = 0;

  constructor(
    private readonly maxPerWindow: number,
    private readonly windowMs: number,
  ) {}

  /** True when this message is within the cap. */
  admit(now: number): boolean {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    this.inWindow++;
    return this.inWindow <= this.maxPerWindow;
  }
}
