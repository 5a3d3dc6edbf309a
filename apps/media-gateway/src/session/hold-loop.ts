/**
 * The hold clip ("one moment please"), repeated for as long as the caller waits: a model
 * session being set up or reconnecting, a call being handed to another bridge. Between two
 * plays the caller hears at most `gapMs` of silence (plus the clip's own trailing pause).
 *
 * Why the gateway repeats it and not the bridge: the gateway holds the clip, so it knows the
 * clip's real length, and it knows when Twilio will have played what was sent (the playout
 * estimate), so it sends the next play when the last one has played out plus the gap, whatever
 * the clip's length and the link's delay. A bridge-side timer that had to guess the length left
 * 3.6 s of silence between repeats of a 2.4 s clip. The bridge only says when waiting starts and
 * ends (`hold` records).
 *
 * It stops on `hold` off, on the first model audio, on a hangup and when the call ends. A hold
 * clip still playing then is cut (Twilio `clear`), so the greeting or the fallback is heard at
 * once instead of after the rest of the clip; but not while audio sent before that clip is still
 * queued, which a clear would drop too.
 */

export interface HoldPlayer {
  /** Sends the hold clip to Twilio (queued behind what is already sent); false when the socket is closed. */
  playHold(): boolean;
  /** Ms of audio sent and not yet played. */
  queuedMs(): number;
  /** Drops everything Twilio has queued. */
  clear(): void;
}

/** The clock and timer the loop runs on (tests drive a fake one). */
export interface HoldTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: HoldTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class HoldLoop {
  /** Clips sent by this loop. */
  plays = 0;
  private running = false;
  private timer: unknown;
  /** From this time on, only hold audio is queued at Twilio (what was ahead of the clip has played). */
  private onlyHoldQueuedFrom = Number.POSITIVE_INFINITY;

  constructor(
    private readonly player: HoldPlayer,
    private readonly gapMs: number,
    private readonly timers: HoldTimers = REAL_TIMERS,
  ) {}

  get active(): boolean {
    return this.running;
  }

  /** Plays the clip now (behind anything still queued) and keeps repeating it; a no-op while running. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.playNext();
  }

  /** Stops repeating; with `cut`, a hold clip still playing is cleared (see the module comment). */
  stop(cut = true): void {
    if (!this.running) return;
    this.running = false;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (cut && this.player.queuedMs() > 0 && this.timers.now() >= this.onlyHoldQueuedFrom) this.player.clear();
  }

  private playNext(): void {
    this.timer = undefined;
    if (!this.running) return;
    const ahead = this.player.queuedMs();
    if (!this.player.playHold()) {
      this.running = false;
      return;
    }
    this.plays++;
    this.onlyHoldQueuedFrom = this.timers.now() + ahead;
    this.timer = this.timers.setTimeout(() => this.playNext(), this.player.queuedMs() + this.gapMs);
  }
}
