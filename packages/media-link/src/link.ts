/**
 * One authenticated media link between a gateway and a bridge, carrying every
 * call between them. Records are queued and written once per event-loop turn
 * (one write for all the frames that arrived together), pinged so a dead peer
 * is noticed within about a second, and bounded: a peer that stops reading
 * gets its audio dropped (counted, logged) and, past a hard cap, the link cut.
 */
import type { Logger } from '@voice/logging';
import { MEDIA_LINK_DEFAULTS, type MediaLinkTimings } from './defaults.js';
import type { LineSocket } from './line-socket.js';
import { InvalidRecordError, isDroppable } from './records.js';

/** Why a link closed: the peer went away, stopped answering, stopped reading, or we closed it. */
export type LinkCloseReason = 'closed' | 'peer_silent' | 'stalled' | 'line_too_long' | 'shutdown' | string;

/** Hooks for the owning service's metrics. */
export interface LinkObserver {
  audioDropped(): void;
  invalidRecord(): void;
  rtt(ms: number): void;
}

export interface MediaLinkOptions<In, Out> {
  lines: LineSocket;
  /** Instance id of the other end (proven by the handshake). */
  peer: string;
  decode(line: string): In;
  encode(record: Out): string;
  timings?: Partial<MediaLinkTimings>;
  logger: Logger;
  observer?: LinkObserver;
}

export interface LinkStats {
  recordsSent: number;
  /** Socket writes that carried them (and the pings): records per write is what coalescing buys. */
  writes: number;
  recordsReceived: number;
  audioDropped: number;
  invalidRecords: number;
  /** Round trip of the last ping, ms. */
  rttMs: number | undefined;
}

const PING = 0x70; // p
const PONG = 0x71; // q

export class MediaLink<In, Out> {
  readonly peer: string;
  /** Set by the owner: every valid record from the peer, in order. */
  onRecord: (record: In) => void = () => undefined;
  /** Resolves once, with the reason, when the link is gone. */
  readonly closed: Promise<LinkCloseReason>;
  readonly stats: LinkStats = {
    recordsSent: 0,
    writes: 0,
    recordsReceived: 0,
    audioDropped: 0,
    invalidRecords: 0,
    rttMs: undefined,
  };
  private readonly timings: MediaLinkTimings;
  private readonly log: Logger;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the last write to the socket. */
  private lastWriteAt = -Infinity;
  private readonly pingTimer: NodeJS.Timeout;
  private lastTickAt = Date.now();
  private resolveClosed!: (reason: LinkCloseReason) => void;
  private closeReason: LinkCloseReason | undefined;

  constructor(private readonly options: MediaLinkOptions<In, Out>) {
    this.peer = options.peer;
    this.timings = { ...MEDIA_LINK_DEFAULTS, ...options.timings };
    this.log = options.logger.child({ link_peer: options.peer });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    const { lines } = options;
    lines.onLine = (line) => this.onLine(line);
    lines.onGone = (reason) => this.onGone(reason);
    this.pingTimer = setInterval(() => this.tick(), this.timings.pingIntervalMs);
    this.pingTimer.unref();
    if (lines.isGone) this.onGone('closed');
  }

  get isOpen(): boolean {
    return this.closeReason === undefined;
  }

  /** Bytes waiting to reach the peer (ours plus the socket's). */
  get queuedBytes(): number {
    return this.pendingBytes + this.options.lines.socket.writableLength;
  }

  /** Queues a record; false when it was not sent (link closed, dropped under backpressure, or unencodable). */
  send(record: Out): boolean {
    if (this.closeReason !== undefined) return false;
    let line: string;
    try {
      line = this.options.encode(record);
    } catch (err) {
      this.log.error('media link record not encodable; not sent', { error: (err as Error).message });
      return false;
    }
    const queued = this.queuedBytes;
    if (queued + line.length > this.timings.maxQueuedBytes) {
      this.log.error('media link peer stopped reading; cutting the link', { queuedBytes: queued });
      this.close('stalled');
      return false;
    }
    if (queued > this.timings.maxQueuedAudioBytes && isDroppable(line)) {
      this.stats.audioDropped++;
      this.options.observer?.audioDropped();
      if (this.stats.audioDropped % MEDIA_LINK_DEFAULTS.dropLogEvery === 1) {
        this.log.warn('media link peer is slow; dropping audio', {
          dropped: this.stats.audioDropped,
          queuedBytes: queued,
        });
      }
      return false;
    }
    this.queue(line);
    this.stats.recordsSent++;
    return true;
  }

  /** Closes the link; pending records are written first unless the peer is stalled. */
  close(reason: LinkCloseReason = 'shutdown'): void {
    if (this.closeReason !== undefined) return;
    const { lines } = this.options;
    if (reason === 'stalled' || reason === 'peer_silent') {
      lines.destroy(reason);
      return;
    }
    this.flush();
    this.onGone(reason);
    lines.socket.end();
  }

  private queue(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.timings.coalesceMs - (performance.now() - this.lastWriteAt);
    // Idle link: after the poll phase, so every frame read in this turn of the loop goes out in one write.
    if (wait <= 0) setImmediate(() => this.flush());
    // Busy link: the frames of the next moment join this write.
    else this.flushTimer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    this.lastWriteAt = performance.now();
    this.stats.writes++;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.options.lines.write(text);
  }

  private onLine(line: string): void {
    const type = line.charCodeAt(0);
    if (type === PING) {
      this.queue(`q${line.slice(1)}\n`);
      return;
    }
    if (type === PONG) {
      const sentAt = Number(line.slice(2));
      if (Number.isFinite(sentAt)) {
        this.stats.rttMs = performance.now() - sentAt;
        this.options.observer?.rtt(this.stats.rttMs);
      }
      return;
    }
    let record: In;
    try {
      record = this.options.decode(line);
    } catch (err) {
      this.stats.invalidRecords++;
      this.options.observer?.invalidRecord();
      if (this.stats.invalidRecords <= 3) {
        this.log.warn('invalid media link record skipped', {
          error: err instanceof InvalidRecordError ? err.message : String(err),
          line: line.slice(0, 80),
        });
      }
      return;
    }
    this.stats.recordsReceived++;
    this.onRecord(record);
  }

  private tick(): void {
    const now = Date.now();
    const late = now - this.lastTickAt > this.timings.deadAfterMs / 2;
    this.lastTickAt = now;
    // If our own event loop was blocked, the peer's data is sitting unread in the socket: not its fault.
    if (!late && now - this.options.lines.lastHeardAt > this.timings.deadAfterMs) {
      this.log.warn('media link peer silent; closing the link', { silentMs: now - this.options.lines.lastHeardAt });
      this.close('peer_silent');
      return;
    }
    this.queue(`p ${performance.now().toFixed(3)}\n`);
  }

  private onGone(reason: LinkCloseReason): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    clearInterval(this.pingTimer);
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.pending = [];
    this.pendingBytes = 0;
    this.resolveClosed(reason);
  }
}
