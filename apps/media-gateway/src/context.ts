/** What every media session shares with the rest of the gateway (built once in resources.ts). */
import type { CallRepository } from '@voice/db';
import type { Logger } from '@voice/logging';
import type { RedisClient, SharedKeys, Timeline } from '@voice/redis';
import type { ClipLibrary } from './clips.js';
import type { GatewayConfig } from './config.js';
import type { BridgeLinks } from './links/bridge-links.js';
import type { GatewayMetrics } from './metrics.js';
import type { PendingWork } from '@voice/runtime';

export interface GatewayContext {
  config: GatewayConfig;
  logger: Logger;
  /** The auto-pipelined command connection: control only (tokens, owners, claims, timelines); never audio. */
  redis: RedisClient;
  keys: SharedKeys;
  timeline: Timeline;
  /** Media links to the live bridges, which carry every call's audio. */
  links: BridgeLinks;
  calls: CallRepository;
  metrics: GatewayMetrics;
  /** The pre-rendered clips, loaded at start. */
  clips: ClipLibrary;
  /** Fire-and-forget writes that stop() must let finish before closing connections. */
  pending: PendingWork;
}
