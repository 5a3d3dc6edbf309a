/**
 * One timer that ticks every 20 ms for any number of calls: the open-loop
 * cadence of a load test. Tick `i` is due at `origin + i * frameMs`, computed
 * from the start time, so the rate stays exact even when timers fire late: a
 * late timer delivers every tick that fell due (Twilio, too, sends a burst after
 * a stall). The timer runs only while someone listens, so it never keeps a
 * finished test process alive.
 */
import { FRAME_MS } from '@voice/protocols';

export interface FrameTick {
  /** Tick number since the clock (re)started, from 0. */
  index: number;
  /** When the tick was due, on the `performance.now()` scale. */
  dueAt: number;
  /** How late the timer delivered it, in ms. */
  lagMs: number;
}

export type FrameListener = (tick: FrameTick) => void;

/** What a frame hook sees; it may return a replacement payload (e.g. stamped for latency tracing). */
export interface OutgoingFrame {
  callSid: string;
  streamSid: string;
  chunk: number;
  timestampMs: number;
  payload: Buffer;
  /** `performance.now()` when the frame is sent. */
  sentAt: number;
}
export type FrameHook = (frame: OutgoingFrame) => Buffer | void;

export interface FrameClockOptions {
  frameMs?: number;
  /** Applied to every frame of every call on this clock (after the call's own hook). */
  onFrame?: FrameHook;
}

export interface FrameClockStats {
  ticks: number;
  /** Ticks delivered more than one frame late (the generator fell behind). */
  lateTicks: number;
  maxLagMs: number;
}

export class FrameClock {
  readonly frameMs: number;
  readonly onFrame: FrameHook | undefined;
  private readonly listeners = new Set<FrameListener>();
  private timer: NodeJS.Timeout | undefined;
  /** True while ticks are being delivered: listeners may (un)subscribe meanwhile. */
  private firing = false;
  private origin = 0;
  private nextIndex = 0;
  private readonly counters: FrameClockStats = { ticks: 0, lateTicks: 0, maxLagMs: 0 };

  constructor(options: FrameClockOptions = {}) {
    this.frameMs = options.frameMs ?? FRAME_MS;
    this.onFrame = options.onFrame;
  }

  /** Starts delivering ticks to `listener`; returns the function that stops it. */
  subscribe(listener: FrameListener): () => void {
    this.listeners.add(listener);
    if (!this.timer && !this.firing) this.start();
    return () => this.unsubscribe(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Whether a timer is pending (false once every listener has left). */
  get running(): boolean {
    return this.timer !== undefined || this.firing;
  }

  stats(): FrameClockStats {
    return { ...this.counters };
  }

  private unsubscribe(listener: FrameListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.halt();
  }

  private start(): void {
    this.origin = performance.now();
    this.nextIndex = 1;
    this.schedule();
  }

  private halt(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const dueAt = this.origin + this.nextIndex * this.frameMs;
    this.timer = setTimeout(() => this.fire(), Math.max(0, dueAt - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.firing = true;
    const now = performance.now();
    const lastDue = Math.floor((now - this.origin) / this.frameMs);
    try {
      for (let index = this.nextIndex; index <= lastDue && this.listeners.size > 0; index++) {
        const dueAt = this.origin + index * this.frameMs;
        const tick: FrameTick = { index, dueAt, lagMs: now - dueAt };
        this.record(tick);
        for (const listener of this.listeners) listener(tick);
      }
    } finally {
      this.nextIndex = Math.max(this.nextIndex, lastDue + 1);
      this.firing = false;
      if (this.listeners.size > 0) this.schedule();
    }
  }

  private record(tick: FrameTick): void {
    this.counters.ticks++;
    if (tick.lagMs > this.frameMs) this.counters.lateTicks++;
    if (tick.lagMs > this.counters.maxLagMs) this.counters.maxLagMs = tick.lagMs;
  }
}
