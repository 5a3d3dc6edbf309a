/**
 * The realtime bridge service: reports itself to the bridge registry (media
 * link address, load, capacity), takes calls from the shared claim stream
 * while it has room (consumer group: one owner per call), accepts media links
 * from gateways, runs a CallSession per call, and exposes the ops endpoints.
 */
import express from 'express';
import type { Server } from 'node:http';
import type { Knex } from 'knex';
import {
  createAppointmentRepository,
  createBusinessRepository,
  createCallRepository,
  createDatabase,
  closeDatabase,
} from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { MediaLinkServer, createLinkMetrics, linkObserver } from '@voice/media-link';
import {
  BridgeRegistry,
  ConversationWriter,
  GroupConsumer,
  Timeline,
  createRedis,
  quitRedis,
  sharedKeys,
  type ClaimEntry,
} from '@voice/redis';
import {
  closeServer,
  createMetricsRegistry,
  createTimelineMetrics,
  listen,
  mountOpsRoutes,
  stopInOrder,
} from '@voice/runtime';
import type { Registry } from 'prom-client';
import { SHUTDOWN_FALLBACK_WAIT_MS, type BridgeConfig } from './config.js';
import { createBridgeMetrics } from './metrics.js';
import { CallRegistry } from './call-registry.js';
import { CallOwnership, type ClaimOutcome } from './call-ownership.js';
import { BridgePresence } from './bridge-presence.js';
import { createClaimHandler } from './claim-handler.js';
import { handOverCalls } from './call-handover.js';
import { CallSession } from './call/call-session.js';
import { createToolExecutor } from './call/tool-executor.js';
import { GatewayLinks } from './link/gateway-links.js';

import { createOpenAIClient } from './realtime/connect.js';
import { createCallControl } from './twilio/call-control.js';

export const SERVICE_NAME = 'realtime-bridge';

export interface RealtimeBridge {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly port: number;
  /** Where gateways reach this bridge's media link (the bound port, useful with port 0). */
  readonly linkPort: number;
  readonly registry: Registry;
  readonly activeCalls: number;
}

export function createRealtimeBridge(config: BridgeConfig, logger: Logger): RealtimeBridge {
  const name = (role: string) => `${config.instanceId}:${role}`;
  const redis = createRedis({ endpoint: config.redis, name: name('cmd'), role: 'command', logger });
  const claimReader = createRedis({ endpoint: config.redis, name: name('claims'), role: 'blocking', logger });
  const knex: Knex = createDatabase(config.databaseUrl);
  const businesses = createBusinessRepository(knex);
  const callRows = createCallRepository(knex);
  const tools = createToolExecutor({ appointments: createAppointmentRepository(knex), businesses });
  const registry = createMetricsRegistry(SERVICE_NAME, config.instanceId);
  const metrics = createBridgeMetrics(registry);
  const linkMetrics = createLinkMetrics(registry);
  const timeline = new Timeline({
    redis,
    app: SERVICE_NAME,
    instance: config.instanceId,
    logger,
    observer: createTimelineMetrics(registry),
  });
  const conversations = new ConversationWriter({ redis });
  const keys = sharedKeys(config.namespace);
  const bridges = new BridgeRegistry(redis, keys, config.registryStaleMs);
  const ownership = new CallOwnership(redis, config.instanceId, config.call.ownerLeaseMs, bridges);
  const calls = new CallRegistry(ownership, config.call.ownerLeaseMs, logger, config.call.metaRefreshMs);
  const links = new GatewayLinks(calls, linkMetrics, logger);
  const openai = createOpenAIClient(config.openai);
  const callControl = createCallControl(config.twilio);
  if (!callControl)
    logger.warn('no Twilio REST credentials: end_call and transfer_call are not offered to the model', {
      need: 'TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN',
      // Twilio cannot be asked whether a caller hung up while their lost stream was being reconnected.
      lost_streams_end_as: 'gateway_lost',
    });
  metrics.capacity.set(config.maxCalls);

  let draining = false;
  let ready = false;
  let server: Server | undefined;
  let port = config.port;

  const linkServer = new MediaLinkServer({
    instanceId: config.instanceId,
    secret: config.link.secret,
    port: config.link.port,
    timings: config.link.timings,
    logger,
    observer: linkObserver(linkMetrics),
    onLink: (link) => links.add(link),
    onRefused: (reason) => linkMetrics.peersRefused.inc({ reason }),
  });
  let presence: BridgePresence | undefined;
  const loadChanged = () => {
    metrics.callsActive.set(calls.size);
    metrics.load.set(calls.load);
    presence?.loadChanged();
  };

  function startSession(
    claim: ClaimEntry,
    mode: 'warm' | 'cold',
    outcome: Extract<ClaimOutcome, { owned: true }>,
  ): CallSession {
    const session = new CallSession({
      mode,
      takeoverFrom: outcome.takeoverFrom,
      callSid: claim.callSid,
      instanceId: config.instanceId,
      config: config.call,
      openaiConfig: config.openai,
      openai,
      redis,
      ownership,
      timeline,
      conversations,
      logger: logger.child({ callSid: claim.callSid }),
      metrics,
      businesses,
      calls: callRows,
      tools,
      callControl,
      onFinished: (finished) => {
        calls.remove(finished);
        links.forget(finished);
        loadChanged();
        consumer.wake();
      },
    });
    calls.add(session);
    loadChanged();
    void session.run();
    return session;
  }

  const handleClaim = createClaimHandler({
    config,
    redis,
    ownership,
    calls,
    links,
    timeline,
    metrics,
    logger,
    callTaken: (callSid) => presence?.callTaken(callSid),
    startSession,
  });
  const consumer = new GroupConsumer({
    blocking: claimReader,
    commands: redis,
    logger,
    stream: keys.callClaims,
    group: keys.bridgeGroup,
    consumer: config.instanceId,
    // Admission: a full (or draining) bridge reads no claim; they wait for a bridge with room.
    room: () => (draining ? 0 : config.maxCalls - calls.load),
    handler: async (id, fields) => {
      calls.reserve();
      loadChanged();
      try {
        await handleClaim(id, fields);
      } finally {
        calls.unreserve();
        loadChanged();
        // The slot this claim held may be free again: read on now, not at the next poll.
        consumer.wake();
      }
    },
  });

  const app = express();
  app.disable('x-powered-by');
  mountOpsRoutes(app, { registry, readiness: { ready: () => ready } });

  return {
    get port() {
      return port;
    },
    get linkPort() {
      return linkServer.port;
    },
    registry,
    get activeCalls() {
      return calls.size;
    },
    async start() {
      await linkServer.start();
      presence = new BridgePresence(
        bridges,
        {
          instance: config.instanceId,
          linkHost: config.link.host,
          linkPort: linkServer.port,
          capacity: config.maxCalls,
        },
        { load: () => calls.load, draining: () => draining },
        config.heartbeatMs,
        logger,
      );
      await presence.start();
      await consumer.start();
      calls.startLeaseRenewal();
      // Redis is back after an outage (a restart may have left it empty): register again, rewrite the
      // owner keys of the live calls now (not a heartbeat or a third of a lease later), and rebuild
      // their conversation records from memory. The claims group comes back through the consumer's
      // NOGROUP handling.
      redis.on('ready', () => {
        logger.info('redis ready: registry entry, owner leases and conversation records rewritten', {
          calls: calls.size,
        });
        void presence?.reportNow();
        calls.renewNow();
        for (const call of calls.all()) call.redisBack();
      });
      ({ server, port } = await listen(app, config.port));
      ready = true;
      logger.info('realtime bridge started', {
        port,
        linkPort: linkServer.port,
        linkHost: config.link.host,
        capacity: config.maxCalls,
        namespace: config.namespace,
        model: config.openai.model,
      });
    },
    async stop() {
      if (!ready && !server) return;
      ready = false;
      draining = true;
      await stopInOrder(logger, [
        ['report draining', () => presence?.reportNow()],
        ['stop claiming', () => consumer.stop()],
        [
          'drain calls',
          async () => {
            // Each live call moves to another bridge with its conversation; with none to take them, they stay until the deadline.
            if (await handOverCalls(calls, config.handover, config.drainTimeoutMs, logger)) return;
            for (const call of calls.all()) call.handOff('BRIDGE_SHUTDOWN');
            const idle = await calls.waitUntilIdle(SHUTDOWN_FALLBACK_WAIT_MS);
            if (!idle) logger.warn('calls still live at shutdown', { calls: calls.size });
          },
        ],
        ['stop lease renewal', () => calls.stopLeaseRenewal()],
        ['leave the registry', () => presence?.stop()],
        ['close media links', () => links.closeAll()],
        ['stop media link server', () => linkServer.stop()],
        ['close http', () => (server ? closeServer(server) : undefined)],
        // The last calls' entries (bridge.released of a handed-over call) land before Redis closes.
        ['timeline writes', () => timeline.settled()],
        ['quit redis', () => Promise.all([quitRedis(claimReader), quitRedis(redis)])],
        ['close database', () => closeDatabase(knex)],
      ]).catch((err: unknown) => logger.error('bridge stop failed', errorFields(err)));
      server = undefined;
    },
  };
}
