/**
 * Admission, not overload: two bridges that take BRIDGE_MAX_CALLS calls each
 * and more callers than that at once. Every call a bridge has room for is
 * greeted; the rest hear the short busy message and then the spoken TwiML
 * fallback, with NO_CAPACITY on their timeline. No bridge ever holds more
 * than its capacity, and nobody is left in silence.
 */
import { expect } from 'chai';
import { CALL_ROW_RETRY_DELAYS_MS, createCallRepository } from '@voice/db';
import { waitFor } from '@voice/testkit';
import { createTestBusiness } from '../support/business.js';
import { formatTimeline, readTimeline, type TimelineEntry } from '@voice/redis';
import { findEvent, useE2EContext } from '../support/e2e-context.js';
import { refuseCallRow } from '../support/refuse-call-row.js';
import { reportFigure } from '../support/figures.js';
import { callKeysPresent } from '../support/redis.js';
import { scrapeMetric } from '../support/metrics.js';

const CAPACITY = 2;
const BRIDGES = 2;
const EXTRA = 3;

describe('e2e: admission when every bridge is full', function () {
  this.timeout(90_000);
  const ctx = useE2EContext();

  it(`greets ${CAPACITY * BRIDGES} callers and tells the other ${EXTRA} the lines are busy, with NO_CAPACITY on their timelines`, async () => {
    const stack = await ctx.start({ bridges: BRIDGES, bridgeEnv: { BRIDGE_MAX_CALLS: String(CAPACITY) } });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hello, you got through.' });
    const callers = Array.from({ length: CAPACITY * BRIDGES + EXTRA }, () =>
      stack.call(business.phoneNumber, { script: [{ silenceMs: 6000 }], hangupWhenScriptEnds: true }),
    );
    const summaries = await Promise.all(callers.map((c) => c.done));

    const ended = await Promise.all(
      summaries.map(async (summary) => ({ summary, timeline: await endedTimeline(summary.callSid) })),
    );
    const timelines = ended.map((e) => e.timeline);
    const busy = ended.filter((e) => findEvent(e.timeline, 'realtime.fallback')?.fields.reason === 'NO_CAPACITY');
    const greeted = timelines.filter((t) => findEvent(t, 'greeting.first_audio') !== undefined);
    if (process.env.DEBUG_TIMELINE) for (const t of timelines) console.log(formatTimeline(t), '\n');
    expect(greeted, 'greeted calls').to.have.length(CAPACITY * BRIDGES);
    expect(busy, 'busy calls').to.have.length(EXTRA);

    // Nobody sat in silence: every caller heard audio (the agent, or the busy clip then the TwiML fallback).
    for (const s of summaries) expect(s.heardAudibleMs, `${s.callSid} heard something`).to.be.greaterThan(500);
    for (const t of timelines) expect(findEvent(t, 'call.silent_failure'), 'no silent failure').to.equal(undefined);

    const rows = createCallRepository(ctx.knex);
    for (const { summary, timeline } of busy) {
      const { callSid } = summary;
      expect(findEvent(timeline, 'clip.played')?.fields.clip).to.equal('busy');
      expect(findEvent(timeline, 'call.ended')?.fields.end_reason).to.equal('fallback:NO_CAPACITY');
      expect(findEvent(timeline, 'bridge.claimed'), 'no bridge took a busy call').to.equal(undefined);
      expect(
        summary.spokenByTwilio.some((x) => x.phase === 'after-stream'),
        'the TwiML fallback ran',
      ).to.equal(true);
      expect((await rows.findByCallSid(callSid))?.status).to.equal('failed');
      expect(await callKeysPresent(ctx.redis, callSid), 'only the timeline is left').to.deep.equal([
        `call:{${callSid}}:timeline`,
      ]);
      const started = findEvent(timeline, 'stream.started')!.ts;
      reportFigure(
        'NO_CAPACITY: ms from START to the busy clip sent',
        findEvent(timeline, 'clip.played')!.ts - started,
      );
    }

    // Each bridge took at most its capacity.
    const owners = greeted.map((t) => findEvent(t, 'bridge.claimed')!.instance);
    for (const bridge of new Set(owners))
      expect(owners.filter((o) => o === bridge).length, `${bridge} calls`).to.be.at.most(CAPACITY);
    expect(await scrapeMetric(stack.gateways[0]!.port, 'gateway_no_capacity_total')).to.equal(EXTRA);
  });

  describe("a busy call's row, which the gateway writes, when Postgres refuses it at first", () => {
    /** Refuses the busy call's end (status failed) until the returned function is called. */
    const refuseFailedStatus = (callSid: string) =>
      refuseCallRow(ctx.knex, callSid, 'refuse_busy', "status <> 'failed'");

    /** One bridge with room for one call, taken by a first caller: the second is busy. */
    async function busySecondCall() {
      const stack = await ctx.start({ bridgeEnv: { BRIDGE_MAX_CALLS: '1' } });
      const business = await createTestBusiness(ctx.knex, { greeting: 'Hello, you got through.' });
      const first = stack.call(business.phoneNumber, { script: [{ silenceMs: 15_000 }], hangupWhenScriptEnds: true });
      await waitFor(async () => !!findEvent(await readTimeline(ctx.redis, first.callSid), 'greeting.first_audio'), {
        timeoutMs: 20_000,
        message: 'the first caller greeted',
      });
      const busy = stack.call(business.phoneNumber, { script: [{ silenceMs: 4000 }], hangupWhenScriptEnds: true });
      return { stack, busy, gatewayPort: stack.gateways[0]!.port };
    }

    it('writes it again once Postgres takes it', async () => {
      const { busy, gatewayPort } = await busySecondCall();
      const allow = await refuseFailedStatus(busy.callSid);
      try {
        await waitFor(async () => (await scrapeMetric(gatewayPort, 'gateway_call_record_retries_total')) >= 1, {
          timeoutMs: 30_000,
          message: 'the gateway retrying the refused row',
        });
      } finally {
        await allow();
      }
      await busy.done;
      const rows = createCallRepository(ctx.knex);
      await waitFor(async () => (await rows.findByCallSid(busy.callSid))?.status === 'failed', {
        timeoutMs: 10_000,
        message: 'the busy call row written',
      });
      expect((await rows.findByCallSid(busy.callSid))?.endReason).to.equal('fallback:NO_CAPACITY');
      expect(findEvent(await readTimeline(ctx.redis, busy.callSid), 'call.record_failed')).to.equal(undefined);
      expect(await scrapeMetric(gatewayPort, 'gateway_call_record_failures_total')).to.equal(0);
    });

    it('says so on the timeline and counts it when every retry is refused', async () => {
      const { busy, gatewayPort } = await busySecondCall();
      const allow = await refuseFailedStatus(busy.callSid);
      try {
        await busy.done;
        await waitFor(async () => (await scrapeMetric(gatewayPort, 'gateway_call_record_failures_total')) === 1, {
          timeoutMs: 30_000,
          message: 'the gateway giving up on the row',
        });
      } finally {
        await allow();
      }
      const failed = findEvent(await readTimeline(ctx.redis, busy.callSid), 'call.record_failed');
      expect(failed?.app).to.equal('media-gateway');
      expect(failed?.fields.attempts).to.equal(String(CALL_ROW_RETRY_DELAYS_MS.length + 1));
      expect(failed?.fields.error).to.match(/refuse_busy_/);
      expect((await createCallRepository(ctx.knex).findByCallSid(busy.callSid))?.status).not.to.equal('failed');
    });
  });

  /** A busy call is finished by the gateway (call.ended), a greeted one by its bridge (call.metrics last). */
  async function endedTimeline(callSid: string): Promise<TimelineEntry[]> {
    let timeline: TimelineEntry[] = [];
    await waitFor(
      async () => {
        timeline = await readTimeline(ctx.redis, callSid);
        const names = timeline.map((e) => e.event);
        return names.includes('call.ended') && (names.includes('call.metrics') || names.includes('realtime.fallback'));
      },
      { timeoutMs: 30_000, message: `end of ${callSid}` },
    );
    return timeline;
  }
});
