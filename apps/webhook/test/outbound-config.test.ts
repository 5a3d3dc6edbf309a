/** The business API's configuration: a bad API_TOKEN setup stops the service naming the variable; unset, POST /calls says it is off. */
import { expect } from 'chai';
import { ConfigError } from '@voice/config';
import { loadWebhookConfig } from '../src/config.js';
import { baseTestEnv } from '../../../test/support/env.js';
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
});
