/**
 * Never silent while waiting (issue 8): a model that hangs on connect, with the
 * webhook, a gateway and a bridge as separate processes. The caller hears the
 * hold clip with no silence over 1.5 s, then the fallback at the caller-facing
 * connect deadline, not after attempts x OPENAI_CONNECT_TIMEOUT_MS. Measured
 * from what the caller double heard (its played-audio timeline from START).
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { prepareTestDatabase } from '@voice/db';
import { BYTES_PER_MS } from '@voice/protocols';
import { readTimeline, type RedisClient } from '@voice/redis';
import {
  RealtimeDouble,
  longestSilence,
  placeCall,
  startProcessStack,
  waitFor,
  type ProcessStack,
} from '@voice/testkit';
import { DEFAULTS as GATEWAY_DEFAULTS } from '../../apps/media-gateway/src/config.js';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from '../support/env.js';
import { createTestBusiness } from '../support/business.js';
import { findEvent } from '../support/e2e-context.js';
import { reportFigure } from '../support/figures.js';
import { assertionRedis } from '../support/redis.js';

/** Short, for the test; the default is 10 s. Long enough for two hold repeats before it. */
const DEADLINE_MS = 7000;
/** The bound on silence while waiting. */
const MAX_SILENCE_MS = 1500;
/** Generous: process hops, timers and a CPU shared with other test runs. */
const DEADLINE_SLACK_MS = 1500;
/** The fallback clip is found in what the caller heard by its first 100 ms. */
const FALLBACK_PROBE_MS = 100;

describe('e2e (processes): a model that hangs on connect', function () {
  this.timeout(90_000);
  let knex: Knex;
  let redis: RedisClient;
  let realtime: RealtimeDouble;
  let stack: ProcessStack | undefined;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    redis = assertionRedis();
    realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY, behaviour: { hangUpgrade: true } });
    await realtime.start();
  });
  after(async () => {
    await stack?.stop();
    await realtime.stop();
    await knex.destroy();
    await redis.quit();
  });

  it('holds with no silence over 1.5 s, then the fallback at the connect deadline', async () => {
    // Default attempts and per-attempt timeout (3 x 8 s): without the deadline the caller would wait 24 s.
    stack = await startProcessStack({
      env: { ...baseTestEnv(uniqueNamespace()), LOG_LEVEL: 'warn' },
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY },
      bridgeEnv: () => ({ OPENAI_CONNECT_DEADLINE_MS: String(DEADLINE_MS) }),
    });
    const running = stack;
    const business = await createTestBusiness(knex, { greeting: 'Hi, Test Dental.' });
    const call = placeCall({
      webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
      publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
      authToken: TEST_AUTH_TOKEN,
      accountSid: TEST_ACCOUNT_SID,
      to: business.phoneNumber,
      resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[0]}${new URL(url).pathname}`,
      // Far past the deadline: if no fallback came, the caller hangs up and the test fails below.
      script: [{ silenceMs: 30_000 }],
      hangupWhenScriptEnds: true,
    });
    const summary = await call.done;
    await waitFor(async () => (await readTimeline(redis, summary.callSid)).some((e) => e.event === 'call.metrics'), {
      timeoutMs: 15_000,
      message: 'call finalized',
    });
    const timeline = await readTimeline(redis, summary.callSid);

    // What the caller heard, from START: hold clips, then the fallback clip.
    const heard = call.heardAudio();
    const fallback = await readFile(`${GATEWAY_DEFAULTS.clipsDir}/fallback.ulaw`);
    const fallbackAt = heard.indexOf(fallback.subarray(0, FALLBACK_PROBE_MS * BYTES_PER_MS));
    expect(fallbackAt, 'the fallback clip was heard').to.be.at.least(0);
    const fallbackAtMs = fallbackAt / BYTES_PER_MS;
    const silence = longestSilence(heard, 0, fallbackAtMs);
    const firstAudioAtMs = summary.firstAudioAtMs ?? fallbackAtMs;
    const betweenHolds = longestSilence(heard, firstAudioAtMs, fallbackAtMs);
    // Warm (the session was being opened while the phone rang) or cold (opened at START).
    const path = findEvent(timeline, 'bridge.claimed')?.fields.reason === 'prebuilt' ? 'warm' : 'cold';
    reportFigure(
      `model hangs on connect (${path} path): START to the fallback heard (deadline ${DEADLINE_MS} ms)`,
      fallbackAtMs,
    );
    reportFigure('model hangs on connect: longest silence heard from START to the fallback', silence.ms);
    reportFigure('model hangs on connect: first hold audio heard after START', firstAudioAtMs);
    reportFigure('model hangs on connect: longest silence between hold plays', betweenHolds.ms);

    expect(fallbackAtMs, 'not before the deadline: the deadline is what ended the wait').to.be.at.least(
      DEADLINE_MS - 500,
    );
    expect(fallbackAtMs, 'at the deadline, not after 3 x 8 s').to.be.below(DEADLINE_MS + DEADLINE_SLACK_MS);
    expect(silence.ms, `longest silence (at ${silence.atMs} ms)`).to.be.below(MAX_SILENCE_MS);

    const holds = timeline.filter((e) => e.event === 'clip.played' && e.fields.clip === 'hold');
    expect(holds.length, 'the hold clip repeated while the caller waited').to.be.at.least(2);
    const failed = findEvent(timeline, 'openai.failed');
    expect(failed?.fields.reason).to.equal('OPENAI_CONNECT_DEADLINE');
    expect(Number(failed?.fields.attempts)).to.be.at.least(1);
    expect(findEvent(timeline, 'realtime.fallback')?.fields.reason).to.equal('OPENAI_CONNECT_DEADLINE');
    expect(findEvent(timeline, 'call.ended')?.fields.end_reason).to.equal('fallback:OPENAI_CONNECT_DEADLINE');
    expect(
      summary.spokenByTwilio.some((s) => s.phase === 'after-stream'),
      'Twilio spoke the TwiML fallback',
    ).to.equal(true);
    expect(findEvent(timeline, 'call.silent_failure')).to.equal(undefined);
    // The deadline cut the attempt: no model connection is left hanging.
    await waitFor(() => realtime.openSessionCount === 0, { timeoutMs: 5000, message: 'no model session left' });
  });
});
