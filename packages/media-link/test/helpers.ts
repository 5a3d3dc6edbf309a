/** A listener and a dialer of media links on loopback, with the link each end holds. */
import { connect, type Socket } from 'node:net';
import { createLogger, type LogLevel } from '@voice/logging';
import {
  MediaLinkServer,
  dialMediaLink,
  parseHello,
  proof,
  type BridgeSideLink,
  type GatewaySideLink,
  type MediaLinkTimings,
  type RefusalReason,
} from '../src/index.js';

export const SECRET = 'media-link-test-secret-0123456789';
export const logger = createLogger({
  service: 'media-link-test',
  instance: 'test',
  level: (process.env.TEST_LOG_LEVEL ?? 'silent') as LogLevel,
});

export interface LinkPair {
  server: MediaLinkServer;
  refused: RefusalReason[];
  /** Resolves with the bridge-side link of the next authenticated peer. */
  nextLink(): Promise<BridgeSideLink>;
  dial(opts?: { secret?: string; instanceId?: string; timings?: Partial<MediaLinkTimings> }): Promise<GatewaySideLink>;
  stop(): Promise<void>;
}

export async function startLinkPair(timings: Partial<MediaLinkTimings> = {}): Promise<LinkPair> {
  const waiting: Array<(link: BridgeSideLink) => void> = [];
  const accepted: BridgeSideLink[] = [];
  const refused: RefusalReason[] = [];
  const server = new MediaLinkServer({
    instanceId: 'bridge-test',
    secret: SECRET,
    port: 0,
    host: '127.0.0.1',
    logger,
    timings,
    onLink: (link) => {
      const waiter = waiting.shift();
      if (waiter) waiter(link);
      else accepted.push(link);
    },
    onRefused: (reason) => refused.push(reason),
  });
  await server.start();
  const dialed: GatewaySideLink[] = [];
  return {
    server,
    refused,
    nextLink: () => {
      const ready = accepted.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    dial: async (opts = {}) => {
      const link = await dialMediaLink({
        host: '127.0.0.1',
        port: server.port,
        instanceId: opts.instanceId ?? 'gateway-test',
        secret: opts.secret ?? SECRET,
        logger,
        timings: { ...timings, ...opts.timings },
      });
      dialed.push(link);
      return link;
    },
    stop: async () => {
      for (const link of dialed) link.close('shutdown');
      await server.stop();
    },
  };
}

/**
 * A dialer that completes the handshake by hand and then does nothing: it never pings,
 * never answers, and never reads again: a frozen or stalled peer (SIGSTOP, a hung loop).
 */
export function frozenPeer(port: number, secret = SECRET): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setEncoding('utf8');
    socket.on('error', reject);
    let received = '';
    let answered = false;
    socket.on('data', (chunk: string) => {
      received += chunk;
      const lines = received.split('\n');
      const hello = parseHello(lines[0] ?? '');
      if (hello && !answered) {
        answered = true;
        socket.write(`AUTH frozen-peer ${proof(secret, hello.nonce, 'frozen-peer', hello.listener)}\n`);
      }
      if (lines.includes('OK')) {
        socket.removeAllListeners('data');
        socket.pause();
        resolve(socket);
      }
    });
  });
}
