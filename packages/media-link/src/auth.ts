/**
 * The link handshake. The listener (a bridge) greets with a fresh nonce; the
 * dialer (a gateway) proves it holds MEDIA_LINK_SECRET with an HMAC over the
 * nonce and both instance names, so a captured handshake cannot be replayed
 * and the secret never crosses the wire.
 *
 *   listener: HELLO <version> <listener-instance> <nonce>
 *   dialer:   AUTH <dialer-instance> <hex hmac-sha256(secret, nonce|dialer|listener)>
 *   listener: OK            (or DENIED <reason>, then close)
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MEDIA_LINK_PROTOCOL_VERSION } from './defaults.js';

export type RefusalReason = 'bad_secret' | 'malformed' | 'version' | 'timeout' | 'closed';

export class MediaLinkAuthError extends Error {
  override name = 'MediaLinkAuthError';
  constructor(
    readonly reason: RefusalReason | 'denied' | 'connect',
    message: string,
  ) {
    super(message);
  }
}

const INSTANCE = /^[\w.:@-]{1,200}$/;

export function helloLine(listener: string, nonce: string): string {
  return `HELLO ${MEDIA_LINK_PROTOCOL_VERSION} ${listener} ${nonce}\n`;
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function proof(secret: string, nonce: string, dialer: string, listener: string): string {
  return createHmac('sha256', secret).update(`${nonce}|${dialer}|${listener}`).digest('hex');
}

export function parseHello(line: string): { version: string; listener: string; nonce: string } | undefined {
  const [word, version, listener, nonce, extra] = line.split(' ');
  if (word !== 'HELLO' || !version || !listener || !nonce || extra !== undefined) return undefined;
  return { version, listener, nonce };
}

/** Checks a dialer's AUTH line; returns its instance id or why it is refused. */
export function verifyAuth(
  line: string,
  secret: string,
  nonce: string,
  listener: string,
): { ok: true; dialer: string } | { ok: false; reason: RefusalReason } {
  const [word, dialer, mac, extra] = line.split(' ');
  if (
    word !== 'AUTH' ||
    !dialer ||
    !mac ||
    extra !== undefined ||
    !INSTANCE.test(dialer) ||
    !/^[0-9a-f]{64}$/.test(mac)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = Buffer.from(proof(secret, nonce, dialer, listener), 'hex');
  return timingSafeEqual(expected, Buffer.from(mac, 'hex'))
    ? { ok: true, dialer }
    : { ok: false, reason: 'bad_secret' };
}
