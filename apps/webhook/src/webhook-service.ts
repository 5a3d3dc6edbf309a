/**
 * The webhook service: Twilio's voice webhook and stream status callback, the
 * prebuild queue producer, and (unless disabled) the prebuild worker and the
 * stream watchdog's sweep.
 */
import express from 'express';
import type { Server } from 'node:http';
import {
  closeDatabase,
  createBusinessRepository,
  createCallRepository,
  createDatabase,
  createOutboundRequestRepository,
} from '@voice/db';
import type { Logger } from '@voice/logging';
import { errorFields } from '@voice/logging';
import { OutboundRoom, Timeline, createRedis, quitRedis, sharedKeys } from '@voice/redis';
import {
  closeServer,
  createMetricsRegistry,
  createTimelineMetrics,
  listen,
  mountOpsRoutes,
  PendingWork,
  stopInOrder,
} from '@voice/runtime';
import type { Registry } from 'prom-client';
import type { WebhookConfig } from './config.js';
import { createWebhookMetrics } from './metrics.js';
import { expiredRequestsSweep } from './outbound/expired-requests.js';
import { PrebuildQueue } from './prebuild/prebuild-queue.js';
import { Prebuilder } from './prebuild/prebuilder.js';
import { PromptCache } from './prebuild/prompt-cache.js';
import { PromptPublisher } from './prebuild/prompt-publisher.js';
import { createPrebuildWorker, type PrebuildWorker } from './prebuild/prebuild-worker.js';
import { streamStatusHandler } from './routes/stream-status.js';
import { connectActionHandler } from './routes/connect-action.js';
import { CONNECT_ACTION_PATH } from './twiml.js';
import { requireTwilioSignature } from './routes/twilio-signature.js';
import { voiceWebhookHandler } from './routes/voice-webhook.js';
import { PeriodicSweep } from './watchdog/periodic-sweep.js';
import { StreamWatchdog } from './watchdog/stream-watchdog.js';
import { amdStatusHandler } from './outbound/amd-status.js';
import { requireBearerToken } from './outbound/bearer-auth.js';
import { callStatusHandler } from './outbound/call-status.js';
import { apiBodyErrors, placeCallHandler } from './outbound/calls-route.js';
import { PlacedCallSweeper } from './outbound/placed-call-sweeper.js';
import { createTwilioClient, type TwilioClient } from '@voice/protocols/twilio-rest';

export const SERVICE_NAME = 'webhook';

/** Twilio's webhook bodies are small; anything bigger is not Twilio. */
const MAX_BODY = '64kb';
/** A POST /calls body is three short fields. */
const MAX_API_BODY = '8kb';

export interface WebhookService {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly port: number;
  readonly registry: Registry;
}

export function createWebhookService(config: WebhookConfig, logger: Logger): WebhookService {
  const redis = createRedis({ endpoint: config.redis, name: `${config.instanceId}:cmd`, role: 'command', logger });
  // BullMQ on a cluster: maxRetriesPerRequest null (role 'bullmq') and a hash-tagged prefix, so a queue's keys share one slot.
  const bullConnection = createRedis({
    endpoint: config.redis,
    name: `${config.instanceId}:bullmq`,
    role: 'bullmq',
    logger,
  });
  const knex = createDatabase(config.databaseUrl);
  const businesses = createBusinessRepository(knex);
  const calls = createCallRepository(knex);
  const outboundRequests = createOutboundRequestRepository(knex);
  const registry = createMetricsRegistry(SERVICE_NAME, config.instanceId);
  const metrics = createWebhookMetrics(registry);
  const timeline = new Timeline({
    redis,
    app: SERVICE_NAME,
    instance: config.instanceId,
    logger,
    observer: createTimelineMetrics(registry),
  });
  const prefix = sharedKeys(config.namespace).bullPrefix;
  const pending = new PendingWork();
  // POST /calls dials only into room a bridge reported; a final call status gives a ringing call's place back.
  const roomSettings = config.outbound?.room;
  const outboundRoom = roomSettings ? new OutboundRoom(redis, sharedKeys(config.namespace), roomSettings) : undefined;
  const onQueueError = (err: Error) => logger.error('prebuild queue error', errorFields(err));
  const queue = new PrebuildQueue(bullConnection, prefix, config.prebuild, onQueueError);
  const promptCache = new PromptCache(redis, config.namespace, config.promptTtlSeconds);
  const publisher = new PromptPublisher(
    redis,
    config.promptTtlSeconds,
    config.prebuild.warmSessions ? sharedKeys(config.namespace).callClaims : undefined,
  );
  const prebuilder = new Prebuilder({ cache: promptCache, publisher, queue, timeline, metrics });
  const worker: PrebuildWorker | undefined = config.prebuild.workerEnabled
    ? createPrebuildWorker({
        connection: bullConnection,
        prefix,
        concurrency: config.prebuild.concurrency,
        publisher,
        promptCache,
        businesses,
        timeline,
        logger,
        metrics,
      })
    : undefined;

  const watchdog = new StreamWatchdog({
    redis,
    delayMs: config.streamWatchdogMs,
    calls,
    timeline,
    logger,
    neverStarted: metrics.streamNeverStarted,
  });
  const watchdogSweep = new PeriodicSweep(config.streamWatchdogSweepMs, () => watchdog.sweep());

  let ready = false;
  let server: Server | undefined;
  let port = config.port;

  const app = express();
  app.disable('x-powered-by');
  mountOpsRoutes(app, { registry, readiness: { ready: () => ready } });
  const twilioRoutes = express.Router();
  twilioRoutes.use(express.urlencoded({ extended: false, limit: MAX_BODY }));
  twilioRoutes.use(
    requireTwilioSignature({
      authToken: config.twilioAuthToken,
      publicBaseUrl: config.publicBaseUrl,
      rejected: metrics.rejected,
    }),
  );
  twilioRoutes.post(
    '/voice',
    voiceWebhookHandler({ config, pending, redis, businesses, calls, prebuilder, timeline, metrics, logger }),
  );
  twilioRoutes.post('/stream-status', streamStatusHandler({ timeline, logger }));
  // Where Twilio goes when a stream ends: reconnect a call whose gateway went away, or the fallback.
  twilioRoutes.post(
    CONNECT_ACTION_PATH.replace('/twilio', ''),
    connectActionHandler({ config, redis, timeline, metrics, logger }),
  );
  // Outbound calls (apps/webhook/src/outbound/): Twilio's callbacks for the calls POST /calls placed.
  const twilioClient = config.outbound ? createTwilioClient(config.outbound.twilio) : undefined;
  const placedSweep =
    config.outbound && twilioClient ? placedCallSweep(config.outbound.placedSweep, twilioClient) : undefined;
  const requestsSweep = config.outbound ? expiredRequestsSweep(outboundRequests, logger) : undefined;
  twilioRoutes.post('/call-status', callStatusHandler({ redis, calls, timeline, logger, room: outboundRoom }));
  twilioRoutes.post(
    '/amd-status',
    amdStatusHandler({
      twilio: twilioClient,
      voicemailVoice: config.outbound?.voicemailVoice,
      businesses,
      calls,
      timeline,
      logger,
    }),
  );
  app.use('/twilio', twilioRoutes);
  if (config.outbound && twilioClient) {
    const settings = { publicBaseUrl: config.publicBaseUrl, ...config.outbound };
    app.post(
      '/calls',
      requireBearerToken({ token: config.outbound.apiToken, rejected: metrics.rejected }),
      express.json({ limit: MAX_API_BODY }),
      placeCallHandler({
        settings,
        twilio: twilioClient,
        redis,
        businesses,
        calls,
        prebuilder,
        timeline,
        logger,
        room: outboundRoom,
        noRoomRetryAfterSeconds: config.outbound.room?.retryAfterSeconds ?? 0,
        outcomes: metrics.outboundCalls,
        requests: outboundRequests,
      }),
      apiBodyErrors,
    );
  } else {
    app.post('/calls', (_req, res) => {
      res
        .status(503)
        .json({ error: 'outbound calls are off: set API_TOKEN (and TWILIO_ACCOUNT_SID) on the webhook service' });
    });
  }

  /** Outbound calls whose status callbacks were lost, asked about at Twilio every sweepMs. */
  function placedCallSweep(settings: { sweepMs: number; staleAfterMs: number }, twilio: TwilioClient): PeriodicSweep {
    const sweeper = new PlacedCallSweeper({
      twilio,
      redis,
      calls,
      timeline,
      room: outboundRoom,
      logger,
      staleAfterMs: settings.staleAfterMs,
      // Half the interval: with replicas sweeping out of step, each stale call is asked about one to
      // two times per interval in all, and never skipped for a whole interval by a timer's jitter.
      recheckAfterMs: settings.sweepMs / 2,
      outcomes: metrics.placedCallSweeps,
    });
    return new PeriodicSweep(settings.sweepMs, () => sweeper.sweep());
  }

  return {
    get port() {
      return port;
    },
    registry,
    async start() {
      if (worker) void worker.run().catch((err: unknown) => logger.error('prebuild worker stopped', errorFields(err)));
      // On every replica, worker or not (PREBUILD_WORKER_ENABLED): Postgres's SKIP LOCKED keeps
      // replicas sweeping at once from ending or asking about a call twice.
      watchdogSweep.start();
      placedSweep?.start();
      requestsSweep?.start();
      // Load BullMQ's scripts and open a database connection now, not on the first caller's webhook.
      await Promise.all([queue.ready(), knex.raw('select 1')]);
      ({ server, port } = await listen(app, config.port));
      ready = true;
      logger.info('webhook started', { port, namespace: config.namespace, prebuildWorker: Boolean(worker) });
    },
    async stop() {
      if (!server) return;
      ready = false;
      const s = server;
      server = undefined;
      await stopInOrder(logger, [
        ['close http', () => closeServer(s)],
        ['calls rows still being written', () => pending.drain()],
        ['close prebuild worker', () => worker?.close()],
        ['close prebuild queue', () => queue.close()],
        ['stop stream watchdog', () => watchdogSweep.stop()],
        ['stop placed-call sweep', () => placedSweep?.stop()],
        ['stop Idempotency-Key sweep', () => requestsSweep?.stop()],
        ['timeline writes', () => timeline.settled()],
        ['quit redis', () => Promise.all([quitRedis(bullConnection), quitRedis(redis)])],
        ['close database', () => closeDatabase(knex)],
      ]);
    },
  };
}
