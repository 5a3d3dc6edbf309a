/**
 * Keeps the caller from sitting in silence while the model is not speaking yet:
 * after `afterMs` without model audio the gateway plays the hold clip, and
 * again every `repeatMs` while that lasts. Stopped by the first model audio.
 */
export class HoldAudio {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  plays = 0;

  constructor(
    private readonly play: () => void,
    private readonly afterMs: number,
    private readonly repeatMs: number,
  ) {}

  /** Starts counting from `sinceEpochMs` (the START time), not from now. */
  start(sinceEpochMs: number): void {
    if (this.stopped || this.timer) return;
    this.schedule(Math.max(0, sinceEpochMs + this.afterMs - Date.now()));
  }

  /** Play only if the wait lasts `afterMs` from now (a planned session change that runs late), then repeat. */
  startFromNow(): void {
    this.stopped = false;
    clearTimeout(this.timer);
    this.schedule(this.afterMs);
  }

  /** Play now (the model dropped mid-call) and keep repeating until stopped. */
  playNow(): void {
    this.stopped = false;
    clearTimeout(this.timer);
    this.fire();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
    this.timer.unref();
  }

  private fire(): void {
    if (this.stopped) return;
    this.plays++;
    this.play();
    this.schedule(this.repeatMs);
  }
}
