import { expect } from 'chai';
import { TWILIO_MEDIA_SUBPROTOCOL } from '@voice/protocols';
import { callKeys } from '@voice/redis';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { refusedStatus } from './helpers/twilio-stream-client.js';

describe('media gateway: the upgrade', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  beforeEach(async () => {
    h = await gw.start({ START_WARN_MS: '50', START_TIMEOUT_MS: '100' });
  });

  /** Every key a socket could have written: a refused upgrade must leave none of them. */
  async function keysWritten(callSid: string): Promise<number> {
    return h.redis.exists(callKeys.timeline(callSid), h.keys.ghosts, h.keys.callClaims);
  }

  it('answers 403 to a forged signature and writes nothing to Redis', async () => {
    const call = await h.answeredCall();
    expect(await refusedStatus(h.port, { pathCallSid: call.callSid, signature: 'forged' })).to.equal(403);
    expect(await refusedStatus(h.port, { signature: 'forged' })).to.equal(403);
    // Longer than the start timeout: no ghost entry appears later either.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await keysWritten(call.callSid)).to.equal(0);
    expect(h.inbound(call.callSid)).to.deep.equal([]);
    expect(await h.redis.get(callKeys.token(call.callSid))).to.equal(call.token);
    expect(await h.metric('gateway_upgrades_refused_total', { status: '403' })).to.equal(2);
    expect(await h.metric('gateway_open_sockets')).to.equal(0);
  });

  it('answers 403 to a missing signature', async () => {
    const callSid = h.newCallSid();
    expect(await refusedStatus(h.port, { pathCallSid: callSid, signature: 'missing' })).to.equal(403);
    expect(await keysWritten(callSid)).to.equal(0);
  });

  it('checks the signature against the configured public URL, never the Host header', async () => {
    const forgedUrl = 'wss://attacker.example/ws/twilio-media';
    const status = await refusedStatus(h.port, { signedUrl: forgedUrl, headers: { Host: 'attacker.example' } });
    expect(status).to.equal(403);
  });

  it('answers 403 when the signature covers a different path than the one requested', async () => {
    const callSid = h.newCallSid();
    const status = await refusedStatus(h.port, {
      pathCallSid: callSid,
      signedUrl: 'wss://voice.example.test/ws/twilio-media',
    });
    expect(status).to.equal(403);
  });

  it('answers 404 to any other path', async () => {
    expect(await refusedStatus(h.port, { path: '/ws/other' })).to.equal(404);
    expect(await refusedStatus(h.port, { path: '/ws/twilio-media/not-a-call-sid' })).to.equal(404);
    expect(await refusedStatus(h.port, { path: '/ws/twilio-media/' })).to.equal(404);
  });

  it('echoes the audio.twilio.com subprotocol when offered', async () => {
    const callSid = h.newCallSid();
    const client = await h.connect(callSid, { protocols: [TWILIO_MEDIA_SUBPROTOCOL] });
    expect(client.ws.protocol).to.equal(TWILIO_MEDIA_SUBPROTOCOL);
  });

  it('accepts without a subprotocol when none is offered', async () => {
    const callSid = h.newCallSid();
    const client = await h.connect(callSid);
    expect(client.ws.protocol).to.equal('');
  });

  it('serves the ops endpoints', async () => {
    const base = `http://127.0.0.1:${h.port}`;
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    expect(await (await fetch(`${base}/readyz`)).json()).to.deep.equal({ ready: true });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.include('gateway_open_sockets');
    expect(metrics).to.include('gateway_invalid_messages_total{kind="flood"');
  });
});
