/**
 * Several StreamTails, each on its own blocking connection, sharing the live
 * calls between them (a new stream goes to the least-loaded tail).
 *
 * Why: every XREAD lists all the streams its tail follows, and with real
 * traffic each caller frame wakes a read of its own, so one tail costs
 * O(calls) per frame on both client and server. K tails bring that to
 * O(calls / K) for K - 1 more connections. The bench profile showed the
 * single tail's loop as the bridge's largest cost at 50 calls.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@voice/logging';
import { quitRedis } from './connection.js';
import { StreamTail, type StreamHandler } from './stream-tail.js';

/** What gateway and bridge need from whatever follows their per-call streams. */
export interface StreamFollower {
  add(key: string, fromId: string, handler: StreamHandler, opts?: { trim?: boolean }): void;
  remove(key: string): void;
  has(key: string): boolean;
  readonly size: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const STREAM_TAIL_POOL_DEFAULTS = {
  /** Blocking connections per process; a few are plenty below ~50 calls per connection. */
  connections: 8,
} as const;

export interface StreamTailPoolOptions {
  connections: number;
  /** Opens the i-th dedicated blocking connection (the pool closes them on stop). */
  openBlocking: (index: number) => Redis;
  commands: Redis;
  logger: Logger;
  name: string;
}

export class StreamTailPool implements StreamFollower {
  private readonly blocking: Redis[];
  private readonly tails: StreamTail[];
  private readonly owners = new Map<string, StreamTail>();

  constructor(options: StreamTailPoolOptions) {
    const count = Math.max(1, options.connections);
    this.blocking = Array.from({ length: count }, (_, i) => options.openBlocking(i));
    this.tails = this.blocking.map(
      (blocking, i) => new StreamTail({ blocking, commands: options.commands, logger: options.logger, name: `${options.name}-${i}` }),
    );
  }

  get size(): number {
    return this.owners.size;
  }

  async start(): Promise<void> {
    await Promise.all(this.tails.map((t) => t.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.tails.map((t) => t.stop()));
    await Promise.all(this.blocking.map((b) => quitRedis(b)));
  }

  add(key: string, fromId: string, handler: StreamHandler, opts?: { trim?: boolean }): void {
    let tail = this.owners.get(key);
    if (!tail) {
      tail = this.tails.reduce((least, t) => (t.size < least.size ? t : least));
      this.owners.set(key, tail);
    }
    tail.add(key, fromId, handler, opts);
  }

  remove(key: string): void {
    this.owners.get(key)?.remove(key);
    this.owners.delete(key);
  }

  has(key: string): boolean {
    return this.owners.has(key);
  }
}
