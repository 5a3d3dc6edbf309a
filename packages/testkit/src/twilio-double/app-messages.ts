/**
 * Reads what the app sends on the media stream. Twilio never answers an invalid
 * message on the socket; it only records a warning in the call's debugger log.
 */
import type { RawData } from 'ws';
import type { TwilioOutboundMessage } from '@voice/protocols';
import { twilioOutboundMessage } from '@voice/protocols';
import { TWILIO_ERROR } from './constants.js';

export type AppMessage =
  | { ok: true; message: TwilioOutboundMessage; audio?: Buffer }
  | { ok: false; code: number; reason: string; event?: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const KNOWN_EVENTS = new Set(['media', 'mark', 'clear']);

export function readAppMessage(data: RawData, isBinary: boolean, streamSid: string): AppMessage {
  if (isBinary) return malformed('binary frame (Twilio accepts JSON text only)');
  let json: unknown;
  try {
    json = JSON.parse(rawToString(data));
  } catch {
    return malformed('message is not valid JSON');
  }
  const event = eventOf(json);
  if (event === undefined || !KNOWN_EVENTS.has(event)) {
    return invalid(`unknown event ${JSON.stringify(event ?? null)}`, event);
  }
  const parsed = twilioOutboundMessage.safeParse(json);
  if (!parsed.success)
    return invalid(`invalid ${event} message: ${parsed.error.issues[0]?.message ?? 'schema'}`, event);
  const message = parsed.data;
  if (message.streamSid !== streamSid) return invalid(`wrong streamSid ${JSON.stringify(message.streamSid)}`, event);
  if (message.event !== 'media') return { ok: true, message };
  const { payload } = message.media;
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) return invalid('media payload is not base64', event);
  return { ok: true, message, audio: Buffer.from(payload, 'base64') };
}

function malformed(reason: string): AppMessage {
  return { ok: false, code: TWILIO_ERROR.streamMalformedMessage, reason };
}

function invalid(reason: string, event: string | undefined): AppMessage {
  return { ok: false, code: TWILIO_ERROR.streamInvalidMessage, reason, ...(event === undefined ? {} : { event }) };
}

function eventOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const event = (json as { event?: unknown }).event;
  return typeof event === 'string' ? event : undefined;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
