/** What every media session shares with the rest of the gateway (built once in gateway.ts). */
import type { Redis } from 'ioredis';
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import type { SharedKeys, StreamFollower, Timeline } from '@voice/redis';
import type { ClipLibrary } from './clips.js';
import type { GatewayConfig } from './config.js';
import type { GatewayMetrics } from './metrics.js';
import type { PendingWork } from './pending-work.js';
import type { OwnerWatch } from './owner-watch.js';

export interface GatewayContext {
  config: GatewayConfig;
  logger: Logger;
  /** The auto-pipelined command connection: every write of every call, in order. */
  redis: Redis;
  keys: SharedKeys;
  timeline: Timeline;
  /** Follows every live call's `call:{CA}:out` (a pool of blocking connections). */
  tail: StreamFollower;
  calls: CallRepository;
  metrics: GatewayMetrics;
  /** The pre-rendered clips, loaded at start. */
  clips: ClipLibrary;
  /** Re-offers live calls whose bridge died. */
  ownerWatch: OwnerWatch;
  /** Fire-and-forget writes that stop() must let finish before closing connections. */
  pending: PendingWork;
}
