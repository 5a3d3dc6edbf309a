/**
 * The caller's side of a call as the bridge sees it: records the gateway sent
 * over the media link for this call, with caller audio held in order while no
 * model session can take it (setup, warm, reconnecting) and forwarded directly
 * once one can.
 */
import type { Logger } from '@voice/logging';
import type { AttachRecord, StopRecord } from '@voice/media-link';
import type { BridgeMetrics } from '../metrics.js';

export interface CallerStreamHandlers {
  onAttach(record: AttachRecord): void;
  onMark(name: string): void;
  onDtmf(digit: string): void;
  onStop(record: StopRecord): void;
}

export class CallerStream {
  private pending: string[] = [];
  private sink: ((payload: string) => void) | undefined;
  private closed = false;
  private dropped = 0;
  /** Caller frames received from the gateway(s). */
  received = 0;
  /** performance.now() of the last frame handed to a model session (the gap a session swap leaves is measured from it). */
  lastForwardedAt: number | undefined;
  /** The last frames handed to a model session, oldest first (a ring of `keepRecent`). */
  private recent: string[] = [];
  private recentNext = 0;

  constructor(
    private readonly handlers: CallerStreamHandlers,
    private readonly maxPendingFrames: number,
    private readonly metrics: BridgeMetrics,
    private readonly logger: Logger,
    /** How many of the last forwarded frames to keep for a new session (the VAD's prefix padding). */
    private readonly keepRecent = 0,
  ) {}

  /**
   * The last frames the previous session got, oldest first: a new session is given them first so a
   * caller who starts speaking right at a swap is heard from the first syllable.
   */
  recentFrames(): string[] {
    return [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
  }

  /** Caller audio now goes to `sink`; what was held goes first, in order. Returns how many frames were held. */
  connect(sink: (payload: string) => void): number {
    const held = this.pending.length;
    for (const payload of this.pending) this.forward(sink, payload);
    this.pending = [];
    this.sink = sink;
    if (this.dropped > 0)
      this.logger.warn('caller frames dropped while the model was not ready', { dropped: this.dropped });
    this.dropped = 0;
    return held;
  }

  /** The model session is gone (reconnecting): hold caller audio again. */
  disconnect(): void {
    this.sink = undefined;
  }

  close(): void {
    this.closed = true;
    this.sink = undefined;
    this.pending = [];
  }

  attach(record: AttachRecord): void {
    this.handlers.onAttach(record);
  }

  media(payload: string): void {
    if (this.closed) return;
    this.received++;
    this.metrics.rxFrames.inc();
    if (this.sink) this.forward(this.sink, payload);
    else if (this.pending.length < this.maxPendingFrames) this.pending.push(payload);
    else this.dropped++;
  }

  private forward(sink: (payload: string) => void, payload: string): void {
    sink(payload);
    this.lastForwardedAt = performance.now();
    if (this.keepRecent === 0) return;
    if (this.recent.length < this.keepRecent) {
      this.recent.push(payload);
      return;
    }
    // Full: recentNext is the oldest frame, overwritten now.
    this.recent[this.recentNext] = payload;
    this.recentNext = (this.recentNext + 1) % this.keepRecent;
  }

  mark(name: string): void {
    this.handlers.onMark(name);
  }

  dtmf(digit: string): void {
    this.handlers.onDtmf(digit);
  }

  stop(record: StopRecord): void {
    this.handlers.onStop(record);
  }
}
