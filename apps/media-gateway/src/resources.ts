/**
 * The gateway's connections: Redis (one auto-pipelined command connection for
 * control: tokens, owners, claims, timelines), the media links to the bridges,
 * and Postgres. Opened in start(), closed in stop() in reverse order, once.
 */
import type { Server } from 'node:http';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import type { WebSocketServer } from 'ws';
import { createCallRepository, createDatabase } from '@voice/db';
import type { Logger } from '@voice/logging';
import { createLinkMetrics } from '@voice/media-link';
import { BridgeRegistry, Timeline, createRedis, quitRedis, sharedKeys, type RedisClient } from '@voice/redis';
import { closeServer, createTimelineMetrics, PendingWork, stopInOrder } from '@voice/runtime';
import type { ClipLibrary } from './clips.js';
import { SERVICE_NAME } from './config.js';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './context.js';
import type { GatewayMetrics } from './metrics.js';
import { BridgeLinks } from './links/bridge-links.js';

export interface GatewayResources {
  ctx: GatewayContext;
  commands: RedisClient;
  knex: Knex;
}

export async function openResources(
  config: GatewayConfig,
  logger: Logger,
  metrics: GatewayMetrics,
  clips: ClipLibrary,
  registry: Registry,
): Promise<GatewayResources> {
  const commands = createRedis({
    endpoint: config.redis,
    name: `${config.instanceId}:commands`,
    role: 'command',
    logger,
  });
  const knex = createDatabase(config.databaseUrl, { applicationName: config.instanceId, log: knexLogger(logger) });
  const keys = sharedKeys(config.namespace);
  const links = new BridgeLinks(
    new BridgeRegistry(commands, keys, config.registryStaleMs),
    config,
    createLinkMetrics(registry),
    logger,
  );
  const ctx: GatewayContext = {
    config,
    logger,
    redis: commands,
    keys,
    timeline: new Timeline({
      redis: commands,
      app: SERVICE_NAME,
      instance: config.instanceId,
      logger,
      observer: createTimelineMetrics(registry),
    }),
    links,
    calls: createCallRepository(knex),
    metrics,
    clips,
    pending: new PendingWork(),
  };
  const resources = { ctx, commands, knex };
  try {
    // Fail start() on an unreachable Redis (the command role gives up after a few retries).
    await commands.ping();
    // Links to every live bridge before the first call, so START finds them up.
    await links.start();
  } catch (err) {
    await closeResources(resources, { logger });
    throw err;
  }
  return resources;
}

export async function closeResources(
  resources: GatewayResources | undefined,
  opts: { logger: Logger; wss?: WebSocketServer; server?: Server },
): Promise<void> {
  const { wss, server, logger } = opts;
  await stopInOrder(logger, [
    // Writes fired by calls that just ended (stop entries, timeline, calls rows) land first.
    ['pending writes', () => resources?.ctx.pending.drain()],
    ['media links', () => resources?.ctx.links.stop()],
    ['timeline writes', () => resources?.ctx.timeline.settled()],
    ['redis', () => resources && quitRedis(resources.commands)],
    ['database', () => resources?.knex.destroy()],
    ['websocket server', () => wss && new Promise<void>((resolve) => wss.close(() => resolve()))],
    ['http server', () => server && closeServer(server)],
  ]);
}

/** knex's own warnings go to the service log, not the console. */
function knexLogger(logger: Logger): Knex.Logger {
  return {
    warn: (message: unknown) => logger.warn('knex warning', { detail: String(message) }),
    error: (message: unknown) => logger.error('knex error', { detail: String(message) }),
    deprecate: (method: string, alternative: string) => logger.warn('knex deprecation', { method, alternative }),
    debug: () => undefined,
  };
}
