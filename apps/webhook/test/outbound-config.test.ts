/**
 * The business API's configuration: a bad API_TOKEN setup stops the service naming the variable;
 * unset, POST /calls says it is off; a room check that cannot be made dials nobody.
 */
import { expect } from 'chai';
import { ConfigError } from '@voice/config';
import { uniquePhoneNumber } from '@voice/db';
import { sharedKeys } from '@voice/redis';
import { loadWebhookConfig } from '../src/config.js';
import { TEST_ACCOUNT_SID, baseTestEnv } from '../../../test/support/env.js';
import { createTestBusiness } from '../../../test/support/business.js';
import { TEST_API_TOKEN, postCalls } from '../../../test/support/outbound.js';
import { useWebhookService } from './helpers/webhook-context.js';

describe('webhook: outbound calls configuration', () => {
  it('names API_TOKEN when it is too short to be a secret, and TWILIO_ACCOUNT_SID when it is missing', () => {
    const env = baseTestEnv('cfg');
    expect(() => loadWebhookConfig({ ...env, API_TOKEN: 'short', TWILIO_ACCOUNT_SID: 'AC1' })).to.throw(
      ConfigError,
      /API_TOKEN must be at least 16 characters/,
    );
    expect(() => loadWebhookConfig({ ...env, API_TOKEN: 'a-long-enough-api-token' })).to.throw(
      ConfigError,
      /TWILIO_ACCOUNT_SID is required with API_TOKEN/,
    );
    expect(loadWebhookConfig(env).outbound, 'off without API_TOKEN').to.equal(undefined);
    expect(
      loadWebhookConfig({ ...env, API_TOKEN: 'a-long-enough-api-token', TWILIO_ACCOUNT_SID: 'AC1' }).outbound
        ?.ringTimeoutSeconds,
    ).to.equal(25);
  });

  it('checks the bridges for room before dialing unless OUTBOUND_REQUIRE_ROOM=false', () => {
    const env = { ...baseTestEnv('cfg'), API_TOKEN: 'a-long-enough-api-token', TWILIO_ACCOUNT_SID: 'AC1' };
    // Reports older than three bridge heartbeats are a dead bridge's; a reservation outlives the ring by 30 s.
    expect(loadWebhookConfig(env).outbound?.room).to.deep.equal({
      registryStaleMs: 3000,
      maxAgeMs: 55_000,
      retryAfterSeconds: 5,
    });
    expect(loadWebhookConfig({ ...env, OUTBOUND_REQUIRE_ROOM: 'false' }).outbound?.room).to.equal(undefined);
    expect(() => loadWebhookConfig({ ...env, OUTBOUND_REQUIRE_ROOM: 'maybe' })).to.throw(
      ConfigError,
      /OUTBOUND_REQUIRE_ROOM/,
    );
  });

  describe('without API_TOKEN', () => {
    const ctx = useWebhookService();
    it('answers POST /calls with 503 and what to set', async () => {
      const res = await fetch(`http://127.0.0.1:${ctx.service.port}/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).to.equal(503);
      expect(((await res.json()) as { error: string }).error).to.match(/set API_TOKEN/);
    });
  });

  describe('when the room check cannot be made', () => {
    const ctx = useWebhookService({
      API_TOKEN: TEST_API_TOKEN,
      TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
      // Nothing listens here: a call dialed anyway would come back 502, not 503.
      TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    });

    it('dials nobody: 503 room_unknown with Retry-After, and the error names the room check', async () => {
      const business = await createTestBusiness(ctx.knex);
      // The bridge registry is unreadable (a hash expected, a string found): Redis refuses the room script.
      await ctx.redis.set(sharedKeys(ctx.namespace).bridges, 'not a hash');
      const res = await postCalls(ctx.service.port, { to: uniquePhoneNumber(), from: business.phoneNumber });
      expect(res.status, JSON.stringify(res.body)).to.equal(503);
      expect(res.retryAfter).to.equal('5');
      expect(res.body.error).to.match(/could not check the bridges' room .*nobody was dialed/);
      const metrics = await (await fetch(`http://127.0.0.1:${ctx.service.port}/metrics`)).text();
      expect(metrics).to.match(/webhook_outbound_requests_total\{[^}]*outcome="room_unknown"[^}]*\} 1/);
    });
  });
});
