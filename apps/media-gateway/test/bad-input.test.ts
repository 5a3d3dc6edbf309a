import { expect } from 'chai';
import { STREAM_PARAMETERS } from '@voice/protocols';
import type { GatewayRecord } from '@voice/media-link';
import { DEFAULTS } from '../src/config.js';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import type { ReceivedRecord } from './helpers/test-bridge.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import type { TwilioStreamClient } from './helpers/twilio-stream-client.js';
import { sleep, waitFor } from './helpers/wait-for.js';

const stopOf = (records: GatewayRecord[]) => records.find((r): r is ReceivedRecord<'stop'> => r.t === 'stop');

describe('media gateway: bad input', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  async function healthy(): Promise<boolean> {
    return (await fetch(`http://127.0.0.1:${h.port}/healthz`)).status === 200;
  }

  /** A started call still works: a frame sent now reaches the bridge. */
  async function stillForwards(client: TwilioStreamClient, callSid: string, seed: number): Promise<void> {
    client.media(audioFrame(seed));
    await h.waitForInbound(callSid, (r) => r.some((x) => x.t === 'media' && x.payload === audioFrame(seed)));
    expect(client.isOpen).to.equal(true);
  }

  describe('with default limits', () => {
    beforeEach(async () => {
      h = await gw.start();
    });

    it('drops each kind of malformed message, counts it, notes it once per call, and keeps the call', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      const sid = client.ids.streamSid;
      const bad: Array<[kind: string, send: () => void]> = [
        ['not_json', () => client.sendRaw('{"event": "media", nope')],
        ['binary', () => client.sendRaw(Buffer.from([1, 2, 3]), true)],
        ['unknown_event', () => client.send({ event: 'hello', streamSid: sid })],
        [
          'schema',
          () => client.send({ event: 'media', sequenceNumber: '9', streamSid: sid, media: { track: 'inbound' } }),
        ],
        ['bad_base64', () => client.media('this is not base64!')],
        ['wrong_stream_sid', () => client.media(audioFrame(3), 'MZ00000000000000000000000000000000')],
        ['duplicate_start', () => client.start({ [STREAM_PARAMETERS.callToken]: call.token })],
      ];
      for (const [, send] of bad) {
        send();
        send();
      }
      await stillForwards(client, call.callSid, 42);

      for (const [kind] of bad) {
        expect(await h.metric('gateway_invalid_messages_total', { kind }), kind).to.equal(2);
      }
      const noted = await waitFor('input.invalid checkpoints', async () => {
        const entries = (await h.timeline(call.callSid)).filter((e) => e.event === 'input.invalid');
        return entries.length >= bad.length ? entries : undefined;
      });
      expect(noted.map((e) => e.fields.kind).sort()).to.deep.equal(bad.map(([kind]) => kind).sort());

      const media = h.inbound(call.callSid).filter((r) => r.t === 'media');
      expect(media).to.have.length(1);
      client.stop();
      const records = await h.waitForInbound(call.callSid, (r) => stopOf(r) !== undefined);
      expect(stopOf(records)).to.include({ reason: 'twilio_stop', rx: 1, invalidMessages: bad.length * 2 });
      expect(await healthy()).to.equal(true);
    });

    it('drops a DTMF whose digit is not one key, and forwards a real key press', async () => {
      const call = await h.answeredCall();
      const client = await h.startedStream(call);
      for (const digit of ['', '55', 'x'.repeat(4000)]) client.dtmf(digit);
      client.dtmf('#');
      await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'dtmf'));
      await stillForwards(client, call.callSid, 7);
      const dtmf = h.inbound(call.callSid).filter((r) => r.t === 'dtmf');
      expect(dtmf.map((r) => r.digit)).to.deep.equal(['#']);
      expect(await h.metric('gateway_invalid_messages_total', { kind: 'schema' })).to.equal(3);
      const pressed = (await h.timeline(call.callSid)).filter((e) => e.event === 'caller.dtmf');
      expect(pressed.map((e) => e.fields.digit)).to.deep.equal(['#']);
    });

    it('drops media sent before START and still starts the call', async () => {
      const call = await h.answeredCall();
      const client = await h.connect(call.callSid);
      client.connected();
      client.media(audioFrame(1));
      client.start({ [STREAM_PARAMETERS.callToken]: call.token });
      await stillForwards(client, call.callSid, 2);
      const media = h.inbound(call.callSid).filter((r) => r.t === 'media');
      expect(media.map((r) => r.payload)).to.deep.equal([audioFrame(2)]);
      const events = await h.timelineEvents(call.callSid);
      expect(events.slice(0, 4)).to.deep.equal(['ws.accepted', 'stream.connected', 'input.invalid', 'stream.started']);
      expect(await h.metric('gateway_invalid_messages_total', { kind: 'before_start' })).to.equal(1);
    });
  });

  it('closes an oversize frame with 1009, ends the call cleanly and keeps serving', async () => {
    h = await gw.start({ MAX_MESSAGE_BYTES: '1024' });
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    client.sendRaw(JSON.stringify({ event: 'media', padding: 'x'.repeat(2048) }));
    const { code } = await client.closed;
    expect(code).to.equal(1009);
    const records = await h.waitForInbound(call.callSid, (r) => stopOf(r) !== undefined);
    expect(stopOf(records)).to.include({ reason: 'message_too_big', rx: 1, invalidMessages: 1 });
    expect(await h.metric('gateway_invalid_messages_total', { kind: 'oversize' })).to.equal(1);
    await waitFor('open sockets back to 0', async () => (await h.metric('gateway_open_sockets')) === 0);

    expect(await healthy()).to.equal(true);
    const next = await h.answeredCall();
    const nextClient = await h.startedStream(next);
    await stillForwards(nextClient, next.callSid, 5);
  });

  it('drops messages above MAX_MESSAGES_PER_SECOND and keeps the socket open', async () => {
    const cap = 20;
    h = await gw.start({ MAX_MESSAGES_PER_SECOND: String(cap) });
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    await sleep(DEFAULTS.floodWindowMs);
    const sent = cap * 3;
    for (let i = 0; i < sent; i++) client.media(audioFrame(i));
    await waitFor(
      'flood drops counted',
      async () => (await h.metric('gateway_invalid_messages_total', { kind: 'flood' })) > 0,
    );
    await sleep(DEFAULTS.floodWindowMs);
    expect(client.isOpen).to.equal(true);
    client.stop();
    const records = await h.waitForInbound(call.callSid, (r) => stopOf(r) !== undefined);
    const stop = stopOf(records)!;
    const dropped = await h.metric('gateway_invalid_messages_total', { kind: 'flood' });
    expect(stop.rx).to.be.at.most(cap);
    expect(stop.rx + dropped).to.equal(sent);
    expect(await healthy()).to.equal(true);
  });
});
