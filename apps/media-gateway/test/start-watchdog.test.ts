import { expect } from 'chai';
import { STREAM_PARAMETERS } from '@voice/protocols';
import { callKeys, transientCallKeys } from '@voice/redis';
import type { GatewayHarness } from './helpers/harness.js';
import { useGatewayHarness } from './helpers/harness.js';
import { audioFrame } from './helpers/twilio-stream-client.js';
import { sleep, waitFor } from './helpers/wait-for.js';

const WARN_MS = 150;
const TIMEOUT_MS = 300;

describe('media gateway: waiting for START', () => {
  const gw = useGatewayHarness();
  let h: GatewayHarness;

  describe('with short thresholds', () => {
    beforeEach(async () => {
      h = await gw.start({
        START_WARN_MS: String(WARN_MS),
        START_TIMEOUT_MS: String(TIMEOUT_MS),
      });
    });

    it('closes a silent socket with no known call as a ghost: shared ghosts stream, counter, no claim', async () => {
      const client = await h.connect(h.newCallSid());
      await client.closed;
      const [ghost] = await waitFor('a ghost entry', async () => {
        const ghosts = await h.ghosts();
        return ghosts.length > 0 ? ghosts : undefined;
      });
      expect(ghost).to.include({ event: 'ws.ghost', reason: 'start_timeout', instance: h.config.instanceId });
      expect(ghost!.remote).to.be.a('string').and.not.equal('');
      expect(Number(ghost!.ts)).to.be.closeTo(Date.now(), 10_000);
      expect(await h.metric('gateway_ghost_sockets_total')).to.equal(1);
      expect(await h.metric('gateway_stream_no_start_total')).to.equal(0);
      expect(await h.claims()).to.have.length(0);
    });

    it('ends a real call (CallSid in the path, meta in Redis) that never sends START as failed', async () => {
      const call = await h.answeredCall({ row: true });
      const client = await h.connect(call.callSid, { pathCallSid: call.callSid });
      await client.closed;
      const events = await waitFor('call.ended on the timeline', async () => {
        const ev = await h.timelineEvents(call.callSid);
        return ev.includes('call.ended') ? ev : undefined;
      });
      expect(events).to.deep.equal(['ws.accepted', 'stream.start_slow', 'stream.no_start', 'call.ended']);
      const ended = (await h.timeline(call.callSid)).find((e) => e.event === 'call.ended')!;
      expect(ended.fields).to.include({ end_reason: 'no_start', rx: '0', tx: '0', is_ghost: 'false' });
      expect(Number(ended.fields.duration_ms)).to.be.at.least(TIMEOUT_MS - 50);
      const row = await waitFor('the failed calls row', async () => {
        const r = await h.callRow(call.callSid);
        return r?.status === 'failed' ? r : undefined;
      });
      expect(row).to.include({ endReason: 'no_start', isGhost: false, rxFrames: 0, txFrames: 0 });
      // No bridge will finalize it: the gateway removes the call's token and meta itself.
      await waitFor('transient keys removed', async () =>
        (await h.redis.exists(...transientCallKeys(call.callSid))) === 0 ? true : undefined,
      );
      expect(await h.metric('gateway_stream_no_start_total', { known_call: 'true' })).to.equal(1);
      expect(await h.ghosts()).to.have.length(0);
      expect(await h.claims()).to.have.length(0);
    });

    it('tells the bridge holding a warm session for a call that never sends START to let it go', async () => {
      const call = await h.answeredCall({ owner: h.bridge.instanceId });
      const client = await h.connect(call.callSid, { pathCallSid: call.callSid });
      await client.closed;
      const [stop] = await h.waitForInbound(call.callSid, (r) => r.length > 0);
      expect(stop).to.include({ t: 'stop', call: call.callSid, reason: 'no_start', rx: 0, tx: 0 });
      await h.waitForEvent(call.callSid, 'call.ended');
      await waitFor(
        'transient keys removed',
        async () => (await h.redis.exists(...transientCallKeys(call.callSid))) === 0,
      );
    });

    it('does not call a socket that sent traffic a ghost, and does not fail an unknown call', async () => {
      const client = await h.connect(h.newCallSid());
      client.connected();
      await client.closed;
      await waitFor(
        'the no-start counter',
        async () => (await h.metric('gateway_stream_no_start_total', { known_call: 'false' })) === 1,
      );
      expect(await h.ghosts()).to.have.length(0);
      expect(await h.metric('gateway_ghost_sockets_total')).to.equal(0);
    });

    it('writes no timeline and no calls row for a CallSid in the path that no webhook answered', async () => {
      // A signed upgrade naming a CallSid that is no call here (a stale or replayed stream URL), with
      // traffic and no START: its held checkpoints must not be written under that CallSid (a
      // 7-day timeline key for any name a client picks), and no calls row is failed for it.
      const callSid = h.newCallSid();
      const client = await h.connect(callSid, { pathCallSid: callSid });
      client.connected();
      await client.closed;
      // The gateway has decided what the socket was: an unknown call with traffic (not a ghost, not a failed call).
      await waitFor(
        'the no-start counter',
        async () => (await h.metric('gateway_stream_no_start_total', { known_call: 'false' })) === 1,
      );
      expect(await h.redis.exists(callKeys.timeline(callSid))).to.equal(0);
      expect(await h.callRow(callSid)).to.equal(null);
      expect(await h.ghosts()).to.have.length(0);
    });
  });

  it('lets a START that arrives after the warn threshold proceed, noting it was slow', async () => {
    const timeoutMs = WARN_MS * 4;
    h = await gw.start({
      START_WARN_MS: String(WARN_MS),
      START_TIMEOUT_MS: String(timeoutMs),
    });
    const call = await h.answeredCall();
    const client = await h.connect(call.callSid);
    client.connected();
    await sleep(WARN_MS * 2);
    client.start({ [STREAM_PARAMETERS.callToken]: call.token });
    client.media(audioFrame(1));
    await h.waitForInbound(call.callSid, (r) => r.some((x) => x.t === 'media'));
    expect(client.isOpen).to.equal(true);
    await h.waitForEvent(call.callSid, 'link.attached');
    const events = await h.timelineEvents(call.callSid);
    expect(events).to.deep.equal([
      'ws.accepted',
      'stream.connected',
      'stream.start_slow',
      'stream.started',
      'link.attached',
    ]);
    expect(await h.metric('gateway_streams_started_total')).to.equal(1);
    // The watchdog was disarmed at START: the call outlives the timeout it would have hit.
    await sleep(timeoutMs);
    expect(client.isOpen).to.equal(true);
  });
});
