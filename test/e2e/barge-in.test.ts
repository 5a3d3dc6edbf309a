/**
 * The caller talks over a long reply: Twilio's buffer is cleared and the
 * model's item is truncated at what the caller actually heard.
 */
import { expect } from 'chai';
import { LONG_REPLY_TEXT, waitFor } from '@voice/testkit';
import { FRAME_MS } from '@voice/protocols';
import { BRIDGE_DEFAULTS } from '../../apps/realtime-bridge/src/config.js';
import { useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { timelineEvents } from '../support/redis.js';

describe('e2e: barge-in', function () {
  this.timeout(60_000);
  const ctx = useE2EContext();

  it('clears Twilio and truncates the reply at what the caller heard', async () => {
    const { knex, redis } = ctx;
    const stack = await ctx.start({ realtime: { replies: [LONG_REPLY_TEXT, 'Okay, stopping.'] } });
    const business = await createTestBusiness(knex, { greeting: 'Hi, Test Dental.' });
    const call = stack.call(business.phoneNumber, {
      script: [
        { silenceMs: 4000 },
        { say: 'Tell me about your services.' },
        { silenceMs: 3000 },
        { say: 'Wait, stop please.' },
        { silenceMs: 3000 },
      ],
      hangupWhenScriptEnds: true,
    });
    const summary = await call.done;

    const session = stack.realtime.sessions.find((s) => s.responses.length > 0)!;
    const longReply = session.responses.find((r) => r.text === LONG_REPLY_TEXT)!;
    expect(longReply, 'the long reply').not.to.equal(undefined);
    expect(longReply.status).to.equal('cancelled');
    expect(longReply.statusReason).to.equal('turn_detected');

    // Twilio got a clear, and the truncate names the interrupted item.
    expect(summary.clears.length).to.equal(1);
    const clear = summary.clears[0]!;
    expect(clear.droppedMs, 'queued audio was dropped').to.be.greaterThan(0);
    expect(session.truncates.length).to.equal(1);
    const truncate = session.truncates[0]!;
    expect(truncate.item_id).to.equal(longReply.itemId);

    // What the caller heard of the long reply before the clear, from its own playback record:
    // segments that started playing after the reply's start-of-item mark was reached.
    const replyStartMs = call.marks.find((m) => m.name === `${longReply.itemId}|0`)?.echoedAtMs;
    expect(replyStartMs, 'start-of-reply mark echoed').to.be.a('number');
    const heardOfReply = call
      .heardSegments()
      .filter((s) => s.startMs >= replyStartMs! - FRAME_MS && s.startMs < clear.atMs)
      .reduce((ms, s) => ms + s.bytes.length / 8, 0);
    if (process.env.DEBUG_TIMELINE)
      console.log({
        truncateMs: truncate.audio_end_ms,
        heardOfReply,
        sent: longReply.audioMsSent,
        dropped: clear.droppedMs,
      });
    const tolerance = FRAME_MS + BRIDGE_DEFAULTS.bargeInMarginMs;
    expect(truncate.audio_end_ms, `truncate ${truncate.audio_end_ms} ms vs heard ${heardOfReply} ms`).to.be.closeTo(
      heardOfReply,
      tolerance,
    );
    expect(truncate.audio_end_ms).to.be.lessThan(longReply.audioMsSent);

    await waitFor(async () => (await timelineEvents(redis, summary.callSid)).includes('call.metrics'));
    const events = await timelineEvents(redis, summary.callSid);
    expect(events.filter((e) => e === 'barge_in')).to.have.length(1);
  });
});
