/**
 * Two last-line defences: a caller the model cannot serve is transferred to a
 * human through the Twilio REST API (the real twilio SDK against a local REST
 * double), and garbage in the shared Redis streams never crashes a consumer.
 */
import { expect } from 'chai';
import { readTimeline, sharedKeys } from '@voice/redis';
import { TwilioRestDouble, waitFor, type TwilioCallerDouble } from '@voice/testkit';
import { scrapeMetric } from '../support/metrics.js';
import { createTestBusiness } from '../support/business.js';
import { finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { TEST_ACCOUNT_SID } from '../support/env.js';
import { startSilentServer } from '../support/silent-server.js';

const REST_AUTH_TOKEN = 'rest-api-auth-token';
const TRANSFER_TO = '+15550009999';

describe('e2e: transfer through the Twilio REST API', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();
  let rest: TwilioRestDouble;
  const calls = new Map<string, TwilioCallerDouble>();

  beforeEach(async () => {
    // On a call update Twilio ends the media stream and runs the new TwiML; the double does the first part.
    rest = new TwilioRestDouble({
      accountSid: TEST_ACCOUNT_SID,
      authToken: REST_AUTH_TOKEN,
      onCallUpdate: (callSid) => void calls.get(callSid)?.hangup(),
    });
    await rest.start();
  });
  afterEach(async () => {
    await rest.stop();
    calls.clear();
  });

  function transferEnv(authToken: string): Record<string, string> {
    return {
      TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: authToken,
      TWILIO_API_BASE_URL: rest.baseURL,
      FALLBACK_TRANSFER_NUMBER: TRANSFER_TO,
    };
  }

  it('redirects the live call to the transfer number when the model is unreachable', async () => {
    const stack = await ctx.start({ realtime: { refuseConnections: true }, bridgeEnv: transferEnv(REST_AUTH_TOKEN) });
    const business = await createTestBusiness(ctx.knex);
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 8000 }], hangupWhenScriptEnds: true });
    calls.set(call.callSid, call);
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);

    expect(rest.requests).to.have.length(1);
    const request = rest.requests[0]!;
    expect(request.authorized).to.equal(true);
    expect(request.callSid).to.equal(summary.callSid);
    expect(request.params.Twiml).to.match(new RegExp(`<Say>[^<]+</Say><Dial>\\${TRANSFER_TO}</Dial>`));
    expect(findEvent(timeline, 'realtime.fallback')?.fields).to.include({
      reason: 'OPENAI_REFUSED',
      action: 'transfer',
      to: TRANSFER_TO,
    });
  });

  it('falls back to the spoken fallback when the REST API refuses the redirect', async () => {
    const stack = await ctx.start({ realtime: { refuseConnections: true }, bridgeEnv: transferEnv('wrong-token') });
    const business = await createTestBusiness(ctx.knex);
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 8000 }], hangupWhenScriptEnds: true });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    expect(rest.requests.map((r) => r.authorized)).to.deep.equal([false]);
    expect(findEvent(timeline, 'realtime.fallback')?.fields.action).to.equal('fallback_clip_then_twiml');
    expect(summary.spokenByTwilio.some((s) => s.phase === 'after-stream')).to.equal(true);
    expect(summary.heardAudibleMs).to.be.greaterThan(500);
  });

  it('falls back to the spoken fallback when the REST API does not answer, with the hold clip meanwhile', async () => {
    // Twilio's API reachable but silent.
    const twilio = await startSilentServer();
    try {
      const stack = await ctx.start({
        realtime: { refuseConnections: true },
        bridgeEnv: { ...transferEnv(REST_AUTH_TOKEN), TWILIO_API_BASE_URL: twilio.url },
      });
      const business = await createTestBusiness(ctx.knex);
      // The caller gives up after 9 s: the SDK's own timeout (30 s) would leave them nothing before that.
      const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 9000 }], hangupWhenScriptEnds: true });
      const summary = await call.done;
      const timeline = await finishedTimeline(ctx.redis, summary.callSid);
      expect(twilio.connections, 'the redirect was tried').to.be.greaterThan(0);
      expect(findEvent(timeline, 'realtime.fallback')?.fields.action).to.equal('fallback_clip_then_twiml');
      expect(summary.spokenByTwilio.some((s) => s.phase === 'after-stream')).to.equal(true);
      const holds = timeline.filter((e) => e.event === 'clip.played' && e.fields.clip === 'hold');
      expect(holds.length, 'the hold clip played while the redirect was waited for').to.be.greaterThan(0);
    } finally {
      await twilio.stop();
    }
  });
});

describe('e2e: malformed entries on the claim stream', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();

  it('are skipped and counted; the call goes on and the consumers stay up', async () => {
    const stack = await ctx.start();
    const { redis } = ctx;
    const claims = sharedKeys(stack.namespace).callClaims;
    // Garbage on the claim stream before the call: the bridges' consumer group must survive it.
    await redis.xadd(claims, '*', 'nonsense', 'yes');
    await redis.xadd(claims, '*', 'callSid', 'CAnot-a-call', 'reason', 'started', 'at', 'not-a-number');

    const business = await createTestBusiness(ctx.knex, { greeting: 'Still here.' });
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 6000 }], hangupWhenScriptEnds: true });
    await waitFor(
      async () =>
        (await readTimeline(redis, call.callSid)).some(
          (e) => e.event === 'audio_bridge.started' || e.event === 'warm.joined',
        ),
      { message: 'audio flowing' },
    );
    // A started claim that names no gateway, mid-call (the media link's own garbage is tested in packages/media-link).
    await redis.xadd(claims, '*', 'callSid', call.callSid, 'reason', 'started', 'at', String(Date.now()));

    const summary = await call.done;
    const timeline = await finishedTimeline(redis, summary.callSid);
    expect(findEvent(timeline, 'call.ended')?.fields.end_reason).to.equal('twilio_stop');
    expect(summary.heardAudibleMs).to.be.greaterThan(300);
    // Three bad claims, each skipped and counted once.
    expect(await scrapeMetric(stack.bridges[0]!.port, 'bridge_invalid_claims_total')).to.equal(3);

    // The consumers are still there: a second call works end to end.
    const second = await stack.call(business.phoneNumber, { script: [{ silenceMs: 3000 }], hangupWhenScriptEnds: true })
      .done;
    expect(second.heardAudibleMs).to.be.greaterThan(300);
  });
});
