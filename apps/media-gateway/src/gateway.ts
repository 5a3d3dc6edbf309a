/**
 * The media gateway: an HTTP server with the ops routes, and Twilio's media
 * WebSockets on the same port. Upgrades are checked (path, signature, draining)
 * before ws sees them; each accepted socket becomes a MediaSession.
 */
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Registry } from 'prom-client';
import { createLogger } from '@voice/logging';
import type { Logger } from '@voice/logging';
import { TWILIO_MEDIA_SUBPROTOCOL } from '@voice/protocols';
import { createMetricsRegistry, listen, mountOpsRoutes } from '@voice/runtime';
import type { Lifecycle } from '@voice/runtime';
import { loadClips } from './clips.js';
import { SERVICE_NAME } from './config.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics } from './metrics.js';
import type { GatewayMetrics } from './metrics.js';
import { openResources, closeResources } from './resources.js';
import type { GatewayResources } from './resources.js';
import { drainSessions } from './drain.js';
import { CLOSE } from './session/close-codes.js';
import { MediaSession } from './session/media-session.js';
import { createSignatureCheck, parseStreamRoute, refuseUpgrade } from './upgrade.js';
import type { RefusalStatus, StreamRoute } from './upgrade.js';

export interface MediaGatewayDeps {
  /** Defaults to a JSON logger for the service at config.logLevel. */
  logger?: Logger;
  /** Defaults to a fresh registry labelled with the service and instance. */
  registry?: Registry;
}

export interface MediaGateway extends Lifecycle {
  /** The bound port (useful with port 0); 0 before start(). */
  readonly port: number;
  /** True between a successful start() and stop(): what /readyz reports. */
  readonly ready: boolean;
  readonly registry: Registry;
}

type State = 'idle' | 'running' | 'draining' | 'stopped';

export function createMediaGateway(config: GatewayConfig, deps: MediaGatewayDeps = {}): MediaGateway {
  const logger =
    deps.logger ?? createLogger({ service: SERVICE_NAME, instance: config.instanceId, level: config.logLevel });
  const registry = deps.registry ?? createMetricsRegistry(SERVICE_NAME, config.instanceId);
  const metrics: GatewayMetrics = createGatewayMetrics(registry);
  const verifySignature = createSignatureCheck(config.twilioAuthToken, config.publicStreamUrl);
  const sessions = new Set<MediaSession>();
  let state: State = 'idle';
  let resources: GatewayResources | undefined;
  let boundPort = 0;
  let socketCount = 0;
  let stopping: Promise<void> | undefined;

  const app = express();
  app.disable('x-powered-by');
  // Full is not-ready: the load balancer sends new streams to a gateway with room.
  const hasRoom = () => sessions.size < config.maxStreams;
  mountOpsRoutes(app, { registry, readiness: { ready: () => state === 'running' && hasRoom() } });
  const server = createServer(app);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageBytes,
    clientTracking: false,
    // Echo Twilio's subprotocol when offered; without an offer, accept with none.
    handleProtocols: (offered) => (offered.has(TWILIO_MEDIA_SUBPROTOCOL) ? TWILIO_MEDIA_SUBPROTOCOL : false),
  });

  const refuse = (socket: Duplex, status: RefusalStatus) => {
    metrics.upgradesRefused.labels({ status: String(status) }).inc();
    refuseUpgrade(socket, status);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (state !== 'running') return refuse(socket, 503);
    if (!hasRoom()) {
      // Refused before the handshake: Twilio runs the TwiML after </Connect>; nothing is half-served.
      metrics.streamsOverCap.inc();
      logger.warn('media upgrade refused: gateway at GATEWAY_MAX_STREAMS', {
        streams: sessions.size,
        max: config.maxStreams,
      });
      return refuse(socket, 503);
    }
    const route = parseStreamRoute(req.url);
    if (!route) return refuse(socket, 404);
    if (!verifySignature(req, route)) {
      logger.warn('media upgrade refused: bad or missing Twilio signature', {
        remote: remoteOf(req),
        path: req.url?.slice(0, 120),
      });
      return refuse(socket, 403);
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, route, socket));
  });

  function accept(ws: WebSocket, req: IncomingMessage, route: StreamRoute, transport: Duplex): void {
    if (state !== 'running' || !resources || !hasRoom()) {
      // Drain began (or the cap was reached by a concurrent upgrade) while the handshake completed.
      if (state === 'running') metrics.streamsOverCap.inc();
      ws.on('error', () => undefined);
      ws.close(CLOSE.tryAgainLater, state === 'running' ? 'at_capacity' : 'draining');
      return;
    }
    const session = new MediaSession(ws, resources.ctx, {
      route,
      remote: remoteOf(req),
      subprotocol: ws.protocol,
      acceptedAt: Date.now(),
      socketId: `ws-${++socketCount}`,
      transport,
    });
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  }

  async function start(): Promise<void> {
    if (state !== 'idle') return;
    try {
      // Before any connection: a missing clip is a deploy mistake, reported as one line.
      const clips = await loadClips(config.clipsDir, config.clipChunkMs);
      resources = await openResources(config, logger, metrics, clips, registry);
      boundPort = (await listen(server, config.port)).port;
    } catch (err) {
      await stop();
      throw err;
    }
    state = 'running';
    logger.info('media gateway listening', { port: boundPort, publicStreamUrl: config.publicStreamUrl });
  }

  function stop(): Promise<void> {
    stopping ??= (async () => {
      state = 'draining';
      await drainSessions(sessions, {
        drainTimeoutMs: config.drainTimeoutMs,
        closeGraceMs: config.closeGraceMs,
        logger,
      });
      await closeResources(resources, { logger, wss, server });
      state = 'stopped';
    })();
    return stopping;
  }

  return {
    start,
    stop,
    get port() {
      return boundPort;
    },
    get ready() {
      return state === 'running';
    },
    registry,
  };
}

/** For logs and the ghost stream only; never trusted for anything else. */
function remoteOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || req.socket.remoteAddress || 'unknown';
}
