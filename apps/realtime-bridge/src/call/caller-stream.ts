/**
 * The caller's side of a call as the bridge sees it: entries the gateway wrote
 * to `call:{CA}:in`, decoded (malformed ones skipped and counted), with caller
 * audio held in order while no model session can take it (setup, warm,
 * reconnecting) and forwarded directly once one can.
 */
import type { Logger } from '@voice/logging';
import { decodeInboundEntries, type InboundEntry, type InvalidStreamEntryError, type RawStreamEntry } from '@voice/redis';
import type { BridgeMetrics } from '../metrics.js';

/** Caller frames kept while the model is not ready: 30 s is more than any setup budget. */
const MAX_PENDING_FRAMES = 1500;

export interface CallerStreamHandlers {
  onStart(entry: Extract<InboundEntry, { kind: 'start' }>): void;
  onMark(name: string): void;
  onStop(entry: Extract<InboundEntry, { kind: 'stop' }>): void;
}

export class CallerStream {
  private pending: string[] = [];
  private sink: ((payload: string) => void) | undefined;
  private closed = false;
  private invalidLogged = false;
  private dropped = 0;

  constructor(
    private readonly handlers: CallerStreamHandlers,
    private readonly metrics: BridgeMetrics,
    private readonly logger: Logger,
  ) {}

  /** Handler for the stream tail. */
  readonly onEntries = (entries: RawStreamEntry[]): void => {
    for (const entry of decodeInboundEntries(entries, (err) => this.onInvalid(err))) this.dispatch(entry);
  };

  /** Caller audio now goes to `sink`; what was held goes first, in order. Returns how many frames were held. */
  connect(sink: (payload: string) => void): number {
    const held = this.pending.length;
    for (const payload of this.pending) sink(payload);
    this.pending = [];
    this.sink = sink;
    if (this.dropped > 0) this.logger.warn('caller frames dropped while the model was not ready', { dropped: this.dropped });
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

  private dispatch(entry: InboundEntry): void {
    switch (entry.kind) {
      case 'start':
        // A start announced again (the previous owner died): audio held from before it is stale.
        if (!this.sink) this.pending = [];
        return this.handlers.onStart(entry);
      case 'media':
        this.metrics.rxFrames.inc();
        if (this.sink) this.sink(entry.payload);
        else if (!this.closed && this.pending.length < MAX_PENDING_FRAMES) this.pending.push(entry.payload);
        else if (!this.closed) this.dropped++;
        return;
      case 'mark':
        return this.handlers.onMark(entry.name);
      case 'dtmf':
        this.logger.info('caller dtmf', { digit: entry.digit });
        return;
      case 'stop':
        return this.handlers.onStop(entry);
    }
  }

  private onInvalid(err: InvalidStreamEntryError): void {
    this.metrics.invalidEntries.inc();
    if (this.invalidLogged) return;
    this.invalidLogged = true;
    this.logger.warn('skipping invalid inbound entry', { error: err.message });
  }
}
