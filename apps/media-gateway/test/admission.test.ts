/**
 * Admission: a call no bridge takes (every bridge full, or none answering the
 * claim) hears the busy clip and goes on to the TwiML fallback, and the
 * gateway finishes it as a bridge would; a gateway at GATEWAY_MAX_STREAMS
 * reports not ready and refuses new upgrades until a socket closes.
 */
import { expect } from 'chai';
import { transientCallKeys } from '@voice/redis';
import { HANGUP_MARK_PREFIX } from '../src/links/deliver-to-caller.js';
import type { GatewayHarness, TestCall } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioOf, marksOf, mediaOf, shippedClip } from './helpers/heard.js';
import { audioFrame, refusedStatus } from './helpers/twilio-stream-client.js';
import type { TwilioStreamClient } from './helpers/twilio-stream-client.js';
import { waitFor } from './helpers/wait-for.js';

const CLAIM_TIMEOUT_MS = 300;

describe('media gateway: admission', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;
  let busy: Buffer;

  before(async () => {
    busy = await shippedClip('busy');
  });

  /**
   * The caller hears the busy clip, then the socket closes normally once Twilio has played it
   * (the TwiML after </Connect> runs), and the gateway finishes the call as NO_CAPACITY.
   */
  async function expectBusyThenFallback(call: TestCall, client: TwilioStreamClient): Promise<void> {
    const messages = await waitFor('the busy clip and the mark after it', () =>
      marksOf(client.received).length > 0 ? [...client.received] : undefined,
    );
    expect(audioOf(messages).equals(busy), 'audio sent equals busy.ulaw').to.equal(true);
    const markName = `${HANGUP_MARK_PREFIX}busy`;
    expect(messages[messages.length - 1]).to.deep.equal({
      event: 'mark',
      streamSid: client.ids.streamSid,
      mark: { name: markName },
    });
    // Twilio has played the clip.
    client.mark(markName);
    expect((await client.closed).code).to.equal(1000);

    const ended = await h.waitForEvent(call.callSid, 'call.ended');
    expect(ended.fields).to.include({
      end_reason: 'fallback:NO_CAPACITY',
      rx: '0',
      tx: String(mediaOf(messages).length),
      is_ghost: 'false',
    });
    expect(await h.timelineEvents(call.callSid)).to.deep.equal([
      'ws.accepted',
      'stream.connected',
      'stream.started',
      'realtime.fallback',
      'clip.played',
      'stream.stopped',
      'call.ended',
    ]);
    const fallback = (await h.timeline(call.callSid)).find((e) => e.event === 'realtime.fallback')!;
    expect(fallback.fields).to.include({ reason: 'NO_CAPACITY' });
    expect(fallback).to.include({ app: 'media-gateway', instance: h.config.instanceId });
    expect((await h.timeline(call.callSid)).find((e) => e.event === 'clip.played')!.fields).to.include({
      clip: 'busy',
    });

    const row = await waitFor('the failed calls row', async () => {
      const r = await h.callRow(call.callSid);
      return r?.status === 'failed' ? r : undefined;
    });
    expect(row).to.include({ endReason: 'fallback:NO_CAPACITY', isGhost: false, rxFrames: 0 });
    // No bridge will finalize it: the gateway removes the call's transient keys itself.
    await waitFor(
      'transient keys removed',
      async () => (await h.redis.exists(...transientCallKeys(call.callSid))) === 0,
    );

    expect(await h.metric('gateway_no_capacity_total')).to.equal(1);
    expect(await h.metric('gateway_clips_played_total', { clip: 'busy' })).to.equal(1);
    // Nothing of the call ever reached a bridge.
    expect(h.inbound(call.callSid)).to.deep.equal([]);
  }

  describe('when every bridge in the registry is full', () => {
    beforeEach(async () => {
      h = await gw.start({}, { capacity: 0 });
    });

    it('plays busy, ends the call as fallback:NO_CAPACITY and offers it to no bridge', async () => {
      const call = await h.answeredCall({ row: true });
      const client = await h.startStream(call);
      await expectBusyThenFallback(call, client);
      expect(await h.claims()).to.have.length(0);
    });
  });

  describe('when no bridge answers the claim', () => {
    beforeEach(async () => {
      h = await gw.start({ CLAIM_TIMEOUT_MS: String(CLAIM_TIMEOUT_MS) }, { answerClaims: false });
    });

    it('plays busy after CLAIM_TIMEOUT_MS and ends the call as fallback:NO_CAPACITY', async () => {
      const call = await h.answeredCall({ row: true });
      const startedAt = Date.now();
      const client = await h.startStream(call);
      await expectBusyThenFallback(call, client);
      const claims = await h.claims();
      expect(claims.map((c) => [c.callSid, c.reason, c.gateway])).to.deep.equal([
        [call.callSid, 'started', h.config.instanceId],
      ]);
      // The bridge read the claim; the gateway gave up waiting for an answer, not for the claim to go out.
      expect(h.bridge.claims.map((c) => c.callSid)).to.deep.equal([call.callSid]);
      const fallback = await h.waitForEvent(call.callSid, 'realtime.fallback');
      expect(fallback.ts - startedAt).to.be.at.least(CLAIM_TIMEOUT_MS);
    });
  });

  describe('with GATEWAY_MAX_STREAMS=1', () => {
    beforeEach(async () => {
      h = await gw.start({ GATEWAY_MAX_STREAMS: '1' });
    });

    const readyz = async () => (await fetch(`http://127.0.0.1:${h.port}/readyz`)).status;

    it('is not ready and refuses a second upgrade with 503 while full, and takes streams again once the socket closes', async () => {
      expect(await readyz()).to.equal(200);
      const first = await h.answeredCall();
      const client = await h.startedStream(first);

      expect(await readyz()).to.equal(503);
      const second = await h.answeredCall();
      expect(await refusedStatus(h.port, { pathCallSid: second.callSid })).to.equal(503);
      expect(await h.metric('gateway_streams_over_cap_total')).to.equal(1);
      expect(await h.metric('gateway_upgrades_refused_total', { status: '503' })).to.equal(1);
      // The refused stream left its call untouched: Twilio runs the TwiML fallback.
      expect(await h.timelineEvents(second.callSid)).to.deep.equal([]);
      // The call already in progress is not disturbed.
      client.media(audioFrame(1));
      await h.waitForInbound(first.callSid, (r) => r.some((x) => x.t === 'media'));

      client.stop();
      await client.closed;
      await waitFor('/readyz back to 200', async () => (await readyz()) === 200);
      const next = await h.startedStream(second);
      expect(next.isOpen).to.equal(true);
      expect(await h.metric('gateway_streams_over_cap_total')).to.equal(1);
    });
  });
});
