/**
 * The media link to a call's bridge dies mid-call: the gateway notes the
 * orphaned call, plays the hold clip, holds the caller's audio and offers the
 * call again naming the lost owner; another bridge that takes it gets the
 * call (and the audio held meanwhile, in order); with no taker the caller
 * hears busy and goes on to the TwiML fallback. The link is lost both ways a
 * bridge can lose it: the bridge dies, or only its link to the gateway drops.
 */
import { expect } from 'chai';
import type { GatewayRecord } from '@voice/media-link';
import type { ClaimEntry } from '@voice/redis';
import type { GatewayHarness, TestCall } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioOf, marksOf, shippedClip } from './helpers/heard.js';
import type { TestBridge } from './helpers/test-bridge.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import type { TwilioStreamClient } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

const payloadsOf = (records: GatewayRecord[]) => records.flatMap((r) => (r.t === 'media' ? [r.payload] : []));

describe('media gateway: the bridge of a live call is lost', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;
  let hold: Buffer;
  let busy: Buffer;

  before(async () => {
    hold = await shippedClip('hold');
    busy = await shippedClip('busy');
  });

  /** A call attached to the harness's bridge, with one caller frame already there. */
  async function liveCall(): Promise<{ call: TestCall; client: TwilioStreamClient }> {
    const call = await h.answeredCall({ row: true });
    const client = await h.startedStream(call);
    client.media(audioFrame(1));
    await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 1);
    return { call, client };
  }

  /** The orphan checkpoint, and the claim that offers the call again naming the lost bridge. */
  async function expectOrphanedAndOffered(call: TestCall, lost: TestBridge): Promise<ClaimEntry> {
    const orphaned = await h.waitForEvent(call.callSid, 'call.orphaned');
    expect(orphaned.fields).to.include({ previous_owner: lost.instanceId });
    expect(orphaned.fields.link_reason).to.be.a('string').and.not.equal('');
    const claim = await waitFor('a new started claim naming the lost owner', async () =>
      (await h.claims()).find((c) => c.callSid === call.callSid && c.previousOwner === lost.instanceId),
    );
    expect(claim).to.include({ reason: 'started', gateway: h.config.instanceId });
    expect((await h.claims()).filter((c) => c.callSid === call.callSid)).to.have.length(2);
    expect(await h.metric('gateway_calls_orphaned_total')).to.equal(1);
    return claim;
  }

  describe('with another bridge to take it over', () => {
    beforeEach(async () => {
      // Long enough that the test, not the clock, decides when the second bridge answers.
      h = await gw.start({ CLAIM_TIMEOUT_MS: '5000' });
    });

    it('plays hold, offers the call again and attaches it to the bridge that takes it, caller audio in order', async () => {
      const { call, client } = await liveCall();
      // Registered and linked after the call was taken: it never saw the first claim.
      const second = await h.addBridge({ instanceId: 'test-bridge-2', answerClaims: false });
      const heardBefore = client.received.length;

      await h.bridge.stop();
      await expectOrphanedAndOffered(call, h.bridge);
      // "One moment please" while the call changes hands.
      const onHold = await waitFor('the hold clip', () => {
        const since = client.received.slice(heardBefore);
        return audioOf(since).length >= hold.length ? since : undefined;
      });
      expect(audioOf(onHold).equals(hold), 'audio sent equals hold.ulaw').to.equal(true);

      // The caller keeps talking; the gateway holds the audio until the new bridge is attached.
      client.media(audioFrame(2));
      await waitFor('the held frame counted', async () => (await h.metric('gateway_rx_frames_total')) === 2);
      await waitFor('the second bridge read the claim', () => second.claims.some((c) => c.callSid === call.callSid));
      expect(second.answerClaim(call.callSid)).to.equal(true);

      const attached = await h.waitForEvent(call.callSid, 'link.attached', 2);
      expect(attached.fields).to.include({ bridge: second.instanceId, via: 'claim' });
      client.media(audioFrame(3));
      const records = await h.waitForInbound(call.callSid, (r) => payloadsOf(r).length === 2, second);
      expect(records[0]).to.include({
        t: 'attach',
        call: call.callSid,
        streamSid: client.ids.streamSid,
        gateway: h.config.instanceId,
      });
      expect(payloadsOf(records)).to.deep.equal([audioFrame(2), audioFrame(3)]);
      // The lost bridge got nothing after it went away.
      expect(payloadsOf(h.inbound(call.callSid))).to.deep.equal([audioFrame(1)]);

      // The new owner's audio reaches the caller, and the call ends with it.
      const heardSoFar = client.received.length;
      second.send(call.callSid, { t: 'mark', name: 'after-handover' });
      await waitFor('the new bridge reaching the caller', () =>
        marksOf(client.received.slice(heardSoFar)).includes('after-handover'),
      );
      client.stop();
      const final = await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'stop'), second);
      expect(final[final.length - 1]).to.include({ t: 'stop', reason: 'twilio_stop', rx: 3 });
      expect(second.unrouted).to.deep.equal([]);
    });
  });

  describe('with no bridge to take it over', () => {
    beforeEach(async () => {
      h = await gw.start({ CLAIM_TIMEOUT_MS: '300' });
    });

    it('plays hold, offers the call again, then plays busy and ends it as fallback:NO_CAPACITY', async () => {
      const { call, client } = await liveCall();
      // A bridge with room that takes no claim: the call is offered, and nobody answers.
      const idle = await h.addBridge({ instanceId: 'test-bridge-2', answerClaims: false });
      const heardBefore = client.received.length;
      // The call's bridge stays up and registered, but its link to the gateway drops.
      h.bridge.answerClaims = false;
      h.bridge.closeLinks();

      await expectOrphanedAndOffered(call, h.bridge);
      await waitFor('the idle bridge read the claim', () => idle.claims.some((c) => c.callSid === call.callSid));
      const markName = await waitFor(
        'the hangup mark after the clips',
        () => marksOf(client.received.slice(heardBefore))[0],
      );
      expect(
        audioOf(client.received.slice(heardBefore)).equals(Buffer.concat([hold, busy])),
        'hold, then busy',
      ).to.equal(true);
      client.mark(markName);
      expect((await client.closed).code).to.equal(1000);

      const ended = await h.waitForEvent(call.callSid, 'call.ended');
      expect(ended.fields).to.include({ end_reason: 'fallback:NO_CAPACITY', rx: '1' });
      const row = await waitFor('the failed calls row', async () => {
        const r = await h.callRow(call.callSid);
        return r?.status === 'failed' ? r : undefined;
      });
      expect(row).to.include({ endReason: 'fallback:NO_CAPACITY' });
      // No bridge owned the call at its end: the gateway finished it itself and told nobody.
      expect(h.inbound(call.callSid).map((r) => r.t)).to.deep.equal(['attach', 'media']);
      expect(idle.records(call.callSid)).to.deep.equal([]);
    });
  });
});
