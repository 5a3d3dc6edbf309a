/**
 * A bridge shutting down asks the gateway to move a live call (`rehome`): the
 * gateway offers it again naming that bridge, attaches it to the bridge that
 * takes it (saying it is a planned hand-over), and only then switches the
 * caller's audio and sends the old bridge the call's stop (handed_over). No
 * hold clip, no gap in the caller's audio to either bridge. With no bridge to
 * take it, the call stays where it is.
 */
import { expect } from 'chai';
import type { GatewayRecord } from '@voice/media-link';
import type { GatewayHarness, TestCall } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioOf } from './helpers/heard.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import type { TwilioStreamClient } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

const payloadsOf = (records: GatewayRecord[]) => records.flatMap((r) => (r.t === 'media' ? [r.payload] : []));
const keysOf = (records: GatewayRecord[]) => records.flatMap((r) => (r.t === 'dtmf' ? [r.digit] : [])).join('');

describe('media gateway: a shutting-down bridge hands a live call over', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  async function liveCall(): Promise<{ call: TestCall; client: TwilioStreamClient }> {
    const call = await h.answeredCall({ row: true });
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1);
    return { call, client };
  }

  /**
   * A live call whose bridge (shutting down, claiming nothing) asked to move it, giving up the keys
   * "12" of an entry it had begun; test-bridge-2 has read the claim and not answered it yet.
   */
  async function callBeingMoved() {
    h = await gw.start({ CLAIM_TIMEOUT_MS: '5000' });
    const { call, client } = await liveCall();
    const second = await h.addBridge({ instanceId: 'test-bridge-2', answerClaims: false });
    h.bridge.answerClaims = false;
    h.bridge.send(call.callSid, { t: 'rehome', keys: '12' });
    await waitFor('the second bridge read the claim', () => second.claims.some((c) => c.callSid === call.callSid));
    return { call, client, second };
  }

  it('moves the call to the bridge that takes it, then stops it on the old one; caller audio goes to exactly one bridge, in order', async () => {
    h = await gw.start({ CLAIM_TIMEOUT_MS: '5000' });
    const { call, client } = await liveCall();
    const second = await h.addBridge({ instanceId: 'test-bridge-2', answerClaims: false });
    // The old bridge is shutting down: it claims nothing.
    h.bridge.answerClaims = false;
    const heardBefore = client.received.length;

    h.bridge.send(call.callSid, { t: 'rehome' });
    const claim = await waitFor('a started claim naming the old bridge', async () =>
      (await h.claims()).find((c) => c.callSid === call.callSid && c.previousOwner === h.bridge.instanceId),
    );
    expect(claim).to.include({ reason: 'started', gateway: h.config.instanceId });
    // Until the new bridge has the call, the old one keeps it, audio and all.
    client.media(audioFrame(2));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 2);
    expect(h.inbound(call.callSid).some((r) => r.t === 'stop')).to.equal(false);

    await waitFor('the second bridge read the claim', () => second.claims.some((c) => c.callSid === call.callSid));
    expect(second.answerClaim(call.callSid)).to.equal(true);
    const attached = await h.waitForEvent(call.callSid, 'link.attached', 2);
    expect(attached.fields).to.include({ bridge: second.instanceId, via: 'handover' });
    const attach = second.records(call.callSid)[0];
    expect(attach).to.deep.include({ t: 'attach', call: call.callSid });
    expect(attach?.t === 'attach' && attach.handover).to.deep.include({ from: h.bridge.instanceId, planned: true });

    // The old bridge is told the call left it; what the caller says now reaches the new one only.
    const stop = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'stop'));
    expect(stop[stop.length - 1]).to.include({ t: 'stop', reason: 'handed_over', rx: 2 });
    client.media(audioFrame(3));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1, second);
    expect(payloadsOf(h.inbound(call.callSid))).to.deep.equal([audioFrame(1), audioFrame(2)]);
    expect(payloadsOf(second.records(call.callSid))).to.deep.equal([audioFrame(3)]);
    // A planned move plays no hold clip, and nothing is orphaned.
    expect(audioOf(client.received.slice(heardBefore)).length).to.equal(0);
    expect(await h.metric('gateway_calls_orphaned_total')).to.equal(0);

    client.stop();
    const final = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'stop'), second);
    expect(final[final.length - 1]).to.include({ t: 'stop', reason: 'twilio_stop', rx: 3 });
  });

  it('keys given up by the old bridge, then keys pressed during the move, go to the new bridge in order; none to the old one', async () => {
    // The old bridge had "12" of an entry when it asked: they leave with the call.
    const { call, client, second } = await callBeingMoved();
    // The caller goes on typing while the new bridge has not answered yet; audio still goes to the old one.
    client.dtmf('3');
    client.media(audioFrame(2));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 2);
    expect(second.answerClaim(call.callSid)).to.equal(true);
    await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'stop'));
    client.dtmf('#');
    await waitFor('the keys at the new bridge', () => keysOf(second.records(call.callSid)) === '123#');
    expect(keysOf(h.inbound(call.callSid)), 'keys the old bridge got').to.equal('');
  });

  it('keys the old bridge gives up again during the move go after the first ones, ahead of the keys the gateway held', async () => {
    const { call, client, second } = await callBeingMoved();
    client.dtmf('4');
    // A key that was on its way to the old bridge when it asked: it asks again, giving that key up too.
    h.bridge.send(call.callSid, { t: 'rehome', keys: '3' });
    client.media(audioFrame(2));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 2);
    expect(second.answerClaim(call.callSid)).to.equal(true);
    await waitFor('the keys at the new bridge', () => keysOf(second.records(call.callSid)) === '1234');
    expect(keysOf(h.inbound(call.callSid)), 'keys the old bridge got').to.equal('');
  });

  it('keys the old bridge gives back just after the switch still reach the call, at the new bridge', async () => {
    const { call, second } = await callBeingMoved();
    expect(second.answerClaim(call.callSid)).to.equal(true);
    await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'stop'));
    // The old bridge had a key on the wire when the move began; it gives it back on the channel the call left.
    h.bridge.sendOnLastChannel(call.callSid, { t: 'rehome', keys: '3' });
    await waitFor('the keys at the new bridge', () => keysOf(second.records(call.callSid)) === '123');
    expect(keysOf(h.inbound(call.callSid)), 'keys the old bridge got').to.equal('');
    // Given back, the keys did not start another move: the call stays on the new bridge.
    expect((await h.claims()).filter((c) => c.callSid === call.callSid && c.reason === 'started')).to.have.length(2);
  });

  it('keys given up for a move that finds no bridge go back to the old bridge', async () => {
    h = await gw.start({ CLAIM_TIMEOUT_MS: '300' });
    const { call, client } = await liveCall();
    h.bridge.answerClaims = false;

    h.bridge.send(call.callSid, { t: 'rehome', keys: '45' });
    // A key pressed once the gateway is moving the call (it has offered it again).
    await waitFor('the claim naming the old bridge', async () =>
      (await h.claims()).some((c) => c.callSid === call.callSid && c.previousOwner === h.bridge.instanceId),
    );
    client.dtmf('6');
    await waitFor('the keys back at the old bridge', () => keysOf(h.inbound(call.callSid)) === '456');
    expect(h.inbound(call.callSid).some((r) => r.t === 'stop')).to.equal(false);
  });

  it('keeps the call on its bridge when no other bridge takes it', async () => {
    h = await gw.start({ CLAIM_TIMEOUT_MS: '300' });
    const { call, client } = await liveCall();
    h.bridge.answerClaims = false;
    const heardBefore = client.received.length;

    h.bridge.send(call.callSid, { t: 'rehome' });
    await waitFor('the claim naming the old bridge', async () =>
      (await h.claims()).some((c) => c.callSid === call.callSid && c.previousOwner === h.bridge.instanceId),
    );
    // Past the claim timeout (a wait, not a waitFor: what is checked is that nothing happens) the call
    // is still on its bridge: no busy, no hold, no stop.
    await new Promise((resolve) => setTimeout(resolve, 600));
    client.media(audioFrame(2));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 2);
    expect(h.inbound(call.callSid).some((r) => r.t === 'stop')).to.equal(false);
    expect(audioOf(client.received.slice(heardBefore)).length).to.equal(0);
    expect(client.isOpen).to.equal(true);
  });
});
