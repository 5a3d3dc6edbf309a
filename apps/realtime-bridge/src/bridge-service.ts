/**
 * The realtime bridge service: claims started calls from the shared claim
 * stream (consumer group: one owner per call), runs a CallSession for each, and
 * exposes the ops endpoints.
 */
import express from 'express';
import type { Server } from 'node:http';
import type { Knex } from 'knex';
import { createAppointmentRepository, createBusinessRepository, createCallRepository, createDatabase, closeDatabase } from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import {
  GroupConsumer,
  StreamTailPool,
  Timeline,
  createRedis,
  decodeClaim,
  quitRedis,
  type ClaimEntry,
  sharedKeys,
} from '@voice/redis';
import { closeServer, createMetricsRegistry, listen, mountOpsRoutes, stopInOrder } from '@voice/runtime';
import type { Registry } from 'prom-client';
import type { BridgeConfig } from './config.js';
import { createBridgeMetrics } from './metrics.js';
import { CallRegistry } from './call-registry.js';
import { CallClaimer } from './call-claimer.js';
import { Heartbeat } from './heartbeat.js';
import { CallSession } from './call/call-session.js';
import { createToolExecutor } from './call/tool-executor.js';
import { createOpenAIClient } from './realtime/connect.js';
import { createCallControl } from './twilio/call-control.js';

export const SERVICE_NAME = 'realtime-bridge';

export interface RealtimeBridge {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly port: number;
  readonly registry: Registry;
  readonly activeCalls: number;
}

export function createRealtimeBridge(config: BridgeConfig, logger: Logger): RealtimeBridge {
  const redis = createRedis({ url: config.redisUrl, name: `${config.instanceId}:cmd`, role: 'command', logger });
  const claimReader = createRedis({ url: config.redisUrl, name: `${config.instanceId}:claims`, role: 'blocking', logger });
  const knex: Knex = createDatabase(config.databaseUrl);
  const businesses = createBusinessRepository(knex);
  const calls = createCallRepository(knex);
  const tools = createToolExecutor({ appointments: createAppointmentRepository(knex) });
  const registry = createMetricsRegistry(SERVICE_NAME, config.instanceId);
  const metrics = createBridgeMetrics(registry);
  const timeline = new Timeline({ redis, app: SERVICE_NAME, instance: config.instanceId, logger });
  const tail = new StreamTailPool({
    connections: config.streamTailConnections,
    openBlocking: (i) => createRedis({ url: config.redisUrl, name: `${config.instanceId}:tail-${i}`, role: 'blocking', logger }),
    commands: redis,
    logger,
    name: 'inbound',
  });
  const registryOfCalls = new CallRegistry(redis, config.call.ownerLeaseMs, logger);
  const keys = sharedKeys(config.namespace);
  const claimer = new CallClaimer(redis, config.instanceId, config.call.ownerLeaseMs, keys.bridgeAlive);
  const heartbeat = new Heartbeat(redis, keys.bridgeAlive(config.instanceId), config.heartbeatMs, logger);
  const openai = createOpenAIClient(config.openai);
  const callControl = createCallControl(config.twilio);

  let ready = false;
  let server: Server | undefined;
  let port = config.port;

  async function onClaim(id: string, fields: string[]): Promise<void> {
    let claim: ClaimEntry;
    try {
      claim = decodeClaim(id, fields);
    } catch (err) {
      // It will never become valid: log and let it be acked instead of retrying it.
      metrics.invalidEntries.inc();
      logger.warn('skipping invalid claim entry', { id, error: (err as Error).message });
      return;
    }
    const log = logger.child({ callSid: claim.callSid });
    if (Date.now() - claim.at > config.call.claimMaxAgeMs) {
      log.warn('skipping stale claim', { ageMs: Date.now() - claim.at });
      return;
    }
    const warm = claim.reason === 'prebuilt';
    if (warm && !config.warmSessionsEnabled) return;
    if (registryOfCalls.has(claim.callSid)) return;
    const outcome = await claimer.claim(claim.callSid, !warm);
    if (!outcome.owned) {
      log.info('call already owned by another bridge', { owner: outcome.owner, reason: claim.reason });
      return;
    }
    const session = new CallSession({
      mode: warm ? 'warm' : 'cold',
      takeoverFrom: outcome.takeoverFrom,
      callSid: claim.callSid,
      instanceId: config.instanceId,
      config: config.call,
      openaiConfig: config.openai,
      openai,
      redis,
      tail,
      timeline,
      logger: log,
      metrics,
      businesses,
      calls,
      tools,
      callControl,
      onFinished: (callSid) => {
        registryOfCalls.remove(callSid);
        metrics.callsActive.set(registryOfCalls.size);
      },
    });
    registryOfCalls.add(session);
    metrics.callsActive.set(registryOfCalls.size);
    await timeline.record(
      claim.callSid,
      'bridge.claimed',
      { claim_ms: Date.now() - claim.at, reason: claim.reason, takeover_from: outcome.takeoverFrom },
      { logger: log, level: outcome.takeoverFrom ? 'warn' : 'info' },
    );
    void session.run();
  }

  const consumer = new GroupConsumer({
    blocking: claimReader,
    commands: redis,
    logger,
    stream: keys.callClaims,
    group: keys.bridgeGroup,
    consumer: config.instanceId,
    handler: onClaim,
  });

  const app = express();
  app.disable('x-powered-by');
  mountOpsRoutes(app, { registry, readiness: { ready: () => ready } });

  return {
    get port() {
      return port;
    },
    registry,
    get activeCalls() {
      return registryOfCalls.size;
    },
    async start() {
      await tail.start();
      await heartbeat.start();
      await consumer.start();
      registryOfCalls.startLeaseRenewal();
      ({ server, port } = await listen(app, config.port));
      ready = true;
      logger.info('realtime bridge started', { port, namespace: config.namespace, model: config.openai.model });
    },
    async stop() {
      if (!ready && !server) return;
      ready = false;
      await stopInOrder(logger, [
        ['stop claiming', () => consumer.stop()],
        [
          'drain calls',
          async () => {
            if (await registryOfCalls.waitUntilIdle(config.drainTimeoutMs)) return;
            for (const call of registryOfCalls.all()) call.handOff('BRIDGE_SHUTDOWN');
            const idle = await registryOfCalls.waitUntilIdle(Math.min(2000, config.drainTimeoutMs));
            if (!idle) logger.warn('calls still live at shutdown', { calls: registryOfCalls.size });
          },
        ],
        ['stop lease renewal', () => registryOfCalls.stopLeaseRenewal()],
        ['stop heartbeat', () => heartbeat.stop()],
        ['stop tail', () => tail.stop()],
        ['close http', () => (server ? closeServer(server) : undefined)],
        ['quit redis', () => Promise.all([quitRedis(claimReader), quitRedis(redis)])],
        ['close database', () => closeDatabase(knex)],
      ]).catch((err: unknown) => logger.error('bridge stop failed', errorFields(err)));
      server = undefined;
    },
  };
}
