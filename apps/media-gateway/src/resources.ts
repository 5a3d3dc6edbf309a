/**
 * The gateway's connections: Redis (one auto-pipelined command connection for
 * every write, a pool of blocking connections for the out-stream tails) and Postgres.
 * Opened in start(), closed in stop() in reverse order, once.
 */
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { WebSocketServer } from 'ws';
import { createCallRepository, createDatabase } from '@voice/db';
import type { Logger } from '@voice/logging';
import { StreamTailPool, Timeline, createRedis, quitRedis, sharedKeys } from '@voice/redis';
import { closeServer, stopInOrder } from '@voice/runtime';
import type { ClipLibrary } from './clips.js';
import { SERVICE_NAME } from './config.js';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './context.js';
import type { GatewayMetrics } from './metrics.js';
import { PendingWork } from './pending-work.js';
import { OwnerWatch } from './owner-watch.js';

export interface GatewayResources {
  ctx: GatewayContext;
  commands: Redis;
  knex: Knex;
}

export async function openResources(
  config: GatewayConfig,
  logger: Logger,
  metrics: GatewayMetrics,
  clips: ClipLibrary,
): Promise<GatewayResources> {
  const name = (role: string) => `${config.instanceId}:${role}`;
  const commands = createRedis({ url: config.redisUrl, name: name('commands'), role: 'command', logger });
  const knex = createDatabase(config.databaseUrl, { applicationName: config.instanceId, log: knexLogger(logger) });
  const tail = new StreamTailPool({
    connections: config.streamTailConnections,
    openBlocking: (i) => createRedis({ url: config.redisUrl, name: name(`out-tail-${i}`), role: 'blocking', logger }),
    commands,
    logger,
    name: 'call-out',
  });
  const keys = sharedKeys(config.namespace);
  const ownerWatch = new OwnerWatch(commands, keys, config.ownerCheckMs, metrics.callsOrphaned, logger);
  const ctx: GatewayContext = {
    config,
    logger,
    redis: commands,
    keys,
    timeline: new Timeline({ redis: commands, app: SERVICE_NAME, instance: config.instanceId, logger }),
    tail,
    calls: createCallRepository(knex),
    metrics,
    clips,
    pending: new PendingWork(),
    ownerWatch,
  };
  const resources = { ctx, commands, knex };
  try {
    // Fail start() on an unreachable Redis (the command role gives up after a few retries);
    // the blocking role would otherwise wait for it forever.
    await commands.ping();
    await tail.start();
    ownerWatch.start();
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
    ['owner watch', () => resources?.ctx.ownerWatch.stop()],
    ['out-stream tail', () => resources?.ctx.tail.stop()],
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
