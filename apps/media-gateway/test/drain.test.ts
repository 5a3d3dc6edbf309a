import { expect } from 'chai';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import type { ReceivedRecord } from './helpers/test-bridge.js';
import { audioFrame, refusedStatus } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

const DRAIN_MS = 400;

describe('media gateway: draining', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  it('refuses new upgrades, reports not ready, then closes live calls with 1001 and ends them', async () => {
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
    // The live call is left alone until the drain timeout.
    expect(client.isOpen).to.equal(true);

    const { code } = await client.closed;
    expect(code).to.equal(1001);
    await stopping;
    await h.gateway.stop();

    // stop() closed the media links, and only after the stop record had gone out on them.
    await waitFor('the media link closed', () => !h.bridge.hasLinkFrom(h.config.instanceId));
    const records = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'stop'));
    const stop = records.find((r): r is ReceivedRecord<'stop'> => r.t === 'stop');
    expect(stop).to.include({ reason: 'gateway_shutdown', rx: 1 });
    expect(await h.timelineEvents(call.callSid)).to.include('stream.stopped');
  });

  it('does not wait out the drain timeout when no call is live, and stops twice without complaint', async () => {
    const drainMs = 20_000;
    h = await gw.start({ DRAIN_TIMEOUT_MS: String(drainMs) });
    const started = Date.now();
    await Promise.all([h.gateway.stop(), h.gateway.stop()]);
    expect(Date.now() - started).to.be.below(drainMs / 2);
  });
});
