/**
 * POST /twilio/connect-action against a real Redis: a stream that ended while
 * its call is alive gets a fresh stream (new one-time token); a call that
 * ended on purpose, is over, or has no bridge gets the spoken fallback and a
 * hangup; reconnects are capped.
 */
import { expect } from 'chai';
import { uniqueCallSid } from '@voice/db';
import { ENDED_ON_PURPOSE_TTL_SECONDS, callKeys, readTimeline, writeCallMeta } from '@voice/redis';
import { waitFor } from '@voice/testkit';
import { PUBLIC_BASE_URL, PUBLIC_STREAM_URL, TEST_ACCOUNT_SID } from '../../../test/support/env.js';
import { postAsTwilio } from '../../../test/support/twilio-http.js';
import { useWebhookService } from './helpers/webhook-context.js';

const MAX_RECONNECTS = 2;
const FALLBACK_TWIML = /^<\?xml[^>]+><Response><Say>[^<]+<\/Say><Hangup\/><\/Response>$/;

describe('webhook: POST /twilio/connect-action', function () {
  const ctx = useWebhookService({ STREAM_RECONNECTS_MAX: String(MAX_RECONNECTS) });

  const params = (callSid: string) => ({
    CallSid: callSid,
    AccountSid: TEST_ACCOUNT_SID,
    From: '+15551230000',
    To: '+15005550006',
    Direction: 'inbound',
    CallStatus: 'in-progress',
  });
  const postAction = (callSid: string, signature?: string | null) =>
    postAsTwilio(ctx.service.port, '/twilio/connect-action', params(callSid), signature);

  /** A call the webhook answered and a bridge owns, as Redis holds it mid-call. */
  async function liveCall(opts: { owner?: boolean } = {}): Promise<string> {
    const callSid = uniqueCallSid();
    await writeCallMeta(ctx.redis, {
      callSid,
      businessId: 'biz-1',
      direction: 'inbound',
      from: '+15551230000',
      to: '+15005550006',
      receivedAt: Date.now(),
    });
    if (opts.owner !== false) await ctx.redis.set(callKeys.owner(callSid), 'bridge-1', 'PX', 30_000);
    return callSid;
  }
  const actions = async (callSid: string) =>
    (await readTimeline(ctx.redis, callSid)).filter((e) => e.event === 'stream.action').map((e) => e.fields);

  it('reconnects a live call whose stream ended: a fresh <Connect action><Stream> with a new one-time token', async () => {
    const callSid = await liveCall();
    const first = await postAction(callSid);
    expect(first.status).to.equal(200);
    expect(first.body).to.include(`<Connect action="${PUBLIC_BASE_URL}/twilio/connect-action" method="POST">`);
    expect(first.body).to.include(`<Stream url="${PUBLIC_STREAM_URL}/${callSid}"`);
    expect(first.body).to.include('<Parameter name="businessId" value="biz-1"/>');
    const token1 = /name="callToken" value="([^"]+)"/.exec(first.body)![1];
    expect(await ctx.redis.get(callKeys.token(callSid))).to.equal(token1);

    const second = await postAction(callSid);
    const token2 = /name="callToken" value="([^"]+)"/.exec(second.body)![1];
    expect(token2, 'a new token per reconnect').to.not.equal(token1);
    expect(await ctx.redis.get(callKeys.token(callSid))).to.equal(token2);
    const entries = await actions(callSid);
    expect(entries.map((e) => [e.decision, e.reason, e.attempt])).to.deep.equal([
      ['reconnect', 'alive', '1'],
      ['reconnect', 'alive', '2'],
    ]);
    // For the owning bridge, should the new stream never come: what the webhook answered.
    expect(await ctx.redis.get(callKeys.lastAction(callSid))).to.equal('reconnect');
  });

  it('answers the spoken fallback and a hangup once the reconnects are used up', async () => {
    const callSid = await liveCall();
    for (let i = 0; i < MAX_RECONNECTS; i++) expect((await postAction(callSid)).body).to.include('<Stream');
    const res = await postAction(callSid);
    expect(res.body).to.match(FALLBACK_TWIML);
    expect((await actions(callSid)).at(-1)).to.include({ decision: 'fallback', reason: 'reconnects_exhausted' });
    // The bridge, still in its reattach grace, must not take the hangup after this fallback for an ordinary one.
    expect(await ctx.redis.get(callKeys.lastAction(callSid))).to.equal('fallback:reconnects_exhausted');
    expect(await ctx.redis.ttl(callKeys.lastAction(callSid))).to.be.within(1, ENDED_ON_PURPOSE_TTL_SECONDS);
  });

  it('answers the spoken fallback when a Redis command fails, and still marks it for the bridge if it can', async () => {
    const callSid = await liveCall();
    // A real Redis error on the reconnect count (WRONGTYPE), the rest of Redis up.
    await ctx.redis.hset(callKeys.reconnects(callSid), 'not', 'a counter');
    const res = await postAction(callSid);
    expect(res.status).to.equal(200);
    expect(res.body).to.match(FALLBACK_TWIML);
    await waitFor(async () => (await ctx.redis.get(callKeys.lastAction(callSid))) === 'fallback:error', {
      timeoutMs: 5000,
      message: 'the fallback marked for the bridge',
    });
    expect((await actions(callSid)).at(-1)).to.include({ decision: 'fallback', reason: 'error' });
    await ctx.redis.del(callKeys.reconnects(callSid));
  });

  it('does not reconnect a call whose stream was ended on purpose (a hangup, a fallback)', async () => {
    const callSid = await liveCall();
    await ctx.redis.set(callKeys.endedOnPurpose(callSid), 'hangup:agent', 'EX', ENDED_ON_PURPOSE_TTL_SECONDS);
    const res = await postAction(callSid);
    expect(res.body).to.match(FALLBACK_TWIML);
    expect(await ctx.redis.exists(callKeys.token(callSid)), 'no token issued').to.equal(0);
    expect((await actions(callSid)).at(-1)).to.include({ decision: 'fallback', reason: 'ended_on_purpose' });
  });

  it('answers the fallback for a call that is over (no meta) or that no bridge holds (no owner)', async () => {
    const over = uniqueCallSid();
    expect((await postAction(over)).body).to.match(FALLBACK_TWIML);
    expect((await actions(over)).at(-1)).to.include({ decision: 'fallback', reason: 'call_over' });
    expect(await ctx.redis.exists(callKeys.lastAction(over)), 'nothing left behind for a call that is over').to.equal(
      0,
    );

    const unowned = await liveCall({ owner: false });
    expect((await postAction(unowned)).body).to.match(FALLBACK_TWIML);
    expect((await actions(unowned)).at(-1)).to.include({ decision: 'fallback', reason: 'no_owner' });
  });

  it('refuses an unsigned or forged post', async () => {
    const callSid = await liveCall();
    expect((await postAction(callSid, null)).status).to.equal(400);
    expect((await postAction(callSid, 'forged')).status).to.equal(403);
    expect(await ctx.redis.exists(callKeys.token(callSid))).to.equal(0);
  });
});
