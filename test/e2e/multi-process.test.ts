/**
 * Scale-out: two gateway and two bridge processes behind a round-robin "load
 * balancer", several calls at once. Each call is owned by exactly one bridge
 * and no audio crosses between calls, in either direction.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { prepareTestDatabase } from '@voice/db';
import { readTimeline, type RedisClient } from '@voice/redis';
import { RealtimeDouble, placeCall, startProcessStack, waitFor, type ProcessStack } from '@voice/testkit';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from '../support/env.js';
import { createTestBusiness } from '../support/business.js';
import { assertionRedis } from '../support/redis.js';

const CALLS = 6;
const SENTENCES = [
  'I need a cleaning.',
  'Can I move my appointment?',
  'Do you take insurance?',
  'Where do I park?',
  'Is the doctor in today?',
  'I have a toothache.',
];

describe('e2e: two gateways and two bridges as separate processes', function () {
  this.timeout(120_000);
  let knex: Knex;
  let redis: RedisClient;
  let realtime: RealtimeDouble;
  let stack: ProcessStack | undefined;

  before(async () => {
    ({ knex } = await prepareTestDatabase());
    redis = assertionRedis();
    realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY });
    await realtime.start();
  });
  after(async () => {
    await stack?.stop();
    await realtime.stop();
    await knex.destroy();
    await redis.quit();
  });

  it("gives every call exactly one bridge and keeps each call's audio its own", async () => {
    stack = await startProcessStack({
      env: { ...baseTestEnv(uniqueNamespace()), LOG_LEVEL: 'warn' },
      gateways: 2,
      bridges: 2,
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY },
    });
    const running = stack;
    const businesses = await Promise.all(
      Array.from({ length: CALLS }, (_, i) => createTestBusiness(knex, { greeting: `Hello from office ${i + 1}.` })),
    );
    const calls = businesses.map((business, i) =>
      placeCall({
        webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
        publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
        authToken: TEST_AUTH_TOKEN,
        accountSid: TEST_ACCOUNT_SID,
        to: business.phoneNumber,
        resolveStreamUrl: (url) =>
          `ws://127.0.0.1:${running.gatewayPorts[i % running.gatewayPorts.length]}${new URL(url).pathname}`,
        script: [{ silenceMs: 3500 }, { say: SENTENCES[i]! }, { silenceMs: 3500 }],
        hangupWhenScriptEnds: true,
      }),
    );
    const summaries = await Promise.all(calls.map((c) => c.done));
    await waitFor(() => realtime.openSessionCount === 0, { timeoutMs: 10_000, message: 'model sessions closed' });

    const owners = new Map<string, string>();
    for (const [i, summary] of summaries.entries()) {
      const call = calls[i]!;
      expect(summary.heardAudibleMs, `call ${i} heard audio`).to.be.greaterThan(500);

      // Caller -> model: exactly one session received this caller's audio, byte for byte.
      const sent = call.sentAudio();
      const matching = realtime.sessions.filter((s) => s.inputAudio().equals(sent));
      expect(matching, `sessions with call ${i}'s audio`).to.have.length(1);
      const session = matching[0]!;

      // Model -> caller: every assistant item the caller got marks for belongs to that session.
      const itemsHeard = new Set(call.marks.map((m) => m.name.split('|')[0]));
      const sessionItems = new Set(session.responses.map((r) => r.itemId));
      for (const item of itemsHeard) expect(sessionItems.has(item!), `item ${item} of call ${i}`).to.equal(true);
      expect(session.responses[0]?.text).to.equal(`Hello from office ${i + 1}.`);

      // Exactly one bridge claimed the call.
      await waitFor(async () => (await readTimeline(redis, summary.callSid)).some((e) => e.event === 'call.ended'));
      const claims = (await readTimeline(redis, summary.callSid)).filter((e) => e.event === 'bridge.claimed');
      expect(claims, `claims of call ${i}`).to.have.length(1);
      owners.set(summary.callSid, claims[0]!.instance);
    }
    expect(new Set(owners.values()).size, 'both bridges took calls').to.equal(2);
  });
});
