/**
 * Calls that must never reach the model: forged webhooks, forged media
 * upgrades, and calls to a number no business answers.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import twilio from 'twilio';
import { uniqueCallSid } from '@voice/db';
import { sharedKeys } from '@voice/redis';
import { useE2EContext } from '../support/e2e-context.js';
import { postAsTwilio } from '../support/twilio-http.js';
import { createTestBusiness } from '../support/business.js';
import { scanKeys, timelineEvents } from '../support/redis.js';
import { PUBLIC_BASE_URL, PUBLIC_STREAM_URL, TEST_ACCOUNT_SID } from '../support/env.js';

describe('e2e: refused calls', function () {
  this.timeout(30_000);
  const ctx = useE2EContext();
  beforeEach(async () => {
    await ctx.start();
  });

  it('refuses unsigned and forged webhooks and forged media upgrades without opening a model session', async () => {
    const { knex, redis } = ctx;
    const stack = ctx.stack!;
    const business = await createTestBusiness(knex);
    const callSid = uniqueCallSid();
    const params = { CallSid: callSid, AccountSid: TEST_ACCOUNT_SID, From: '+15551230000', To: business.phoneNumber };
    const wrongToken = twilio.getExpectedTwilioSignature(
      'not-the-auth-token',
      `${PUBLIC_BASE_URL}/twilio/voice`,
      params,
    );
    const unsigned = await postAsTwilio(stack.webhook.port, '/twilio/voice', params, null);
    const forged = await postAsTwilio(stack.webhook.port, '/twilio/voice', params, wrongToken);
    expect(unsigned.status).to.equal(400);
    expect(forged.status).to.equal(403);

    const upgradeStatus = await new Promise<number>((resolve) => {
      const streamUrl = `${PUBLIC_STREAM_URL}/${callSid}`;
      const ws = new WebSocket(`ws://127.0.0.1:${stack.gateways[0]!.port}/ws/twilio-media/${callSid}`, {
        headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature('not-the-auth-token', streamUrl, {}) },
      });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.close();
      });
      ws.on('error', () => undefined);
    });
    expect(upgradeStatus).to.equal(403);

    expect(stack.realtime.totalConnections, 'model connections').to.equal(0);
    expect(await timelineEvents(redis, callSid)).to.deep.equal([]);
    expect(await redis.xlen(sharedKeys(stack.namespace).callClaims), 'claims published').to.equal(0);
    const jobKeys = await scanKeys(redis, `${sharedKeys(stack.namespace).bullPrefix}:*`);
    expect(jobKeys.filter((k) => k.includes(callSid))).to.deep.equal([]);
  });

  it('tells a caller of an unknown number it is not in service and hangs up', async () => {
    const { redis } = ctx;
    const stack = ctx.stack!;
    const call = stack.call('+15550001111');
    const summary = await call.done;
    expect(summary.endedBy).to.equal('twiml-hangup');
    expect(summary.streamUrl).to.equal(undefined);
    expect(summary.spokenByTwilio.map((s) => s.text).join(' ')).to.match(/not in service/);
    expect(await timelineEvents(redis, summary.callSid)).to.deep.equal(['webhook.received', 'webhook.unknown_number']);
    expect(stack.realtime.totalConnections).to.equal(0);
  });
});
