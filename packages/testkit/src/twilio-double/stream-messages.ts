/**
 * The messages Twilio sends on a media stream, with its counters:
 * `sequenceNumber` counts every message from 1 (`connected` has none),
 * `chunk` counts media messages from 1, and both travel as strings.
 */
import type {
  TwilioDtmfMessage,
  TwilioInboundMessage,
  TwilioMarkMessage,
  TwilioMediaMessage,
  TwilioStartMessage,
  TwilioStopMessage,
} from '@voice/protocols';
import { SAMPLE_RATE_HZ } from '@voice/protocols';
import { STREAM_PROTOCOL } from './constants.js';

export interface StreamIds {
  accountSid: string;
  callSid: string;
  streamSid: string;
}

const INBOUND_TRACK = 'inbound';
/** Twilio names the DTMF track differently from the media track. */
const DTMF_TRACK = 'inbound_track';

export class StreamMessageCounter {
  private sequence = 0;
  private chunks = 0;

  constructor(private readonly ids: StreamIds) {}

  get lastSequenceNumber(): number {
    return this.sequence;
  }

  get lastChunk(): number {
    return this.chunks;
  }

  connected(): TwilioInboundMessage {
    return { event: 'connected', ...STREAM_PROTOCOL };
  }

  start(customParameters: Record<string, string>): TwilioStartMessage {
    return {
      event: 'start',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      start: {
        accountSid: this.ids.accountSid,
        streamSid: this.ids.streamSid,
        callSid: this.ids.callSid,
        tracks: [INBOUND_TRACK],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: SAMPLE_RATE_HZ, channels: 1 },
      },
    };
  }

  media(payload: Buffer, timestampMs: number): TwilioMediaMessage {
    this.chunks++;
    return {
      event: 'media',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      media: {
        track: INBOUND_TRACK,
        chunk: String(this.chunks),
        timestamp: String(Math.max(0, Math.round(timestampMs))),
        payload: payload.toString('base64'),
      },
    };
  }

  dtmf(digit: string): TwilioDtmfMessage {
    return {
      event: 'dtmf',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      dtmf: { track: DTMF_TRACK, digit },
    };
  }

  mark(name: string): TwilioMarkMessage {
    return { event: 'mark', sequenceNumber: this.nextSequence(), streamSid: this.ids.streamSid, mark: { name } };
  }

  stop(): TwilioStopMessage {
    return {
      event: 'stop',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      stop: { accountSid: this.ids.accountSid, callSid: this.ids.callSid },
    };
  }

  private nextSequence(): string {
    this.sequence++;
    return String(this.sequence);
  }
}
