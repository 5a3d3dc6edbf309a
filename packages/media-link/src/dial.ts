/**
 * The dialing end of a media link (each gateway dials every live bridge):
 * TCP connect, answer the listener's HELLO with the HMAC proof, wait for OK.
 * Fails with MediaLinkAuthError (reason 'denied', 'connect', 'timeout', ...).
 */
import { connect } from 'node:net';
import type { Logger } from '@voice/logging';
import { MediaLinkAuthError, parseHello, proof } from './auth.js';
import { MEDIA_LINK_DEFAULTS, MEDIA_LINK_PROTOCOL_VERSION, type MediaLinkTimings } from './defaults.js';
import { LineSocket } from './line-socket.js';
import { MediaLink, type LinkObserver } from './link.js';
import { decodeBridgeRecord, encodeGatewayRecord, type BridgeRecord, type GatewayRecord } from './records.js';

/** The gateway's side of a link: it sends gateway records and reads bridge records. */
export type GatewaySideLink = MediaLink<BridgeRecord, GatewayRecord>;

export interface DialOptions {
  host: string;
  port: number;
  /** This instance's id (the bridge sees it as the link's peer). */
  instanceId: string;
  secret: string;
  logger: Logger;
  timings?: Partial<MediaLinkTimings>;
  connectTimeoutMs?: number;
  observer?: LinkObserver;
}

export function dialMediaLink(o: DialOptions): Promise<GatewaySideLink> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: o.host, port: o.port });
    const lines = new LineSocket(socket, o.timings?.maxLineBytes ?? MEDIA_LINK_DEFAULTS.maxLineBytes);
    let listener: string | undefined;
    let done = false;
    const fail = (reason: MediaLinkAuthError['reason'], message: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      lines.destroy(reason);
      reject(new MediaLinkAuthError(reason, `media link to ${o.host}:${o.port}: ${message}`));
    };
    const timer = setTimeout(
      () => fail('timeout', 'no handshake in time'),
      o.connectTimeoutMs ?? MEDIA_LINK_DEFAULTS.connectTimeoutMs,
    );
    lines.onGone = (reason) => fail(listener ? 'denied' : 'connect', `connection ${reason} during the handshake`);
    lines.onLine = (line) => {
      if (!listener) {
        const hello = parseHello(line);
        if (!hello) return fail('malformed', 'the listener did not say HELLO');
        if (hello.version !== MEDIA_LINK_PROTOCOL_VERSION)
          return fail('version', `protocol ${hello.version}, this end speaks ${MEDIA_LINK_PROTOCOL_VERSION}`);
        listener = hello.listener;
        lines.write(`AUTH ${o.instanceId} ${proof(o.secret, hello.nonce, o.instanceId, listener)}\n`);
        return;
      }
      if (line !== 'OK')
        return fail(
          'denied',
          `refused (${line.slice(0, 60)}): check MEDIA_LINK_SECRET is the same on gateways and bridges`,
        );
      done = true;
      clearTimeout(timer);
      resolve(
        new MediaLink({
          lines,
          peer: listener,
          decode: decodeBridgeRecord,
          encode: encodeGatewayRecord,
          timings: o.timings,
          logger: o.logger,
          observer: o.observer,
        }),
      );
    };
  });
}
