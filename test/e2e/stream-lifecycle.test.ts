/**
 * The media socket's life before START, through the whole stack at the
 * gateway's default thresholds (warn at 2.5 s, give up at 5 s): a slow START
 * is still a normal call, a socket that never says anything and belongs to no
 * call is a ghost (noted, not an error), and a real call whose stream never
 * starts is a failed call whose caller still hears the TwiML fallback.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { createCallRepository } from '@voice/db';
import { TWILIO_MEDIA_SUBPROTOCOL } from '@voice/protocols';
import { readTimeline, sharedKeys } from '@voice/redis';
import { TWILIO_SIGNATURE_HEADER, signStreamUpgrade, waitFor } from '@voice/testkit';
import type { TwilioCallerDouble } from '@voice/testkit';
import { DEFAULTS as GATEWAY_DEFAULTS, MEDIA_PATH } from '../../apps/media-gateway/src/config.js';
import { scrapeMetric } from '../support/metrics.js';
import { useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { PUBLIC_STREAM_URL, TEST_AUTH_TOKEN } from '../support/env.js';
import { callKeysPresent, timelineEvents } from '../support/redis.js';
import { expectSubsequence } from '../support/assertions.js';
import { refuseCallRow } from '../support/refuse-call-row.js';

/** Twilio's own delay before START is a few ms; this one is slow, yet under the warn threshold. */
const SLOW_START_MS = 1800;
/** Enough of the greeting to know the caller heard the agent. */
const HEARD_GREETING_MS = 300;
const SILENT_CALLER = [{ silenceMs: 10_000 }];
/** The watchdog's decisions land within this of their threshold (timers, Redis, Postgres). */
const THRESHOLD_SLACK_MS = 1500;

describe('e2e: the media stream before START', function () {
  this.timeout(30_000);
  const ctx = useE2EContext();

  const gatewayMetric = (name: string, labels: Record<string, string> = {}) =>
    scrapeMetric(ctx.stack!.gateways[0]!.port, name, labels);

  async function heardGreeting(call: TwilioCallerDouble): Promise<void> {
    await waitFor(() => call.heardAudibleMs() >= HEARD_GREETING_MS, {
      timeoutMs: 10_000,
      message: 'the greeting heard',
    });
  }

  it('treats a START that comes 1.8 s after the socket opened as a normal call', async () => {
    const { knex, redis } = ctx;
    const stack = await ctx.start();
    const business = await createTestBusiness(knex);
    // The caller stays silent so nothing interrupts the greeting.
    const call = stack.call(business.phoneNumber, { startDelayMs: SLOW_START_MS, script: SILENT_CALLER });
    await heardGreeting(call);
    const summary = await call.hangup();

    expect(summary.firstAudioAtMs, 'first audible audio after START').to.be.a('number');
    expect(summary.heardAudibleMs).to.be.greaterThan(0);
    await waitFor(async () => (await timelineEvents(redis, summary.callSid)).includes('call.ended'), {
      message: 'call.ended',
    });
    const timeline = await readTimeline(redis, summary.callSid);
    const events = timeline.map((e) => e.event);
    expectSubsequence(events, [
      'ws.accepted',
      'stream.connected',
      'stream.started',
      'greeting.first_audio',
      'call.ended',
    ]);
    expect(events).not.to.include('stream.start_slow');
    expect(events).not.to.include('stream.no_start');
    const started = timeline.find((e) => e.event === 'stream.started')!;
    expect(Number(started.fields.since_accept_ms)).to.be.at.least(SLOW_START_MS - 50);
    expect(timeline.find((e) => e.event === 'call.ended')!.fields.end_reason).to.equal('twilio_stop');
    expect(await gatewayMetric('gateway_stream_no_start_total')).to.equal(0);
  });

  it("a Postgres refusal at START does not get a live call ended by the webhook's stream watchdog", async () => {
    const { knex } = ctx;
    const stack = await ctx.start({ env: { STREAM_WATCHDOG_MS: '4000', STREAM_WATCHDOG_SWEEP_MS: '200' } });
    const business = await createTestBusiness(knex);
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 9000 }], hangupWhenScriptEnds: true });
    // A real refusal of this call's START stamp.
    const allow = await refuseCallRow(knex, call.callSid, 'refuse_start', 'stream_started_at IS NULL');
    try {
      await waitFor(() => call.startSentCallMs !== undefined, { timeoutMs: 20_000, message: 'START sent' });
      await new Promise((resolve) => setTimeout(resolve, 1200));
    } finally {
      await allow();
    }
    const summary = await call.done;
    const events = await timelineEvents(ctx.redis, summary.callSid);
    expect(events, 'the live call was not taken for one whose stream never started').not.to.include(
      'stream.never_started',
    );
    const row = await createCallRepository(knex).findByCallSid(summary.callSid);
    expect(row?.streamStartedAt).to.be.instanceOf(Date);
    await waitFor(
      async () => (await createCallRepository(knex).findByCallSid(summary.callSid))?.status === 'completed',
      {
        timeoutMs: 20_000,
        message: 'the call row completed',
      },
    );
  });

  it('records a socket with no CallSid that never sends anything as a ghost, never a failed call', async () => {
    const { redis } = ctx;
    const stack = await ctx.start();
    const port = stack.gateways[0]!.port;
    const preflight = await openSignedSocket(port);
    const lingering = await openSignedSocket(port);
    // A preflight-style socket that goes away by itself, and one the gateway must give up on.
    preflight.close(1000);
    const [gaveUp] = await Promise.all([closeOf(lingering), closeOf(preflight)]);
    expect(gaveUp.code).to.equal(1000);
    expect(gaveUp.afterMs).to.be.within(
      GATEWAY_DEFAULTS.startTimeoutMs - 50,
      GATEWAY_DEFAULTS.startTimeoutMs + THRESHOLD_SLACK_MS,
    );

    const ghostsKey = sharedKeys(stack.namespace).ghosts;
    await waitFor(async () => (await redis.xlen(ghostsKey)) === 2, { message: 'two ghost entries' });
    const ghosts = (await redis.xrange(ghostsKey, '-', '+')).map(([, fields]) => fieldsOf(fields));
    expect(ghosts.map((g) => g.reason).sort()).to.deep.equal(['closed_before_start', 'start_timeout']);
    for (const ghost of ghosts) {
      expect(ghost).to.include({ event: 'ws.ghost', instance: 'gw-1' });
      expect(ghost).not.to.have.property('call_sid');
    }
    expect(await gatewayMetric('gateway_ghost_sockets_total')).to.equal(2);
    expect(await gatewayMetric('gateway_stream_no_start_total')).to.equal(0);
    expect(await gatewayMetric('gateway_open_sockets')).to.equal(0);
    expect(await redis.xlen(sharedKeys(stack.namespace).callClaims), 'claims published').to.equal(0);
    expect(stack.realtime.totalConnections, 'model connections').to.equal(0);
  });

  it('fails a real call whose stream sends connected but never START, and the caller hears the fallback', async () => {
    const { knex, redis } = ctx;
    // Without warm sessions (a model session opened while the phone rings, before any socket):
    // this is about the gateway's side, where a stream that never starts must not reach the model.
    const stack = await ctx.start({ bridgeEnv: { WARM_SESSIONS_ENABLED: 'false' } });
    const business = await createTestBusiness(knex);
    const call = stack.call(business.phoneNumber, { noStart: true });
    const summary = await call.done;
    const callSid = summary.callSid;

    // The gateway closed the socket normally, so Twilio ran the TwiML after </Connect>.
    expect(summary.streamEndedBy).to.equal('app');
    expect(summary.closeCode).to.equal(1000);
    const fallback = summary.spokenByTwilio.filter((s) => s.phase === 'after-stream');
    expect(fallback.map((s) => s.verb)).to.deep.equal(['Say']);
    expect(fallback[0]!.text).to.be.a('string').and.not.equal('');
    expect(summary.endedBy).to.equal('twiml-hangup');

    await waitFor(async () => (await timelineEvents(redis, callSid)).includes('call.ended'), { message: 'call.ended' });
    const timeline = await readTimeline(redis, callSid);
    expectSubsequence(
      timeline.map((e) => e.event),
      ['webhook.received', 'ws.accepted', 'stream.connected', 'stream.start_slow', 'stream.no_start', 'call.ended'],
    );
    expect(timeline.map((e) => e.event)).not.to.include('stream.started');
    const slow = timeline.find((e) => e.event === 'stream.start_slow')!;
    const noStart = timeline.find((e) => e.event === 'stream.no_start')!;
    const accepted = timeline.find((e) => e.event === 'ws.accepted')!;
    expect(Number(slow.fields.waited_ms)).to.equal(GATEWAY_DEFAULTS.startWarnMs);
    expect(slow.ts - accepted.ts).to.be.within(
      GATEWAY_DEFAULTS.startWarnMs - 50,
      GATEWAY_DEFAULTS.startWarnMs + THRESHOLD_SLACK_MS,
    );
    expect(noStart.fields.reason).to.equal('start_timeout');
    expect(noStart.ts - accepted.ts).to.be.within(
      GATEWAY_DEFAULTS.startTimeoutMs - 50,
      GATEWAY_DEFAULTS.startTimeoutMs + THRESHOLD_SLACK_MS,
    );
    expect(timeline.find((e) => e.event === 'call.ended')!.fields).to.include({
      end_reason: 'no_start',
      is_ghost: 'false',
    });

    const calls = createCallRepository(knex);
    await waitFor(async () => (await calls.findByCallSid(callSid))?.status !== 'received', {
      message: 'the calls row updated',
    });
    const row = await calls.findByCallSid(callSid);
    expect(row).to.include({ status: 'failed', endReason: 'no_start', isGhost: false });
    expect(stack.realtime.totalConnections, 'model connections').to.equal(0);
    expect(await gatewayMetric('gateway_stream_no_start_total', { known_call: 'true' })).to.equal(1);
    expect(await gatewayMetric('gateway_ghost_sockets_total')).to.equal(0);
    // Nothing of the call is left but its timeline.
    await waitFor(async () => (await callKeysPresent(redis, callSid)).length === 1, {
      message: 'per-call keys cleaned up',
    });
    expect(await callKeysPresent(redis, callSid)).to.deep.equal([`call:{${callSid}}:timeline`]);
  });
});

/** A media upgrade signed as Twilio signs it, to the bare stream path (no CallSid). */
async function openSignedSocket(port: number): Promise<WebSocket & { openedAt: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${MEDIA_PATH}`, [TWILIO_MEDIA_SUBPROTOCOL], {
    headers: { [TWILIO_SIGNATURE_HEADER]: signStreamUpgrade(TEST_AUTH_TOKEN, PUBLIC_STREAM_URL) },
  });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return Object.assign(ws, { openedAt: Date.now() });
}

function closeOf(ws: WebSocket & { openedAt: number }): Promise<{ code: number; afterMs: number }> {
  return new Promise((resolve) => ws.once('close', (code) => resolve({ code, afterMs: Date.now() - ws.openedAt })));
}

function fieldsOf(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

/** Sum of a metric's samples in the gateway's /metrics text whose labels include `labels`. */
