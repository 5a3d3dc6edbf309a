/**
 * When Twilio will have played everything sent so far, assuming playback at
 * real time from the moment audio is sent (it plays in order, 8 bytes per ms).
 * Only a deadline for waiting on a mark echo: the echo itself is the truth.
 */
import { bytesToMs } from '@voice/protocols';

export class PlayoutEstimate {
  private endsAt = 0;

  /** `bytes` of audio went out at `now`: they play after whatever is still queued. */
  queued(bytes: number, now: number): void {
    this.endsAt = Math.max(this.endsAt, now) + bytesToMs(bytes);
  }

  /** A clear dropped everything queued. */
  cleared(now: number): void {
    this.endsAt = now;
  }

  /** Ms of audio still queued at Twilio at `now`. */
  remainingMs(now: number): number {
    return Math.max(0, this.endsAt - now);
  }
}
