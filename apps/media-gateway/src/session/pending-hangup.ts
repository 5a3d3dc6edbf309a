/**
 * A hangup waiting for its clip to be heard: Twilio echoes `markName` once
 * everything queued before it has played; the deadline covers an echo that
 * never comes. Closing earlier would cut the clip (Twilio drops queued audio
 * when the socket closes and moves on to the TwiML after </Connect>).
 */
export class PendingHangup {
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** The stop reason the call ends with, e.g. `hangup:model_unreachable`. */
    readonly stopReason: string,
    readonly markName: string,
    readonly waitMs: number,
    onDeadline: () => void,
  ) {
    this.timer = setTimeout(onDeadline, waitMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}
