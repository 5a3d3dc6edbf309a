/**
 * Tails many per-call streams on ONE dedicated blocking connection.
 *
 * A gateway or bridge instance follows one stream per live call. Instead of a
 * connection per call, a single `XREAD BLOCK` covers all of them; when the set of
 * streams changes, the blocked read is interrupted with `CLIENT UNBLOCK` from the
 * command connection so a new call never waits for the block timeout.
 * Handlers run synchronously in stream order; each stream is trimmed up to what
 * was consumed so Redis holds only undelivered entries.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import type { RawStreamEntry } from './stream-entry.js';

export const STREAM_TAIL_DEFAULTS = {
  /** How long one XREAD may block when nothing arrives (ms); membership changes interrupt it. */
  blockMs: 5000,
  /** Entries per stream per read. */
  count: 200,
  /** Back-off after a Redis error before reading again (ms). */
  errorBackoffMs: 250,
  /**
   * Consumed entries are trimmed once this many have piled up (one XTRIM per
   * batch, not per read: it was a third of all Redis commands). A call then
   * holds at most this many delivered entries (~20 KB) in Redis.
   */
  trimEvery: 64,
} as const;

export type StreamHandler = (entries: RawStreamEntry[]) => void;

interface Tailed {
  lastId: string;
  handler: StreamHandler;
  trim: boolean;
  untrimmed: number;
}

export interface StreamTailOptions {
  /** Dedicated connection for the blocking read (never used for anything else). */
  blocking: Redis;
  /** Shared command connection (CLIENT UNBLOCK, XTRIM). */
  commands: Redis;
  logger: Logger;
  name: string;
  blockMs?: number;
  count?: number;
}

export class StreamTail {
  private readonly streams = new Map<string, Tailed>();
  private running = false;
  private loop: Promise<void> | undefined;
  private blockingClientId: number | undefined;
  private reading = false;
  private wake: (() => void) | undefined;
  private readonly blockMs: number;
  private readonly count: number;

  constructor(private readonly options: StreamTailOptions) {
    this.blockMs = options.blockMs ?? STREAM_TAIL_DEFAULTS.blockMs;
    this.count = options.count ?? STREAM_TAIL_DEFAULTS.count;
  }

  get size(): number {
    return this.streams.size;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.blockingClientId = Number(await this.options.blocking.client('ID'));
    this.options.blocking.on('ready', () => {
      // A reconnect gives the blocking connection a new client id.
      void this.options.blocking.client('ID').then((id) => (this.blockingClientId = Number(id)));
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.interrupt();
    await this.loop;
  }

  /** Follow `key` from `fromId` ('0' = from the beginning). Replaces an existing handler. */
  add(key: string, fromId: string, handler: StreamHandler, opts: { trim?: boolean } = {}): void {
    this.streams.set(key, { lastId: fromId, handler, trim: opts.trim ?? true, untrimmed: 0 });
    this.interrupt();
  }

  remove(key: string): void {
    if (this.streams.delete(key)) this.interrupt();
  }

  has(key: string): boolean {
    return this.streams.has(key);
  }

  private interrupt(): void {
    if (this.wake) {
      const wake = this.wake;
      this.wake = undefined;
      wake();
      return;
    }
    if (this.reading && this.blockingClientId !== undefined) {
      this.options.commands.client('UNBLOCK', this.blockingClientId).catch((err: unknown) => {
        this.options.logger.warn('stream tail unblock failed', { tail: this.options.name, ...errorFields(err) });
      });
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const keys = [...this.streams.keys()];
      const ids = keys.map((k) => this.streams.get(k)!.lastId);
      let result: [string, RawStreamEntry[]][] | null;
      try {
        this.reading = true;
        result = (await this.options.blocking.xread(
          'COUNT',
          this.count,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          ...keys,
          ...ids,
        )) as [string, RawStreamEntry[]][] | null;
      } catch (err) {
        if (!this.running) break;
        this.options.logger.error('stream tail read failed', { tail: this.options.name, ...errorFields(err) });
        await sleep(STREAM_TAIL_DEFAULTS.errorBackoffMs);
        continue;
      } finally {
        this.reading = false;
      }
      if (!result) continue;
      for (const [key, entries] of result) this.deliver(key, entries);
    }
  }

  private deliver(key: string, entries: RawStreamEntry[]): void {
    const tailed = this.streams.get(key);
    if (!tailed || entries.length === 0) return;
    tailed.lastId = entries[entries.length - 1]![0];
    try {
      tailed.handler(entries);
    } catch (err) {
      this.options.logger.error('stream handler failed', { tail: this.options.name, key, ...errorFields(err) });
    }
    tailed.untrimmed += entries.length;
    if (tailed.trim && tailed.untrimmed >= STREAM_TAIL_DEFAULTS.trimEvery && this.streams.has(key)) {
      tailed.untrimmed = 0;
      // MINID keeps the last consumed entry and drops everything before it.
      this.options.commands.xtrim(key, 'MINID', tailed.lastId).catch(() => undefined);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
