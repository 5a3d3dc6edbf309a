import { expect } from 'chai';
import { callKeys } from '@voice/redis';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import type { ReceivedRecord } from './helpers/test-bridge.js';
import { audioFrame, refusedStatus } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

const DRAIN_MS = 400;

describe('media gateway: draining', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  it('refuses new upgrades, reports not ready, and hands live calls over: the bridge is told, the socket closes 1001 unmarked', async () => {
    h = await gw.start({ DRAIN_TIMEOUT_MS: String(DRAIN_MS) });
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'media'));

    const stopping = h.gateway.stop();
    expect(h.gateway.ready).to.equal(false);
    const readyz = await fetch(`http://127.0.0.1:${h.port}/readyz`);
    expect(readyz.status).to.equal(503);
    expect(await refusedStatus(h.port)).to.equal(503);

    // At once, not after the drain timeout: Twilio posts <Connect action> and the call reconnects elsewhere.
    const { code } = await client.closed;
    expect(code).to.equal(1001);
    await stopping;
    await h.gateway.stop();

    // The bridge got a detach (keep the model session for the reattach), not a stop (end the call).
    await waitFor('the media link closed', () => !h.bridge.hasLinkFrom(h.config.instanceId));
    const records = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'detach'));
    const detach = records.find((r): r is ReceivedRecord<'detach'> => r.t === 'detach');
    expect(detach).to.include({ reason: 'gateway_shutdown', call: call.callSid });
    expect(
      records.some((r) => r.t === 'stop'),
      'no stop record',
    ).to.equal(false);
    // Not ended on purpose: the <Connect action> route will reconnect it.
    expect(await h.redis.exists(callKeys.endedOnPurpose(call.callSid))).to.equal(0);
    expect(await h.timelineEvents(call.callSid)).to.include('stream.stopped');
  });

  it('marks a call the gateway ends on purpose before closing its socket, so <Connect action> does not reconnect it', async () => {
    h = await gw.start();
    const call = await h.answeredCall();
    const client = await h.startedStream(call);
    client.stop();
    await client.closed;
    await waitFor('the ended marker', async () => (await h.redis.get(callKeys.endedOnPurpose(call.callSid))) !== null);
    expect(await h.redis.ttl(callKeys.endedOnPurpose(call.callSid))).to.be.greaterThan(0);
  });

  it('does not wait out the drain timeout when no call is live, and stops twice without complaint', async () => {
    const drainMs = 20_000;
    h = await gw.start({ DRAIN_TIMEOUT_MS: String(drainMs) });
    const started = Date.now();
    await Promise.all([h.gateway.stop(), h.gateway.stop()]);
    expect(Date.now() - started).to.be.below(drainMs / 2);
  });
});
