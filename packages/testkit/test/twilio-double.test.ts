/**
 * The simulated Twilio caller against a small fake app written here: an http
 * server answering the voice webhook with `<Connect><Stream>` and a `<Say>`
 * fallback, and a ws server that checks the upgrade signature the way the real
 * gateway must, then answers with audio, marks and clears.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import twilio from 'twilio';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import {
  FRAME_BYTES,
  MULAW_SILENCE,
  TWILIO_MEDIA_SUBPROTOCOL,
  markMessage,
  mulawDecode,
  mulawEncode,
  mulawRms,
  parseWav,
  twilioInboundMessage,
} from '@voice/protocols';
import { FrameClock, TWILIO_ERROR, placeCall } from '../src/twilio-double/index.js';
import type { PlaceCallOptions, TwilioCallerDouble } from '../src/twilio-double/index.js';
import { waitFor } from '../src/wait-for.js';

const AUTH_TOKEN = '0123456789abcdef0123456789abcdef';
const PUBLIC_HTTP_ORIGIN = 'https://voice.example.test';
const PUBLIC_WSS_ORIGIN = 'wss://voice.example.test';
const VOICE_PATH = '/twilio/voice';
const STREAM_PATH = '/ws/twilio-media';
const STATUS_PATH = '/twilio/stream-status';
const ACTION_PATH = '/twilio/connect-action';
const PUBLIC_WEBHOOK_URL = PUBLIC_HTTP_ORIGIN + VOICE_PATH;
const PUBLIC_STREAM_URL = PUBLIC_WSS_ORIGIN + STREAM_PATH;
const FALLBACK_TEXT = 'Sorry, we could not connect you. Please call again later.';
const STREAM_PARAMS = { callToken: 'tok-123', businessId: 'biz-42' };

function twimlWith(streamUrl = PUBLIC_STREAM_URL): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${streamUrl}" statusCallback="${PUBLIC_HTTP_ORIGIN}${STATUS_PATH}"><Parameter name="callToken" value="${STREAM_PARAMS.callToken}"/><Parameter name="businessId" value="${STREAM_PARAMS.businessId}"/></Stream></Connect><Say>${FALLBACK_TEXT}</Say></Response>`;
}

/** A 440 Hz tone as mu-law: loud, and easy to find byte-for-byte in what was heard. */
function tone(ms: number, hz = 440): Buffer {
  const pcm = new Int16Array(ms * 8);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  return mulawEncode(pcm);
}

// The fake app's view of messages is loosely typed on purpose: it checks shapes with the schemas.
type Json = Record<string, any>;

interface FormRecord {
  params: Record<string, string>;
  signature: string;
  valid: boolean;
}

class FakeStream {
  readonly messages: { at: number; msg: Json }[] = [];
  readonly openedAt = performance.now();
  closed: { code: number; reason: string } | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly signatureValid: boolean,
    readonly offeredProtocol: string | undefined,
    onStart: (stream: FakeStream) => void,
  ) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Json;
      this.messages.push({ at: performance.now(), msg });
      if (msg.event === 'start') onStart(this);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  get streamSid(): string {
    return String(this.of('start')[0]?.msg.streamSid);
  }
  of(event: string): { at: number; msg: Json }[] {
    return this.messages.filter((m) => m.msg.event === event);
  }
  send(msg: Json): void {
    this.ws.send(JSON.stringify(msg));
  }
  sendAudio(audio: Buffer): void {
    this.send({ event: 'media', streamSid: this.streamSid, media: { payload: audio.toString('base64') } });
  }
  sendMark(name: string): void {
    this.send({ event: 'mark', streamSid: this.streamSid, mark: { name } });
  }
  clear(): void {
    this.send({ event: 'clear', streamSid: this.streamSid });
  }
}

class FakeApp {
  twiml = twimlWith();
  webhookStatus = 200;
  readonly webhooks: FormRecord[] = [];
  readonly statusCallbacks: FormRecord[] = [];
  readonly actions: FormRecord[] = [];
  /** What the <Connect action> URL answers, one per post (the last repeats). */
  actionAnswers: string[] = [];
  readonly streams: FakeStream[] = [];
  onStart: (stream: FakeStream) => void = () => undefined;
  private readonly server = http.createServer((req, res) => this.onRequest(req, res));
  private readonly wss: WebSocketServer;

  constructor() {
    this.wss = new WebSocketServer({
      server: this.server,
      path: STREAM_PATH,
      // The URL comes from configuration (the public origin), never from the Host header.
      verifyClient: ({ req }, done) => done(this.upgradeValid(req), 403),
      handleProtocols: (protocols) => (protocols.has(TWILIO_MEDIA_SUBPROTOCOL) ? TWILIO_MEDIA_SUBPROTOCOL : false),
    });
    this.wss.on('connection', (ws, req) => {
      const offered = req.headers['sec-websocket-protocol'];
      this.streams.push(new FakeStream(ws, this.upgradeValid(req), offered, (s) => this.onStart(s)));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get localOrigin(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  callOptions(extra: Partial<PlaceCallOptions> = {}): PlaceCallOptions {
    return {
      webhookUrl: `http://${this.localOrigin}${VOICE_PATH}`,
      publicWebhookUrl: PUBLIC_WEBHOOK_URL,
      authToken: AUTH_TOKEN,
      resolveStreamUrl: (url) => url.replace(PUBLIC_WSS_ORIGIN, `ws://${this.localOrigin}`),
      script: [{ audio: tone(200) }],
      ...extra,
    };
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private upgradeValid(req: http.IncomingMessage): boolean {
    const signature = String(req.headers['x-twilio-signature'] ?? '');
    return twilio.validateRequest(AUTH_TOKEN, signature, PUBLIC_WSS_ORIGIN + (req.url ?? ''), {});
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      const signature = String(req.headers['x-twilio-signature'] ?? '');
      const record = {
        params,
        signature,
        valid: twilio.validateRequest(AUTH_TOKEN, signature, PUBLIC_HTTP_ORIGIN + req.url, params),
      };
      if (req.url === ACTION_PATH) {
        this.actions.push(record);
        const answer =
          this.actionAnswers[Math.min(this.actions.length, this.actionAnswers.length) - 1] ??
          '<Response><Hangup/></Response>';
        res.writeHead(200, { 'Content-Type': 'text/xml' }).end(answer);
        return;
      }
      if (req.url === STATUS_PATH) {
        this.statusCallbacks.push(record);
        res.writeHead(204).end();
        return;
      }
      this.webhooks.push(record);
      res.writeHead(this.webhookStatus, { 'Content-Type': 'text/xml' }).end(this.twiml);
    });
  }
}

describe('twilio caller double', function () {
  let app: FakeApp;
  let calls: TwilioCallerDouble[];

  const call = (extra: Partial<PlaceCallOptions> = {}): TwilioCallerDouble => {
    const placed = placeCall(app.callOptions(extra));
    calls.push(placed);
    return placed;
  };
  const firstStream = async (): Promise<FakeStream> => {
    await waitFor(() => app.streams.length > 0, { message: 'the stream socket' });
    return app.streams[0]!;
  };
  const started = async (): Promise<FakeStream> => {
    const stream = await firstStream();
    await waitFor(() => stream.of('start').length > 0, { message: 'START' });
    return stream;
  };

  // Sockets, servers and timers this suite may create; none may outlive it.
  const LEAKABLE = new Set(['TCPSocketWrap', 'TCPServerWrap', 'Timeout']);
  const leakable = (): number => process.getActiveResourcesInfo().filter((r) => LEAKABLE.has(r)).length;
  let leakableBefore = 0;

  before(() => {
    leakableBefore = leakable();
  });

  after(async () => {
    // Closed sockets release their handles on the next turns of the event loop.
    await waitFor(() => leakable() <= leakableBefore, { timeoutMs: 2000, message: 'no leaked sockets or timers' });
  });

  beforeEach(async () => {
    app = await new FakeApp().listen();
    calls = [];
  });

  afterEach(async () => {
    await Promise.all(calls.map((c) => c.hangup()));
    await app.close();
  });

  describe('webhook', () => {
    it('posts a form signed for the public URL, which a tampered request fails', async () => {
      app.twiml = '<Response><Say>Hello there</Say><Hangup/></Response>';
      const summary = await call({ from: '+15551230000', to: '+15005550006' }).done;
      const hook = app.webhooks[0]!;
      expect(hook.valid).to.equal(true);
      expect(hook.params).to.include({
        AccountSid: summary.accountSid,
        CallSid: summary.callSid,
        From: '+15551230000',
        Caller: '+15551230000',
        To: '+15005550006',
        Called: '+15005550006',
        CallStatus: 'ringing',
        Direction: 'inbound',
        ApiVersion: '2010-04-01',
      });
      expect(summary.callSid).to.match(/^CA[0-9a-f]{32}$/);
      expect(summary.streamSid).to.match(/^MZ[0-9a-f]{32}$/);
      const tampered = { ...hook.params, From: '+15559999999' };
      expect(twilio.validateRequest(AUTH_TOKEN, hook.signature, PUBLIC_WEBHOOK_URL, tampered)).to.equal(false);
      expect(
        twilio.validateRequest(AUTH_TOKEN, hook.signature, `http://${app.localOrigin}${VOICE_PATH}`, hook.params),
      ).to.equal(false);
      expect(summary.endedBy).to.equal('twiml-hangup');
      expect(summary.spokenByTwilio).to.deep.include({
        verb: 'Say',
        text: 'Hello there',
        callMs: summary.spokenByTwilio[0]!.callMs,
        phase: 'before-stream',
      });
    });

    it('plays the application error when the webhook fails or answers bad TwiML', async () => {
      app.webhookStatus = 500;
      const failed = await call().done;
      expect(failed.endedBy).to.equal('webhook-error');
      expect(failed.webhookStatus).to.equal(500);
      expect(failed.warnings.map((w) => w.code)).to.deep.equal([TWILIO_ERROR.httpRetrievalFailure]);
      expect(failed.spokenByTwilio[0]?.phase).to.equal('error');

      app.webhookStatus = 200;
      app.twiml = '<Respons><Say>typo</Say>';
      const bad = await call().done;
      expect(bad.warnings.map((w) => w.code)).to.deep.equal([TWILIO_ERROR.documentParseFailure]);
      expect(app.streams).to.have.length(0);
    });
  });

  describe('stream handshake', () => {
    it('signs the upgrade for the public wss URL and offers the audio.twilio.com subprotocol', async () => {
      const placed = call();
      const stream = await started();
      expect(stream.signatureValid).to.equal(true);
      expect(stream.offeredProtocol).to.equal(TWILIO_MEDIA_SUBPROTOCOL);
      expect(placed.session?.subprotocol).to.equal(TWILIO_MEDIA_SUBPROTOCOL);
      const summary = await placed.hangup();
      expect(summary.subprotocol).to.equal(TWILIO_MEDIA_SUBPROTOCOL);
      expect(summary.streamUrl).to.equal(PUBLIC_STREAM_URL);
    });

    it('connects without a subprotocol when told not to offer one', async () => {
      const placed = call({ offerSubprotocol: false });
      const stream = await started();
      expect(stream.offeredProtocol).to.equal(undefined);
      expect(placed.session?.subprotocol).to.equal(undefined);
    });

    it('runs the fallback when the app refuses the upgrade (bad signature)', async () => {
      const summary = await call({ authToken: 'not-the-token' }).done;
      expect(app.webhooks[0]?.valid).to.equal(false);
      expect(summary.streamEndedBy).to.equal('handshake-failed');
      expect(summary.warnings.map((w) => w.code)).to.include(TWILIO_ERROR.streamHandshake);
      expect(summary.spokenByTwilio.map((s) => s.text)).to.deep.equal([FALLBACK_TEXT]);
    });

    it('strips a query string from the stream URL and refuses ws:// URLs', async () => {
      app.twiml = twimlWith(`${PUBLIC_STREAM_URL}?token=abc`);
      const placed = call();
      const stream = await started();
      expect(stream.signatureValid).to.equal(true);
      await placed.hangup();
      expect(placed.warnings.some((w) => /query string dropped/.test(w.message))).to.equal(true);

      app.twiml = twimlWith(`ws://${app.localOrigin}${STREAM_PATH}`);
      const insecure = await call().done;
      expect(insecure.warnings.map((w) => w.code)).to.include(TWILIO_ERROR.streamHandshake);
      expect(insecure.spokenByTwilio.map((s) => s.phase)).to.deep.equal(['after-stream']);
      expect(app.streams).to.have.length(1);
    });
  });

  describe('what the caller sends', () => {
    it('sends connected, start and media with Twilio counters, then stop on hangup', async () => {
      const said = tone(300);
      const placed = call({ script: [{ audio: said }] });
      const stream = await started();
      await waitFor(() => stream.of('media').length >= 25, { message: '25 frames' });
      await placed.hangup();
      await waitFor(() => stream.closed !== undefined, { message: 'close' });

      const msgs = stream.messages.map((m) => m.msg);
      for (const msg of msgs) expect(twilioInboundMessage.safeParse(msg).success, JSON.stringify(msg)).to.equal(true);
      expect(msgs[0]).to.deep.equal({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      expect(msgs[1]).to.deep.equal({
        event: 'start',
        sequenceNumber: '1',
        streamSid: placed.streamSid,
        start: {
          accountSid: placed.accountSid,
          streamSid: placed.streamSid,
          callSid: placed.callSid,
          tracks: ['inbound'],
          customParameters: STREAM_PARAMS,
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      });
      msgs.slice(1).forEach((msg, i) => expect(msg.sequenceNumber).to.equal(String(i + 1)));
      const media = stream.of('media').map((m) => m.msg);
      const timestamps = media.map((m) => Number(m.media.timestamp));
      media.forEach((m, i) => {
        expect(m.media.chunk).to.equal(String(i + 1));
        expect(m.media.track).to.equal('inbound');
        // Timestamps come from the clock's schedule: exactly 20 ms apart, whatever the timers did.
        expect(Math.abs(timestamps[i]! - timestamps[0]! - 20 * i)).to.be.at.most(1);
      });
      expect(timestamps[0]).to.be.within(0, 20);
      expect(msgs.at(-1)).to.deep.equal({
        event: 'stop',
        sequenceNumber: String(msgs.length - 1),
        streamSid: placed.streamSid,
        stop: { accountSid: placed.accountSid, callSid: placed.callSid },
      });

      const received = Buffer.concat(media.map((m) => Buffer.from(m.media.payload, 'base64')));
      expect(received.equals(placed.sentAudio())).to.equal(true);
      expect(received.subarray(0, said.length).equals(said)).to.equal(true);
      expect(received.subarray(said.length).every((b) => b === MULAW_SILENCE)).to.equal(true);
      expect(stream.closed?.code).to.equal(1000);
    });

    it('sends about 50 frames a second', async () => {
      call();
      const stream = await started();
      const windowStart = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const frames = stream.of('media').filter((m) => m.at >= windowStart).length;
      expect(frames).to.be.within(40, 60);
    });

    it('says the default script: a second of silence, then speech', async () => {
      const placed = call({ script: undefined });
      await started();
      await waitFor(() => placed.sentFrames >= 100, { timeoutMs: 5000, message: '2 s of frames' });
      const sent = placed.sentAudio();
      expect(sent.subarray(0, 50 * FRAME_BYTES).every((b) => b === MULAW_SILENCE)).to.equal(true);
      expect(mulawRms(sent.subarray(50 * FRAME_BYTES, 100 * FRAME_BYTES))).to.be.above(300);
    });

    it('delays START, presses DTMF and hangs up on schedule', async () => {
      const placed = call({ startDelayMs: 200, dtmf: [{ atMs: 100, digit: '5' }], hangupAfterMs: 500 });
      const summary = await placed.done;
      const stream = app.streams[0]!;
      const [connected, start] = [stream.of('connected')[0]!, stream.of('start')[0]!];
      expect(start.at - connected.at).to.be.at.least(190);
      const dtmf = stream.of('dtmf')[0]!.msg;
      expect(dtmf.dtmf).to.deep.equal({ track: 'inbound_track', digit: '5' });
      const seqs = stream.messages.slice(1).map((m) => Number(m.msg.sequenceNumber));
      expect(seqs).to.deep.equal(seqs.map((_, i) => i + 1));
      expect(stream.of('stop')).to.have.length(1);
      expect(summary.endedBy).to.equal('caller');
      expect(summary.streamEndedBy).to.equal('caller');
      // The caller left: the fallback after </Connect> does not run.
      expect(summary.spokenByTwilio).to.deep.equal([]);
    });

    it('hangs up when the script ends, if asked', async () => {
      const summary = await call({ script: [{ audio: tone(200) }], hangupWhenScriptEnds: true }).done;
      expect(summary.sentFrames).to.equal(10);
      expect(app.streams[0]!.of('stop')).to.have.length(1);
    });

    it('ghost mode opens the socket and sends nothing; noStart sends connected only', async () => {
      const ghost = call({ ghost: true });
      const stream = await firstStream();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(stream.messages).to.deep.equal([]);
      const summary = await ghost.hangup();
      await waitFor(() => stream.closed !== undefined, { message: 'ghost close' });
      expect(stream.messages).to.deep.equal([]);
      expect(summary.sentFrames).to.equal(0);

      call({ noStart: true });
      await waitFor(() => app.streams.length === 2, { message: 'second socket' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(app.streams[1]!.messages.map((m) => m.msg.event)).to.deep.equal(['connected']);
    });

    it('stamps frames through a shared clock for many concurrent calls', async () => {
      const clock = new FrameClock({
        onFrame: (frame) => Buffer.concat([Buffer.from([frame.chunk & 0xff]), frame.payload.subarray(1)]),
      });
      const many = Array.from({ length: 20 }, () => call({ clock }));
      await waitFor(() => app.streams.length === 20 && app.streams.every((s) => s.of('media').length >= 10), {
        message: '20 streams',
      });
      expect(clock.listenerCount).to.equal(20);
      for (const stream of app.streams) {
        const first = Buffer.from(stream.of('media')[2]!.msg.media.payload, 'base64');
        expect(first[0]).to.equal(3);
      }
      await Promise.all(many.map((c) => c.hangup()));
      expect(clock.running).to.equal(false);
      expect(clock.stats().ticks).to.be.at.least(10);
    });
  });

  describe('playback like a phone', () => {
    it('echoes a mark only once the audio before it has played at real time', async () => {
      const placed = call();
      const stream = await started();
      const sentAt = performance.now();
      stream.sendAudio(tone(400));
      stream.sendMark('after-tone');
      await waitFor(() => stream.of('mark').length === 1, { message: 'mark echo' });
      const echo = stream.of('mark')[0]!;
      expect(echo.at - sentAt).to.be.within(390, 600);
      expect(markMessage.safeParse(echo.msg).success).to.equal(true);
      expect(echo.msg).to.include({ streamSid: placed.streamSid });
      expect(echo.msg.mark).to.deep.equal({ name: 'after-tone' });
      expect(placed.marks[0]).to.include({ name: 'after-tone', played: true });
    });

    it('clear drops the queued audio and echoes pending marks at once', async () => {
      const placed = call();
      const stream = await started();
      stream.sendAudio(tone(2000));
      stream.sendMark('long');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const clearedAt = performance.now();
      stream.clear();
      await waitFor(() => stream.of('mark').length === 1, { message: 'flushed mark' });
      expect(stream.of('mark')[0]!.at - clearedAt).to.be.below(100);
      expect(placed.marks[0]).to.include({ name: 'long', played: false });
      const [cleared] = placed.clears;
      expect(cleared!.droppedMs).to.be.within(1600, 1750);
      expect(cleared!.flushedMarks).to.deep.equal(['long']);
      const heardMs = placed.heardSegments().reduce((sum, s) => sum + s.bytes.length / 8, 0);
      expect(heardMs).to.be.within(250, 400);

      // After a clear the queue is empty: new audio plays from its arrival.
      const againAt = performance.now();
      stream.sendAudio(tone(100));
      stream.sendMark('short');
      await waitFor(() => stream.of('mark').length === 2, { message: 'second mark' });
      expect(stream.of('mark')[1]!.at - againAt).to.be.within(90, 250);
    });

    it('records what was heard, byte for byte, and writes a valid WAV', async () => {
      const placed = call();
      const stream = await started();
      const said = tone(300, 660);
      stream.sendAudio(Buffer.alloc(800, MULAW_SILENCE));
      await new Promise((resolve) => setTimeout(resolve, 150));
      stream.sendAudio(said.subarray(0, 1000));
      stream.sendAudio(said.subarray(1000));
      stream.sendMark('done');
      await waitFor(() => stream.of('mark').length === 1, { message: 'playback end' });

      expect(placed.firstMediaAtMs).to.be.at.least(0);
      expect(placed.firstAudioAtMs).to.be.above(placed.firstMediaAtMs! + 100);
      const heard = placed.heardAudio();
      const offset = heard.indexOf(said);
      expect(offset).to.be.above(0);
      expect(offset / 8).to.be.closeTo(placed.firstAudioAtMs!, 5);
      expect(placed.heardRms()).to.be.above(1000);

      const dir = await mkdtemp(join(tmpdir(), 'twilio-double-'));
      try {
        const path = join(dir, 'heard.wav');
        await placed.writeWav(path);
        const wav = parseWav(await readFile(path));
        expect(wav.sampleRate).to.equal(8000);
        expect(Array.from(wav.samples)).to.deep.equal(Array.from(mulawDecode(heard)));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const summary = await placed.hangup();
      expect(summary.receivedMediaMessages).to.equal(3);
      expect(summary.heardAudibleMs).to.be.within(280, 320);
    });

    it('shows each media payload the app sends to onMedia, decoded, with its arrival time', async () => {
      const seen: Array<{ audio: Buffer; at: number }> = [];
      call({ onMedia: (audio, at) => seen.push({ audio, at }) });
      const stream = await started();
      const said = tone(100);
      const sentAt = performance.now();
      stream.sendAudio(said);
      stream.sendAudio(said.subarray(0, FRAME_BYTES));
      await waitFor(() => seen.length === 2, { message: 'two media payloads' });
      expect(seen[0]!.audio.equals(said)).to.equal(true);
      expect(seen[1]!.audio.equals(said.subarray(0, FRAME_BYTES))).to.equal(true);
      expect(seen[0]!.at).to.be.within(sentAt, performance.now());
    });

    it('records invalid messages as warnings and never answers them', async () => {
      const placed = call();
      const stream = await started();
      stream.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      stream.ws.send('{not json');
      stream.send({ event: 'media', streamSid: 'MZwrong', media: { payload: tone(20).toString('base64') } });
      stream.send({ event: 'dance', streamSid: stream.streamSid });
      stream.sendMark('valid');
      await waitFor(() => stream.of('mark').length === 1, { message: 'valid mark echo' });
      expect(placed.warnings.map((w) => w.code)).to.deep.equal([
        TWILIO_ERROR.streamMalformedMessage,
        TWILIO_ERROR.streamMalformedMessage,
        TWILIO_ERROR.streamInvalidMessage,
        TWILIO_ERROR.streamInvalidMessage,
      ]);
      const answered = stream.messages.filter((m) => !['connected', 'start', 'media'].includes(m.msg.event));
      expect(answered.map((m) => m.msg.event)).to.deep.equal(['mark']);
      expect(placed.heardSegments()).to.deep.equal([]);
    });
  });

  describe('<Connect action>', () => {
    const withAction = (streamUrl = PUBLIC_STREAM_URL) =>
      `<Response><Connect action="${PUBLIC_HTTP_ORIGIN}${ACTION_PATH}"><Stream url="${streamUrl}"><Parameter name="callToken" value="t2"/></Stream></Connect><Say>never run</Say></Response>`;
    const sayAndHangUp = `<Response><Say>${FALLBACK_TEXT}</Say><Hangup/></Response>`;

    it('posts the action URL signed, with the call parameters, and follows a new stream, then a fallback', async () => {
      app.twiml = withAction();
      app.actionAnswers = [withAction(), sayAndHangUp];
      const tones = [tone(300, 440), tone(300, 880)];
      // Each stream: play a tone, then the app closes it (as a gateway that goes away would).
      app.onStart = (stream) => {
        const i = app.streams.indexOf(stream);
        stream.sendAudio(tones[Math.min(i, 1)]!);
        setTimeout(() => stream.ws.close(1001, 'going away'), 500);
      };
      const placed = call({ from: '+15550001111', to: '+15550002222' });
      const summary = await placed.done;
      expect(app.actions, 'one post per stream end').to.have.length(2);
      for (const post of app.actions) {
        expect(post.valid, 'signed like a webhook').to.equal(true);
        expect(post.params).to.include({
          CallSid: placed.callSid,
          From: '+15550001111',
          To: '+15550002222',
          CallStatus: 'in-progress',
          Direction: 'inbound',
        });
        expect(post.params.AccountSid).to.match(/^AC/);
      }
      expect(summary.streams).to.equal(2);
      expect(app.streams).to.have.length(2);
      // Each stream has its own StreamSid, and the verbs after </Connect> never ran.
      expect(new Set(placed.streamSids).size).to.equal(2);
      expect(summary.spokenByTwilio.map((s) => s.text)).to.deep.equal([FALLBACK_TEXT]);
      expect(summary.endedBy).to.equal('twiml-hangup');
      // What was heard is one record from the first START: both tones, the second after the reconnect.
      const segments = placed.heardSegments();
      expect(segments.map((s) => s.bytes.equals(tones[0]!) || s.bytes.equals(tones[1]!))).to.deep.equal([true, true]);
      const [startA, startB] = placed.streamStartsMs;
      expect(startA).to.equal(0);
      expect(segments[1]!.startMs).to.be.at.least(startB!);
      expect(placed.heardAudio().length).to.be.above(segments[1]!.startMs * 8);
    });

    it('posts nothing when the caller hung up', async () => {
      app.twiml = withAction();
      const placed = call({ hangupAfterMs: 300 });
      const summary = await placed.done;
      expect(summary.endedBy).to.equal('caller');
      expect(app.actions).to.have.length(0);
    });
  });

  describe('after the stream', () => {
    it('runs the <Say> fallback when the app closes the stream, and posts stream status', async () => {
      const placed = call();
      app.onStart = (stream) => setTimeout(() => stream.ws.close(1000, 'bridge gave up'), 100);
      const summary = await placed.done;
      expect(summary.streamEndedBy).to.equal('app');
      expect(summary.closeCode).to.equal(1000);
      expect(summary.closeReason).to.equal('bridge gave up');
      expect(summary.endedBy).to.equal('twiml-end');
      expect(summary.afterStreamVerbs).to.deep.equal([{ verb: 'Say', text: FALLBACK_TEXT }]);
      expect(summary.spokenByTwilio.map((s) => [s.text, s.phase])).to.deep.equal([[FALLBACK_TEXT, 'after-stream']]);
      expect(summary.sentFrames).to.be.above(0);
      expect(app.statusCallbacks.map((c) => c.params.StreamEvent)).to.deep.equal(['stream-started', 'stream-stopped']);
      expect(app.statusCallbacks.every((c) => c.valid && c.params.StreamSid === placed.streamSid)).to.equal(true);
    });
  });
});
