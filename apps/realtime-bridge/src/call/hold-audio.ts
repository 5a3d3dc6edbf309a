/**
 * Keeps the caller from sitting in silence while the model is not speaking yet:
 * after `afterMs` without model audio (counted from START), or at once when the
 * model dropped mid-call, the gateway is told the caller is waiting (`hold` on);
 * the gateway then repeats the hold clip as each play ends (it knows the clip's
 * length and Twilio's playout: media-gateway session/hold-loop.ts) until model
 * audio reaches it, a hangup, or `hold` off from here.
 */
export class HoldAudio {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** True while the gateway has been told to hold (and not told to stop). */
  private holding = false;
  /** Times the gateway was told to start holding. */
  plays = 0;

  constructor(
    private readonly setHold: (on: boolean) => void,
    private readonly afterMs: number,
  ) {}

  /** Starts counting from `sinceEpochMs` (the START time), not from now. */
  start(sinceEpochMs: number): void {
    if (this.stopped || this.timer || this.holding) return;
    this.timer = setTimeout(() => this.begin(), Math.max(0, sinceEpochMs + this.afterMs - Date.now()));
    this.timer.unref();
  }

  /** Hold only if the wait lasts `afterMs` from now (a planned session change that runs late). */
  startFromNow(): void {
    this.stopped = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.begin(), this.afterMs);
    this.timer.unref();
  }

  /** Hold now (the model dropped mid-call) until stopped. */
  playNow(): void {
    this.stopped = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.begin();
  }

  /** The caller is no longer waiting (model audio, a fallback, the end of the call). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.holding) return;
    this.holding = false;
    this.setHold(false);
  }

  private begin(): void {
    this.timer = undefined;
    if (this.stopped || this.holding) return;
    this.holding = true;
    this.plays++;
    this.setHold(true);
  }
}
