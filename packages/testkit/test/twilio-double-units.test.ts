/** The Twilio caller double's parts, without sockets: TwiML, playback, clock, signing, messages. */
import { expect } from 'chai';
import twilio from 'twilio';
import { MULAW_SILENCE, twilioInboundMessage } from '@voice/protocols';
import { readAppMessage } from '../src/twilio-double/app-messages.js';
import { FrameClock } from '../src/twilio-double/frame-clock.js';
import type { FrameTick } from '../src/twilio-double/frame-clock.js';
import { assembleTimeline } from '../src/twilio-double/heard-audio.js';
import { PhonePlayback } from '../src/twilio-double/playback.js';
import type { PlaybackMark } from '../src/twilio-double/playback.js';
import { signStreamUpgrade, signWebhook } from '../src/twilio-double/signing.js';
import { StreamMessageCounter } from '../src/twilio-double/stream-messages.js';
import { TWILIO_ERROR, TwimlParseError, parseTwiml } from '../src/twilio-double/index.js';
import { waitFor } from '../src/wait-for.js';

const AUTH_TOKEN = 'fedcba9876543210fedcba9876543210';
const STREAM_SID = 'MZ00000000000000000000000000000001';

describe('twilio caller double parts', () => {
  describe('parseTwiml', () => {
    it('reads verbs in order, with the stream, its parameters and callbacks', () => {
      const verbs = parseTwiml(`<?xml version="1.0" encoding="UTF-8"?>
        <Response>
          <Say voice="Polly.Joanna">Please hold &amp; wait</Say>
          <Connect action="https://voice.example.test/after">
            <Stream url="wss://voice.example.test/ws/twilio-media" name="main" statusCallback="https://voice.example.test/twilio/stream-status">
              <Parameter name="callToken" value="t-1"/>
              <Parameter name="businessId" value="42"/>
            </Stream>
          </Connect>
          <Pause length="2"/>
          <Play>https://cdn.example.test/sorry.wav</Play>
          <Say><prosody rate="slow">Goodbye</prosody> now</Say>
          <Redirect method="POST">https://voice.example.test/next</Redirect>
          <Gather/>
          <Hangup/>
        </Response>`);
      expect(verbs).to.deep.equal([
        { verb: 'Say', text: 'Please hold & wait', voice: 'Polly.Joanna' },
        {
          verb: 'Connect',
          action: 'https://voice.example.test/after',
          stream: {
            url: 'wss://voice.example.test/ws/twilio-media',
            name: 'main',
            statusCallback: 'https://voice.example.test/twilio/stream-status',
            parameters: { callToken: 't-1', businessId: '42' },
          },
        },
        { verb: 'Pause', lengthSeconds: 2 },
        { verb: 'Play', url: 'https://cdn.example.test/sorry.wav' },
        { verb: 'Say', text: 'Goodbye now' },
        { verb: 'Redirect', url: 'https://voice.example.test/next', method: 'POST' },
        { verb: 'Unknown', name: 'Gather' },
        { verb: 'Hangup' },
      ]);
    });

    it('keeps numeric text as text and defaults a bare <Pause> to one second', () => {
      expect(parseTwiml('<Response><Say>123</Say><Pause/></Response>')).to.deep.equal([
        { verb: 'Say', text: '123' },
        { verb: 'Pause', lengthSeconds: 1 },
      ]);
    });

    it('reads <Dial> with a bare number or a <Number> child', () => {
      expect(
        parseTwiml('<Response><Dial>+15550104242</Dial><Dial><Number>+15550100000</Number></Dial></Response>'),
      ).to.deep.equal([
        { verb: 'Dial', number: '+15550104242' },
        { verb: 'Dial', number: '+15550100000' },
      ]);
    });

    it('rejects documents without <Response> and streams without a url', () => {
      expect(() => parseTwiml('<Reply><Say>hi</Say></Reply>')).to.throw(TwimlParseError);
      expect(() => parseTwiml('<Response><Connect><Stream/></Connect></Response>')).to.throw(TwimlParseError);
    });
  });

  describe('signing', () => {
    it('produces the signature twilio.validateRequest expects for webhooks and upgrades', () => {
      const url = 'https://voice.example.test/twilio/voice';
      const params = { CallSid: 'CA1', From: '+15551230000', To: '+15005550006' };
      const sig = signWebhook(AUTH_TOKEN, url, params);
      expect(twilio.validateRequest(AUTH_TOKEN, sig, url, params)).to.equal(true);
      expect(twilio.validateRequest(AUTH_TOKEN, sig, `${url}/`, params)).to.equal(false);
      const wss = 'wss://voice.example.test/ws/twilio-media';
      const upgrade = signStreamUpgrade(AUTH_TOKEN, wss);
      expect(twilio.validateRequest(AUTH_TOKEN, upgrade, wss, {})).to.equal(true);
      expect(twilio.validateRequest('another-token', upgrade, wss, {})).to.equal(false);
    });
  });

  describe('StreamMessageCounter', () => {
    it('numbers every message from 1 and media chunks from 1, as strings', () => {
      const counter = new StreamMessageCounter({ accountSid: 'AC1', callSid: 'CA1', streamSid: STREAM_SID });
      const frame = Buffer.alloc(160, MULAW_SILENCE);
      const msgs = [
        counter.connected(),
        counter.start({ callToken: 'x' }),
        counter.media(frame, 0.4),
        counter.dtmf('7'),
        counter.media(frame, 20.2),
        counter.mark('m'),
        counter.stop(),
      ];
      for (const msg of msgs) expect(twilioInboundMessage.safeParse(msg).success).to.equal(true);
      expect(msgs.slice(1).map((m) => ('sequenceNumber' in m ? m.sequenceNumber : ''))).to.deep.equal([
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
      ]);
      const media = msgs.filter((m) => m.event === 'media');
      expect(media.map((m) => [m.media.chunk, m.media.timestamp])).to.deep.equal([
        ['1', '0'],
        ['2', '20'],
      ]);
      expect(media[0]!.media.payload).to.have.length(216);
    });
  });

  describe('readAppMessage', () => {
    const read = (data: string | Buffer, binary = false) =>
      readAppMessage(typeof data === 'string' ? Buffer.from(data) : data, binary, STREAM_SID);

    it('accepts media, mark and clear for this stream', () => {
      const media = read(
        JSON.stringify({
          event: 'media',
          streamSid: STREAM_SID,
          media: { payload: Buffer.from([1, 2, 3]).toString('base64') },
        }),
      );
      expect(media.ok && media.audio).to.deep.equal(Buffer.from([1, 2, 3]));
      expect(read(JSON.stringify({ event: 'mark', streamSid: STREAM_SID, mark: { name: 'a' } })).ok).to.equal(true);
      expect(read(JSON.stringify({ event: 'clear', streamSid: STREAM_SID })).ok).to.equal(true);
    });

    it('flags binary and bad JSON as malformed, the rest as invalid', () => {
      const codes = [
        read(Buffer.from([0xff]), true),
        read('{oops'),
        read(JSON.stringify({ event: 'clear', streamSid: 'MZother' })),
        read(JSON.stringify({ event: 'hello', streamSid: STREAM_SID })),
        read(JSON.stringify({ event: 'mark', streamSid: STREAM_SID })),
        read(JSON.stringify({ event: 'media', streamSid: STREAM_SID, media: { payload: 'not base64!' } })),
      ].map((r) => (r.ok ? 'ok' : r.code));
      const { streamMalformedMessage: malformed, streamInvalidMessage: invalid } = TWILIO_ERROR;
      expect(codes).to.deep.equal([malformed, malformed, invalid, invalid, invalid, invalid]);
    });
  });

  describe('PhonePlayback', () => {
    let now: number;
    let echoed: PlaybackMark[];
    let playback: PhonePlayback;

    beforeEach(() => {
      now = 1000;
      echoed = [];
      playback = new PhonePlayback(
        (mark) => echoed.push({ ...mark }),
        () => now,
      );
    });
    afterEach(() => playback.stop());

    it('plays queued audio back to back at 8 bytes per ms', () => {
      playback.enqueueAudio(Buffer.alloc(800, 1), 1000); // 100 ms
      playback.enqueueAudio(Buffer.alloc(400, 2), 1010); // queued behind: starts at 1100
      playback.enqueueAudio(Buffer.alloc(80, 3), 1500); // queue empty again: starts on arrival
      expect(playback.played(1150).map((s) => [s.at, s.bytes.length])).to.deep.equal([
        [1000, 800],
        [1100, 400],
      ]);
      expect(playback.played(2000).map((s) => s.at)).to.deep.equal([1000, 1100, 1500]);
      expect(playback.queuedMs(1505)).to.equal(5);
    });

    it('echoes a mark immediately when nothing is queued, otherwise when playback reaches it', () => {
      playback.enqueueMark('idle', 1000);
      expect(echoed.map((m) => [m.name, m.played])).to.deep.equal([['idle', true]]);
      playback.enqueueAudio(Buffer.alloc(800, 1), 1000);
      playback.enqueueMark('after', 1000);
      expect(playback.marks[1]!.dueAt).to.equal(1100);
      expect(echoed).to.have.length(1);
      // A clear after the mark fell due (even if its timer is late) echoes it as played.
      const cleared = playback.clear(1120);
      expect(echoed.map((m) => [m.name, m.played])).to.deep.equal([
        ['idle', true],
        ['after', true],
      ]);
      expect(cleared).to.deep.equal({ at: 1120, droppedMs: 0, flushedMarks: [] });
    });

    it('clear drops unplayed audio and flushes pending marks as not played', () => {
      playback.enqueueAudio(Buffer.alloc(1600, 1), 1000); // 200 ms
      playback.enqueueMark('m1', 1000);
      playback.enqueueAudio(Buffer.alloc(800, 2), 1000);
      playback.enqueueMark('m2', 1000);
      const cleared = playback.clear(1050);
      expect(cleared.droppedMs).to.equal(250);
      expect(cleared.flushedMarks).to.deep.equal(['m1', 'm2']);
      expect(echoed.map((m) => [m.name, m.played, m.echoedAt])).to.deep.equal([
        ['m1', false, 1050],
        ['m2', false, 1050],
      ]);
      expect(playback.played(5000).map((s) => s.bytes.length)).to.deep.equal([400]);
    });

    it('echoes marks from a timer when the clock reaches them', async () => {
      const real = new PhonePlayback((mark) => echoed.push(mark));
      real.enqueueAudio(Buffer.alloc(240, 1)); // 30 ms
      real.enqueueMark('soon');
      await waitFor(() => echoed.length === 1, { timeoutMs: 1000, message: 'timer echo' });
      expect(echoed[0]!.echoedAt! - echoed[0]!.receivedAt).to.be.at.least(29);
      real.stop();
    });
  });

  describe('FrameClock', () => {
    it('ticks on a schedule computed from its start and catches up after a stall', async () => {
      const clock = new FrameClock();
      const ticks: FrameTick[] = [];
      const unsubscribe = clock.subscribe((tick) => ticks.push(tick));
      await waitFor(() => ticks.length >= 2, { message: 'two ticks' });
      const stallUntil = performance.now() + 100;
      while (performance.now() < stallUntil) {
        // Block the event loop like an overloaded load generator.
      }
      await waitFor(() => ticks.length >= 8, { message: 'catch-up ticks' });
      unsubscribe();
      expect(ticks.map((t) => t.index)).to.deep.equal(ticks.map((_, i) => i + 1));
      for (const tick of ticks) expect(tick.dueAt - ticks[0]!.dueAt).to.be.closeTo((tick.index - 1) * 20, 1e-6);
      expect(clock.stats().lateTicks).to.be.at.least(3);
      expect(clock.running).to.equal(false);
    });

    it('runs one timer for every listener and stops when the last one leaves', async () => {
      const clock = new FrameClock();
      const seen = [0, 0, 0];
      const stops = seen.map((_, i) => clock.subscribe(() => seen[i]!++));
      await waitFor(() => seen.every((n) => n >= 3), { message: 'every listener ticked' });
      stops[0]!();
      expect(clock.running).to.equal(true);
      stops[1]!();
      stops[2]!();
      expect(clock.running).to.equal(false);
    });
  });

  describe('assembleTimeline', () => {
    it('places segments at their start and fills gaps with silence', () => {
      const audio = assembleTimeline([
        { startMs: 1, bytes: Buffer.from([1, 2]) },
        { startMs: 2, bytes: Buffer.from([3]) },
      ]);
      expect([...audio]).to.deep.equal([
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3,
      ]);
    });
  });
});
