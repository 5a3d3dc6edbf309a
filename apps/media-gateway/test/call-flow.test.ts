import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { DEMO_BUSINESS_ID } from '@voice/db';
import type { GatewayRecord } from '@voice/media-link';
import { STREAM_PARAMETERS } from '@voice/protocols';
import { callKeys } from '@voice/redis';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { agentAudio } from './helpers/test-bridge.js';
import type { ReceivedRecord } from './helpers/test-bridge.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

const stopOf = (records: GatewayRecord[]) => records.find((r): r is ReceivedRecord<'stop'> => r.t === 'stop');
const payloadsOf = (records: GatewayRecord[]) => records.flatMap((r) => (r.t === 'media' ? [r.payload] : []));

describe('media gateway: a started call', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  beforeEach(async () => {
    h = await gw.start();
  });

  it('publishes a claim, attaches to the bridge that takes it, carries audio both ways and ends on stop', async () => {
    const call = await h.answeredCall({ row: true });
    const client = await h.startedStream(call);
    const payloads = [audioFrame(1), audioFrame(2), audioFrame(3)];
    for (const p of payloads) client.media(p);
    client.mark('greeting-1');
    client.dtmf('5');

    const received = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'dtmf'));
    expect(received.map((r) => r.t)).to.deep.equal(['attach', 'media', 'media', 'media', 'mark', 'dtmf']);
    const attach = received[0]!;
    if (attach.t !== 'attach') throw new Error('first record is not attach');
    expect(attach).to.include({ call: call.callSid, streamSid: client.ids.streamSid, gateway: h.config.instanceId });
    expect(attach.acceptedAt).to.be.at.most(attach.startedAt);
    // The spent call token is not passed on to the bridge.
    expect(attach.params).to.deep.equal({ businessId: DEMO_BUSINESS_ID });
    expect(payloadsOf(received)).to.deep.equal(payloads);
    // Audio records name the call's channel, not its CallSid.
    expect(received.slice(1).every((r) => 'ch' in r && r.ch === attach.ch)).to.equal(true);
    expect(received[4]).to.include({ t: 'mark', name: 'greeting-1' });
    expect(received[5]).to.include({ t: 'dtmf', digit: '5' });

    const claims = await h.claims();
    expect(claims.map((c) => [c.callSid, c.reason, c.gateway])).to.deep.equal([
      [call.callSid, 'started', h.config.instanceId],
    ]);
    expect(claims[0]!.previousOwner).to.equal(undefined);

    const greeting = audioFrame(200);
    h.bridge.send(call.callSid, agentAudio(greeting, { greeting: true }));
    h.bridge.send(call.callSid, { t: 'mark', name: 'm1' });
    h.bridge.send(call.callSid, { t: 'clear' });
    h.bridge.send(call.callSid, agentAudio(audioFrame(201), { markBefore: 'item_2|0', markAfter: 'item_2|20' }));
    const sent = await client.waitForMessages(6);
    const streamSid = client.ids.streamSid;
    expect(sent).to.deep.equal([
      { event: 'media', streamSid, media: { payload: greeting } },
      { event: 'mark', streamSid, mark: { name: 'm1' } },
      { event: 'clear', streamSid },
      { event: 'mark', streamSid, mark: { name: 'item_2|0' } },
      { event: 'media', streamSid, media: { payload: audioFrame(201) } },
      { event: 'mark', streamSid, mark: { name: 'item_2|20' } },
    ]);

    client.stop();
    const afterStop = await h.waitForInbound(call.callSid, (r) => stopOf(r) !== undefined);
    const stop = afterStop[afterStop.length - 1]!;
    if (stop.t !== 'stop') throw new Error('last record is not stop');
    expect(stop).to.include({
      call: call.callSid,
      reason: 'twilio_stop',
      rx: 3,
      tx: 2,
      txBytes: 320,
      invalidMessages: 0,
    });
    expect(stop.firstAudioAt).to.be.a('number');
    await client.closed;

    const events = await waitFor('stream.stopped on the timeline', async () => {
      const ev = await h.timelineEvents(call.callSid);
      return ev.includes('stream.stopped') ? ev : undefined;
    });
    expect(events).to.deep.equal([
      'ws.accepted',
      'stream.connected',
      'stream.started',
      'link.attached',
      'caller.dtmf',
      'greeting.first_audio',
      'stream.stopped',
    ]);
    const timeline = await h.timeline(call.callSid);
    const started = timeline.find((e) => e.event === 'stream.started')!;
    expect(started.fields.stream_sid).to.equal(streamSid);
    expect(Number(started.fields.since_accept_ms)).to.be.at.least(0);
    expect(started.fields).to.have.property('since_webhook_ms');
    expect(timeline.find((e) => e.event === 'link.attached')!.fields).to.include({
      bridge: h.bridge.instanceId,
      via: 'claim',
    });
    expect(timeline.find((e) => e.event === 'greeting.first_audio')!.fields).to.have.property(
      'first_greeting_audio_ms',
    );
    expect(timeline.find((e) => e.event === 'stream.stopped')!.fields).to.include({
      reason: 'twilio_stop',
      rx: '3',
      tx: '2',
    });

    const row = await waitFor('stream start on the calls row', async () => {
      const r = await h.callRow(call.callSid);
      return r?.streamStartedAt ? r : undefined;
    });
    expect(row).to.include({ status: 'in_progress', gatewayInstance: h.config.instanceId });
    expect(await h.metric('gateway_streams_started_total')).to.equal(1);
    expect(await h.metric('gateway_rx_frames_total')).to.equal(3);
    expect(await h.metric('gateway_tx_messages_total', { event: 'media' })).to.equal(2);
    expect(h.bridge.unrouted).to.deep.equal([]);
  });

  it('forwards caller frames to the bridge byte for byte and in order', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    const payloads = Array.from({ length: 100 }, () => randomBytes(160).toString('base64'));
    for (const p of payloads) client.media(p);
    const received = await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === payloads.length);
    expect(payloadsOf(received)).to.deep.equal(payloads);
  });

  it('plays audio the bridge sends right after attached (a warm greeting waiting for the call)', async () => {
    const call = await h.answeredCall();
    const early = audioFrame(77);
    // The bridge holds it until the gateway attaches the call, then sends it behind `attached`.
    h.bridge.send(call.callSid, agentAudio(early, { greeting: true }));
    const client = await h.startedStream(call);
    const [first] = await client.waitForMessages(1);
    expect(first).to.deep.equal({ event: 'media', streamSid: client.ids.streamSid, media: { payload: early } });
    await h.waitForEvent(call.callSid, 'greeting.first_audio');
  });

  it('offers the call again, naming the owner it could not reach, when the owner key names a dead bridge', async () => {
    const call = await h.answeredCall({ owner: 'bridge-that-died' });
    await h.startedStream(call);
    const claims = await h.claims();
    expect(claims.map((c) => [c.callSid, c.reason, c.previousOwner])).to.deep.equal([
      [call.callSid, 'started', 'bridge-that-died'],
    ]);
    const attached = await h.waitForEvent(call.callSid, 'link.attached');
    expect(attached.fields).to.include({ bridge: h.bridge.instanceId, via: 'claim' });
  });

  it('closes the socket normally on a hangup from the bridge and tells the bridge why', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1);
    h.bridge.send(call.callSid, { t: 'hangup', reason: 'transfer_done' });
    const { code } = await client.closed;
    expect(code).to.equal(1000);
    const records = await h.waitForInbound(call.callSid, (r) => stopOf(r) !== undefined);
    expect(stopOf(records)).to.include({ reason: 'hangup:transfer_done', rx: 1, tx: 0 });
  });

  it('hands the call back to the bridge, not ends it, when the connection breaks (no close frame, no stop)', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1);
    client.terminate();
    const records = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'detach'));
    expect(records.find((r) => r.t === 'detach')).to.include({ call: call.callSid, reason: 'socket_lost' });
    expect(stopOf(records), 'no stop: the call goes on through <Connect action>').to.equal(undefined);
    // Not marked ended on purpose: the action URL reconnects the call.
    expect(await h.redis.get(callKeys.endedOnPurpose(call.callSid))).to.equal(null);
    await waitFor('open sockets back to 0', async () => (await h.metric('gateway_open_sockets')) === 0);
  });

  it('ends the call when the socket closes without a stop', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    client.media(audioFrame(2));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 2);
    client.close();
    const records = await h.waitForInbound(call.callSid, (r) => stopOf(r) !== undefined);
    expect(stopOf(records)).to.include({ reason: 'socket_closed', rx: 2 });
    await waitFor('open sockets back to 0', async () => (await h.metric('gateway_open_sockets')) === 0);
  });

  it('accepts a stream whose CallSid is in the URL path', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call, { pathCallSid: call.callSid });
    client.media(audioFrame(9));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1);
    const events = await h.timelineEvents(call.callSid);
    expect(events.slice(0, 4)).to.deep.equal(['ws.accepted', 'stream.connected', 'stream.started', 'link.attached']);
  });

  it('refuses a START whose CallSid differs from the one in the path', async () => {
    const call = await h.answeredCall();
    const other = await h.answeredCall();
    const client = await h.connect(call.callSid, { pathCallSid: call.callSid });
    client.start({ [STREAM_PARAMETERS.callToken]: other.token }, other.callSid);
    const { code } = await client.closed;
    expect(code).to.equal(1008);
    const rejected = await h.waitForEvent(call.callSid, 'stream.rejected');
    expect(rejected.fields).to.include({ reason: 'call_sid_mismatch', start_call_sid: other.callSid });
    expect(await h.claims()).to.have.length(0);
    expect(h.inbound(call.callSid)).to.deep.equal([]);
    expect(h.inbound(other.callSid)).to.deep.equal([]);
    // The other call's token was not spent by the refused START.
    expect(await h.redis.get(callKeys.token(other.callSid))).to.equal(other.token);
  });
});

describe('media gateway: a call a warm bridge already owns', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  beforeEach(async () => {
    // A bridge that answers no claims: the call can only reach it through its owner key.
    h = await gw.start({}, { answerClaims: false });
  });

  it('attaches the call to its live owner without publishing a claim', async () => {
    const call = await h.answeredCall({ owner: h.bridge.instanceId });
    const client = await h.startedStream(call);
    client.media(audioFrame(4));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1);
    const attached = await h.waitForEvent(call.callSid, 'link.attached');
    expect(attached.fields).to.include({ bridge: h.bridge.instanceId, via: 'owner' });
    expect(await h.claims()).to.have.length(0);
  });
});
