/**
 * Waits for START: a note at the warn threshold, a decision at the timeout.
 * Cancelled by START or by the socket closing; never leaves a timer behind.
 */
export interface StartWatchdogOptions {
  warnMs: number;
  timeoutMs: number;
  onSlow: (waitedMs: number) => void;
  onTimeout: (waitedMs: number) => void;
}

export class StartWatchdog {
  private warnTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StartWatchdogOptions) {}

  arm(): void {
    const { warnMs, timeoutMs, onSlow, onTimeout } = this.options;
    this.warnTimer = setTimeout(() => {
      this.warnTimer = undefined;
      onSlow(warnMs);
    }, warnMs);
    this.timeoutTimer = setTimeout(() => {
      this.timeoutTimer = undefined;
      this.cancel();
      onTimeout(timeoutMs);
    }, timeoutMs);
  }

  cancel(): void {
    if (this.warnTimer) clearTimeout(this.warnTimer);
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.warnTimer = undefined;
    this.timeoutTimer = undefined;
  }
}
