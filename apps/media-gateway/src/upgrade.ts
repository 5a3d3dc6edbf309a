/**
 * Checks on the HTTP upgrade, before any other work: the path, and Twilio's
 * signature over the public URL. Nothing here touches Redis, so a forged or
 * stray upgrade costs the service nothing but the HMAC.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import twilio from 'twilio';
import { MEDIA_PATH } from './config.js';

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

/** Twilio's CallSid shape; anything else in the path is not ours (and must not become a Redis key). */
const CALL_SID_PATTERN = /^CA[0-9a-f]{32}$/i;

export function isCallSid(value: string): boolean {
  return CALL_SID_PATTERN.test(value);
}

export interface StreamRoute {
  /** The CallSid the webhook put in the stream URL's path, when it did. */
  callSid?: string;
  /** The path suffix after MEDIA_PATH ('' or '/CA…'), part of what Twilio signed. */
  suffix: string;
}

/** `/ws/twilio-media` or `/ws/twilio-media/<CallSid>`; anything else is undefined (404). */
export function parseStreamRoute(requestUrl: string | undefined): StreamRoute | undefined {
  if (!requestUrl) return undefined;
  const queryAt = requestUrl.indexOf('?');
  const path = queryAt === -1 ? requestUrl : requestUrl.slice(0, queryAt);
  if (path === MEDIA_PATH) return { suffix: '' };
  if (!path.startsWith(`${MEDIA_PATH}/`)) return undefined;
  const callSid = path.slice(MEDIA_PATH.length + 1);
  return isCallSid(callSid) ? { callSid, suffix: `/${callSid}` } : undefined;
}

/**
 * Builds the URL Twilio signed from configuration, never from the Host header
 * (which the client controls), then validates the signature over it.
 */
export function createSignatureCheck(authToken: string, publicStreamUrl: string) {
  const publicUrl = new URL(publicStreamUrl);
  const base = `${publicUrl.origin}${publicUrl.pathname}`;
  return (req: IncomingMessage, route: StreamRoute): boolean => {
    const signature = req.headers[TWILIO_SIGNATURE_HEADER];
    if (typeof signature !== 'string' || signature === '') return false;
    return twilio.validateRequest(authToken, signature, `${base}${route.suffix}`, {});
  };
}

const STATUS_TEXT = {
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
} as const;

export type RefusalStatus = keyof typeof STATUS_TEXT;

/** Answers the upgrade with a bare HTTP status and drops the connection. */
export function refuseUpgrade(socket: Duplex, status: RefusalStatus): void {
  // A client resetting mid-answer must not become an unhandled 'error'.
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
