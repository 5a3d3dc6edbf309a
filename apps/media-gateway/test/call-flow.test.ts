import { expect } from 'chai';
import { DEMO_BUSINESS_ID } from '@voice/db';
import { STREAM_PARAMETERS } from '@voice/protocols';
import { CALL_STREAM_DEFAULTS, callKeys, encodeOutbound, preciseNow } from '@voice/redis';
import type { OutboundEntry } from '@voice/redis';
import type { GatewayHarness} from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

describe('media gateway: a started call', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  beforeEach(async () => {
    h = await gw.start();
  });

  const writeOut = (callSid: string, entry: OutboundEntry) =>
    h.redis.xadd(callKeys.outbound(callSid), '*', ...encodeOutbound(entry));

  it('forwards caller audio, publishes a claim, plays the bridge audio and ends on stop', async () => {
    const call = await h.answeredCall({ row: true });
    const client = await h.startedStream(call);
    const payloads = [audioFrame(1), audioFrame(2), audioFrame(3)];
    for (const p of payloads) client.media(p);
    client.mark('greeting-1');
    client.dtmf('5');

    const inbound = await h.waitForInbound(call.callSid, (e) => e.some((x) => x.kind === 'dtmf'));
    expect(inbound.map((e) => e.kind)).to.deep.equal(['start', 'media', 'media', 'media', 'mark', 'dtmf']);
    const start = inbound[0]!;
    if (start.kind !== 'start') throw new Error('first entry is not start');
    expect(start.streamSid).to.equal(client.ids.streamSid);
    expect(start.gateway).to.equal(h.config.instanceId);
    // The spent call token is not copied into the stream.
    expect(start.customParameters).to.deep.equal({ businessId: DEMO_BUSINESS_ID });
    expect(inbound.slice(1, 4).map((e) => (e.kind === 'media' ? [e.payload, e.chunk] : []))).to.deep.equal([
      [payloads[0], 1],
      [payloads[1], 2],
      [payloads[2], 3],
    ]);
    expect(await h.redis.ttl(callKeys.inbound(call.callSid))).to.be.within(1, CALL_STREAM_DEFAULTS.ttlSeconds);

    const claims = await h.claims();
    expect(claims.map((c) => [c.callSid, c.reason])).to.deep.equal([[call.callSid, 'started']]);

    const greeting = audioFrame(200);
    await writeOut(call.callSid, { kind: 'media', payload: greeting, at: preciseNow(), greeting: true });
    await writeOut(call.callSid, { kind: 'mark', name: 'm1' });
    await writeOut(call.callSid, { kind: 'clear' });
    await writeOut(call.callSid, { kind: 'media', payload: audioFrame(201), at: preciseNow() });
    const sent = await client.waitForMessages(4);
    const streamSid = client.ids.streamSid;
    expect(sent).to.deep.equal([
      { event: 'media', streamSid, media: { payload: greeting } },
      { event: 'mark', streamSid, mark: { name: 'm1' } },
      { event: 'clear', streamSid },
      { event: 'media', streamSid, media: { payload: audioFrame(201) } },
    ]);

    client.stop();
    const afterStop = await h.waitForInbound(call.callSid, (e) => e.some((x) => x.kind === 'stop'));
    const stop = afterStop[afterStop.length - 1]!;
    if (stop.kind !== 'stop') throw new Error('last entry is not stop');
    expect(stop).to.include({ reason: 'twilio_stop', rx: 3, tx: 2, txBytes: 320, invalidMessages: 0 });
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
      'caller.dtmf',
      'greeting.first_audio',
      'stream.stopped',
    ]);
    const timeline = await h.timeline(call.callSid);
    const started = timeline.find((e) => e.event === 'stream.started')!;
    expect(started.fields.stream_sid).to.equal(streamSid);
    expect(Number(started.fields.since_accept_ms)).to.be.at.least(0);
    expect(started.fields).to.have.property('since_webhook_ms');
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
  });

  it('plays greeting audio the bridge wrote before START (tails the out stream from its beginning)', async () => {
    const call = await h.answeredCall();
    const early = audioFrame(77);
    await writeOut(call.callSid, { kind: 'media', payload: early, at: preciseNow(), greeting: true });
    const client = await h.startedStream(call);
    const [first] = await client.waitForMessages(1);
    expect(first).to.deep.equal({ event: 'media', streamSid: client.ids.streamSid, media: { payload: early } });
  });

  it('closes the socket normally on a hangup from the bridge and tells the bridge why', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    await writeOut(call.callSid, { kind: 'hangup', reason: 'transfer_done' });
    const { code } = await client.closed;
    expect(code).to.equal(1000);
    const entries = await h.waitForInbound(call.callSid, (e) => e.some((x) => x.kind === 'stop'));
    expect(entries.find((e) => e.kind === 'stop')).to.include({ reason: 'hangup:transfer_done', rx: 1, tx: 0 });
  });

  it('ends the call when the socket closes without a stop', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    client.media(audioFrame(2));
    await h.waitForInbound(call.callSid, (e) => e.filter((x) => x.kind === 'media').length === 2);
    client.close();
    const entries = await h.waitForInbound(call.callSid, (e) => e.some((x) => x.kind === 'stop'));
    expect(entries.find((e) => e.kind === 'stop')).to.include({ reason: 'socket_closed', rx: 2 });
    await waitFor('open sockets back to 0', async () => (await h.metric('gateway_open_sockets')) === 0);
  });

  it('accepts a stream whose CallSid is in the URL path', async () => {
    const call = await h.answeredCall();
    const client = await h.startedStream(call, { pathCallSid: call.callSid });
    client.media(audioFrame(9));
    await h.waitForInbound(call.callSid, (e) => e.some((x) => x.kind === 'media'));
    const events = await h.timelineEvents(call.callSid);
    expect(events.slice(0, 3)).to.deep.equal(['ws.accepted', 'stream.connected', 'stream.started']);
  });

  it('refuses a START whose CallSid differs from the one in the path', async () => {
    const call = await h.answeredCall();
    const other = await h.answeredCall();
    const client = await h.connect(call.callSid, { pathCallSid: call.callSid });
    client.start({ [STREAM_PARAMETERS.callToken]: other.token }, other.callSid);
    const { code } = await client.closed;
    expect(code).to.equal(1008);
    const rejected = await waitFor('stream.rejected', async () =>
      (await h.timeline(call.callSid)).find((e) => e.event === 'stream.rejected'),
    );
    expect(rejected.fields).to.include({ reason: 'call_sid_mismatch', start_call_sid: other.callSid });
    expect(await h.claims()).to.have.length(0);
    // The other call's token was not spent by the refused START.
    expect(await h.redis.get(callKeys.token(other.callSid))).to.equal(other.token);
  });
});
