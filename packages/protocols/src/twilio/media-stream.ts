/**
 * Twilio Media Streams messages (bidirectional `<Connect><Stream>`).
 * Twilio sends every counter as a string; schemas keep them as strings and the
 * gateway converts where it needs numbers.
 */
import { z } from 'zod';

const numericString = z.string().regex(/^\d+$/);

export const connectedMessage = z.object({
  event: z.literal('connected'),
  protocol: z.string(),
  version: z.string(),
});

export const mediaFormat = z.object({
  encoding: z.string(),
  sampleRate: z.number(),
  channels: z.number(),
});

export const startMessage = z.object({
  event: z.literal('start'),
  sequenceNumber: numericString,
  streamSid: z.string().min(1),
  start: z.object({
    accountSid: z.string(),
    streamSid: z.string().min(1),
    callSid: z.string().min(1),
    tracks: z.array(z.string()),
    customParameters: z.record(z.string(), z.string()).default({}),
    mediaFormat,
  }),
});

export const mediaMessage = z.object({
  event: z.literal('media'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  media: z.object({
    track: z.string(),
    chunk: numericString,
    timestamp: numericString,
    payload: z.string(),
  }),
});

export const dtmfMessage = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  dtmf: z.object({ track: z.string(), digit: z.string() }),
});

export const markMessage = z.object({
  event: z.literal('mark'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  mark: z.object({ name: z.string() }),
});

export const stopMessage = z.object({
  event: z.literal('stop'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  stop: z.object({ accountSid: z.string(), callSid: z.string() }),
});

/** Everything Twilio may send on the media socket. */
export const twilioInboundMessage = z.discriminatedUnion('event', [
  connectedMessage,
  startMessage,
  mediaMessage,
  dtmfMessage,
  markMessage,
  stopMessage,
]);

export type TwilioInboundMessage = z.infer<typeof twilioInboundMessage>;
export type TwilioStartMessage = z.infer<typeof startMessage>;
export type TwilioMediaMessage = z.infer<typeof mediaMessage>;
export type TwilioMarkMessage = z.infer<typeof markMessage>;
export type TwilioStopMessage = z.infer<typeof stopMessage>;
export type TwilioDtmfMessage = z.infer<typeof dtmfMessage>;

/** Messages the application sends to Twilio. */
export type TwilioOutboundMessage =
  | { event: 'media'; streamSid: string; media: { payload: string } }
  | { event: 'mark'; streamSid: string; mark: { name: string } }
  | { event: 'clear'; streamSid: string };

export const twilioOutboundMessage = z.discriminatedUnion('event', [
  z.object({ event: z.literal('media'), streamSid: z.string(), media: z.object({ payload: z.string() }) }),
  z.object({ event: z.literal('mark'), streamSid: z.string(), mark: z.object({ name: z.string() }) }),
  z.object({ event: z.literal('clear'), streamSid: z.string() }),
]);

/** Subprotocol some Twilio deployments offer on the upgrade; echoed when offered. */
export const TWILIO_MEDIA_SUBPROTOCOL = 'audio.twilio.com';

/** Names of the `<Parameter>`s the webhook puts on the stream, read back from `start.customParameters`. */
export const STREAM_PARAMETERS = {
  callToken: 'callToken',
  businessId: 'businessId',
  direction: 'direction',
  callSid: 'callSid',
} as const;
