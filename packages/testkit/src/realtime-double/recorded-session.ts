/**
 * Everything one Realtime session saw and did, for assertions: what the client
 * sent (audio byte-for-byte), what the double answered, truncates, responses,
 * tool outputs, and how the socket closed. Times (`atMs`) are milliseconds
 * since the WebSocket was accepted.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_WAIT_TIMEOUT_MS } from './constants.js';
import type { JsonObject, SessionConfig } from './session-config.js';

export interface RecordedEvent {
  type: string;
  atMs: number;
  /** The full event; audio payloads (append `audio`, delta `delta`) are replaced by their byte count. */
  event: JsonObject;
}

export interface RecordedTruncate {
  item_id: string;
  content_index: number;
  audio_end_ms: number;
  atMs: number;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'cancelled' | 'failed';

export interface RecordedResponse {
  id: string;
  kind: 'audio' | 'function_call';
  /** `client` for response.create, `server_vad` for an automatic response after a turn. */
  trigger: 'client' | 'server_vad';
  status: ResponseStatus;
  /** `turn_detected` or `client_cancelled` when cancelled. */
  statusReason: string | undefined;
  /** The spoken text (audio responses). */
  text: string;
  itemId: string;
  audioMsSent: number;
  createdAtMs: number;
  firstAudioAtMs: number | undefined;
  doneAtMs: number | undefined;
  functionCall: { name: string; call_id: string; arguments: string } | undefined;
}

export interface RecordedUserTurn {
  item_id: string;
  audio_start_ms: number;
  audio_end_ms: number;
  committedBy: 'server_vad' | 'client';
}

export interface RecordedFunctionCallOutput {
  call_id: string;
  output: string;
  atMs: number;
  /** Whether call_id named a function call this session had issued. */
  matchedCall: boolean;
}

/** An item the client created with conversation.item.create (a replayed conversation arrives this way). */
export interface RecordedItem {
  type: string;
  role: string | undefined;
  /** Message text, `name(arguments)` of a function call, or a function call's output. */
  text: string;
  atMs: number;
}

/** A text message item the client added (`conversation.item.create`, e.g. a key press told to the model). */
export interface RecordedTextItem {
  role: string;
  text: string;
  atMs: number;
}

export interface RecordedError {
  code: string;
  type: string;
  message: string;
  atMs: number;
}

export interface SessionCloseRecord {
  code: number;
  reason: string;
  /** Which side started the close. */
  by: 'server' | 'client';
  atMs: number;
}

export class RealtimeDoubleWaitError extends Error {
  override name = 'RealtimeDoubleWaitError';
}

type Direction = 'client' | 'server';

interface Waiter {
  direction: Direction | 'any';
  type: string;
  nth: number;
  resolve(event: RecordedEvent): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface WaitOptions {
  /** Wait for the nth matching event (1-based, counting ones already recorded). Default 1. */
  nth?: number;
  timeoutMs?: number;
}

export class RecordedSession {
  readonly openedAt = Date.now();
  readonly receivedEvents: RecordedEvent[] = [];
  readonly sentEvents: RecordedEvent[] = [];
  readonly truncates: RecordedTruncate[] = [];
  readonly responses: RecordedResponse[] = [];
  readonly userTurns: RecordedUserTurn[] = [];
  readonly functionCallOutputs: RecordedFunctionCallOutput[] = [];
  /** Items the client created, in order (what a resumed session was given). */
  readonly createdItems: RecordedItem[] = [];
  /** Message items with text content the client added, in order. */
  readonly textItems: RecordedTextItem[] = [];
  /** Every `error` event the double sent. */
  readonly errors: RecordedError[] = [];
  closedWith: SessionCloseRecord | undefined;
  /** The effective session configuration (kept current by the session). */
  config: SessionConfig;

  private readonly startedAt = performance.now();
  private readonly audioChunks: Buffer[] = [];
  private audioBytes = 0;
  private waiters: Waiter[] = [];
  private closeWaiters: Array<(record: SessionCloseRecord) => void> = [];

  constructor(
    readonly id: string,
    readonly model: string,
    /** Request headers of interest, lower-cased names. */
    readonly headers: { authorization?: string; 'openai-beta'?: string; 'user-agent'?: string },
    config: SessionConfig,
  ) {
    this.config = config;
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  /** Milliseconds since the session opened. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** All appended input audio, exactly as received, in order. */
  inputAudio(): Buffer {
    return Buffer.concat(this.audioChunks, this.audioBytes);
  }

  receivedEventTypes(): string[] {
    return this.receivedEvents.map((e) => e.type);
  }

  sentEventTypes(): string[] {
    return this.sentEvents.map((e) => e.type);
  }

  /** Resolves with the nth client event of `type` (already received or yet to come). */
  waitForClientEvent(type: string, options: WaitOptions = {}): Promise<RecordedEvent> {
    return this.waitFor('client', type, options);
  }

  /** Resolves with the nth server event of `type` the double sent (already or yet to be). */
  waitForServerEvent(type: string, options: WaitOptions = {}): Promise<RecordedEvent> {
    return this.waitFor('server', type, options);
  }

  /** Either direction; event type names do not overlap except `error` (server only). */
  waitForEvent(type: string, options: WaitOptions = {}): Promise<RecordedEvent> {
    return this.waitFor('any', type, options);
  }

  waitForClose(timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<SessionCloseRecord> {
    if (this.closedWith) return Promise.resolve(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeWaiters = this.closeWaiters.filter((w) => w !== done);
        reject(new RealtimeDoubleWaitError(`session ${this.id} still open after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (record: SessionCloseRecord) => {
        clearTimeout(timer);
        resolve(record);
      };
      this.closeWaiters.push(done);
    });
  }

  // --- Called by the session --------------------------------------------------

  recordAudio(bytes: Buffer): void {
    this.audioChunks.push(bytes);
    this.audioBytes += bytes.length;
  }

  recordEvent(direction: Direction, type: string, event: JsonObject): void {
    const record: RecordedEvent = { type, atMs: this.elapsedMs(), event };
    (direction === 'client' ? this.receivedEvents : this.sentEvents).push(record);
    for (const waiter of [...this.waiters]) {
      if (!matches(waiter, direction, type)) continue;
      waiter.nth -= 1;
      if (waiter.nth === 0) this.settle(waiter, () => waiter.resolve(record));
    }
  }

  recordError(code: string, type: string, message: string): void {
    this.errors.push({ code, type, message, atMs: this.elapsedMs() });
  }

  recordClose(code: number, reason: string, by: 'server' | 'client'): void {
    if (this.closedWith) return;
    const record = { code, reason, by, atMs: this.elapsedMs() };
    this.closedWith = record;
    for (const done of this.closeWaiters) done(record);
    this.closeWaiters = [];
    for (const waiter of [...this.waiters]) {
      const err = new RealtimeDoubleWaitError(
        `session ${this.id} closed (${code} ${reason}) before ${waiter.direction} event '${waiter.type}'`,
      );
      this.settle(waiter, () => waiter.reject(err));
    }
  }

  private waitFor(direction: Direction | 'any', type: string, options: WaitOptions): Promise<RecordedEvent> {
    const nth = options.nth ?? 1;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const seen = this.eventsFor(direction).filter((e) => e.type === type);
    const already = seen[nth - 1];
    if (already) return Promise.resolve(already);
    if (this.closedWith) {
      return Promise.reject(
        new RealtimeDoubleWaitError(`session ${this.id} is closed; no ${direction} event '${type}' #${nth}`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        direction,
        type,
        nth: nth - seen.length,
        resolve,
        reject,
        timer: setTimeout(() => {
          const err = new RealtimeDoubleWaitError(
            `no ${direction} event '${type}' #${nth} on session ${this.id} within ${timeoutMs} ms`,
          );
          this.settle(waiter, () => reject(err));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private eventsFor(direction: Direction | 'any'): RecordedEvent[] {
    if (direction === 'client') return this.receivedEvents;
    if (direction === 'server') return this.sentEvents;
    return [...this.receivedEvents, ...this.sentEvents].sort((a, b) => a.atMs - b.atMs);
  }

  private settle(waiter: Waiter, action: () => void): void {
    clearTimeout(waiter.timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    action();
  }
}

function matches(waiter: Waiter, direction: Direction, type: string): boolean {
  return waiter.type === type && (waiter.direction === 'any' || waiter.direction === direction);
}
