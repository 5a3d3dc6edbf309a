/**
 * A raw Twilio-shaped media stream client: signs the upgrade with the twilio
 * SDK exactly as Twilio does, sends Twilio's messages with its counters, and
 * records what the gateway sends back.
 */
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { WebSocket } from 'ws';
import type { TwilioOutboundMessage } from '@voice/protocols';
import { MEDIA_PATH } from '../../src/config.js';
import { waitFor } from './wait-for.js';

export const AUTH_TOKEN = 'test_auth_token_0123456789abcdef';
export const PUBLIC_STREAM_URL = 'wss://voice.example.test/ws/twilio-media';

export type SignatureMode = 'valid' | 'forged' | 'missing';

export interface ConnectOptions {
  /** Put the CallSid in the URL path, as the webhook does. */
  pathCallSid?: string;
  signature?: SignatureMode;
  /** Subprotocols to offer on the upgrade. */
  protocols?: string[];
  /** Sign this URL instead of the public one (to prove the Host header is not trusted). */
  signedUrl?: string;
  headers?: Record<string, string>;
}

function upgradeRequest(port: number, opts: ConnectOptions) {
  const suffix = opts.pathCallSid ? `/${opts.pathCallSid}` : '';
  const signedUrl = opts.signedUrl ?? `${PUBLIC_STREAM_URL}${suffix}`;
  const headers: Record<string, string> = { ...opts.headers };
  const mode = opts.signature ?? 'valid';
  if (mode !== 'missing') {
    const token = mode === 'valid' ? AUTH_TOKEN : 'not_the_auth_token';
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(token, signedUrl, {});
  }
  return { url: `ws://127.0.0.1:${port}${MEDIA_PATH}${suffix}`, headers };
}

/** Resolves with the HTTP status of a refused upgrade (fails if the upgrade is accepted). */
export function refusedStatus(port: number, opts: ConnectOptions & { path?: string } = {}): Promise<number> {
  const { url, headers } = upgradeRequest(port, opts);
  const target = opts.path ? `ws://127.0.0.1:${port}${opts.path}` : url;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target, opts.protocols ?? [], { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

export interface StreamIds {
  accountSid: string;
  callSid: string;
  streamSid: string;
}

export class TwilioStreamClient {
  readonly received: TwilioOutboundMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private sequence = 0;
  private chunk = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly ids: StreamIds,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on('message', (data) => this.received.push(JSON.parse(String(data)) as TwilioOutboundMessage));
    ws.on('error', () => undefined);
  }

  static async connect(port: number, callSid: string, opts: ConnectOptions = {}): Promise<TwilioStreamClient> {
    const { url, headers } = upgradeRequest(port, opts);
    const ws = new WebSocket(url, opts.protocols ?? [], { headers });
    const ids = { accountSid: `AC${hex(16)}`, callSid, streamSid: `MZ${hex(16)}` };
    const client = new TwilioStreamClient(ws, ids);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  connected(): void {
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  start(customParameters: Record<string, string>, callSid = this.ids.callSid): void {
    this.send({
      event: 'start',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      start: {
        accountSid: this.ids.accountSid,
        streamSid: this.ids.streamSid,
        callSid,
        tracks: ['inbound'],
        customParameters,
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
  }

  media(payload: string, streamSid = this.ids.streamSid): void {
    this.chunk++;
    this.send({
      event: 'media',
      sequenceNumber: this.nextSequence(),
      streamSid,
      media: { track: 'inbound', chunk: String(this.chunk), timestamp: String(this.chunk * 20), payload },
    });
  }

  mark(name: string): void {
    this.send({ event: 'mark', sequenceNumber: this.nextSequence(), streamSid: this.ids.streamSid, mark: { name } });
  }

  dtmf(digit: string): void {
    this.send({
      event: 'dtmf',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      dtmf: { track: 'inbound_track', digit },
    });
  }

  stop(): void {
    this.send({
      event: 'stop',
      sequenceNumber: this.nextSequence(),
      streamSid: this.ids.streamSid,
      stop: { accountSid: this.ids.accountSid, callSid: this.ids.callSid },
    });
  }

  async waitForMessages(count: number): Promise<TwilioOutboundMessage[]> {
    await waitFor(`${count} messages from the gateway`, () => this.received.length >= count);
    return this.received;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
  }

  terminate(): void {
    this.ws.terminate();
  }

  private nextSequence(): string {
    this.sequence++;
    return String(this.sequence);
  }
}

/** 20 ms of mu-law audio (160 bytes) as Twilio would send it, distinct per `seed`. */
export function audioFrame(seed: number): string {
  return Buffer.alloc(160, seed % 256).toString('base64');
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
