/**
 * The listening end of media links (each bridge runs one on MEDIA_LINK_PORT).
 * Every connection must pass the handshake in auth.ts within authTimeoutMs;
 * a peer without the secret is refused, counted and logged, and never gets a
 * link. An authenticated peer becomes a MediaLink handed to `onLink`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@voice/logging';
import { helloLine, newNonce, verifyAuth, type RefusalReason } from './auth.js';
import { MEDIA_LINK_DEFAULTS, type MediaLinkTimings } from './defaults.js';
import { LineSocket } from './line-socket.js';
import { MediaLink, type LinkObserver } from './link.js';
import { decodeGatewayRecord, encodeBridgeRecord, type BridgeRecord, type GatewayRecord } from './records.js';

/** The bridge's side of a link: it reads gateway records and sends bridge records. */
export type BridgeSideLink = MediaLink<GatewayRecord, BridgeRecord>;

export interface MediaLinkServerOptions {
  /** This instance's id, sent in HELLO and bound into the proof. */
  instanceId: string;
  secret: string;
  host?: string;
  port: number;
  logger: Logger;
  timings?: Partial<MediaLinkTimings>;
  authTimeoutMs?: number;
  observer?: LinkObserver;
  onLink(link: BridgeSideLink): void;
  onRefused?(reason: RefusalReason): void;
}

export class MediaLinkServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(private readonly options: MediaLinkServerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Stops accepting and cuts every connection (links close with reason 'shutdown'). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    const o = this.options;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const lines = new LineSocket(socket, o.timings?.maxLineBytes ?? MEDIA_LINK_DEFAULTS.maxLineBytes);
    const nonce = newNonce();
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    let settled = false;
    const refuse = (reason: RefusalReason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.onRefused?.(reason);
      o.logger.warn('media link peer refused', { reason, remote });
      if (!lines.isGone) {
        lines.write(`DENIED ${reason}\n`);
        socket.end();
        // A peer that will not finish the close is cut.
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    };
    const timer = setTimeout(() => refuse('timeout'), o.authTimeoutMs ?? MEDIA_LINK_DEFAULTS.authTimeoutMs);
    timer.unref();
    lines.onGone = () => refuse('closed');
    lines.onLine = (line) => {
      if (settled) return;
      const verdict = verifyAuth(line, o.secret, nonce, o.instanceId);
      if (!verdict.ok) return refuse(verdict.reason);
      settled = true;
      clearTimeout(timer);
      lines.write('OK\n');
      const link: BridgeSideLink = new MediaLink({
        lines,
        peer: verdict.dialer,
        decode: decodeGatewayRecord,
        encode: encodeBridgeRecord,
        timings: o.timings,
        logger: o.logger,
        observer: o.observer,
      });
      o.logger.info('media link accepted', { peer: verdict.dialer, remote });
      o.onLink(link);
    };
    lines.write(helloLine(o.instanceId, nonce));
  }
}
