/**
 * The checks `npm run compose:smoke` passes or fails a call on
 * (scripts/compose/smoke-call.ts): a healthy call recorded from a real run
 * passes, and each way a broken stack shows up fails with its own reason, so
 * the smoke test cannot pass on a call that went wrong.
 */
import { expect } from 'chai';
import { DEMO_GREETING } from '@voice/db';
import type { TimelineEntry } from '@voice/redis';
import { checkCall, type HeardSummary, type ModelSide } from '../../scripts/compose/smoke-call.js';

type App = 'webhook' | 'media-gateway' | 'realtime-bridge';

/** The event order of a passing run (warm session: the bridge claims and connects before the stream opens). */
const HEALTHY_CALL: Array<[string, App]> = [
  ['webhook.received', 'webhook'],
  ['prebuild.enqueued', 'webhook'],
  ['prompt.prebuilt', 'webhook'],
  ['bridge.claimed', 'realtime-bridge'],
  ['openai.connecting', 'realtime-bridge'],
  ['ws.accepted', 'media-gateway'],
  ['stream.connected', 'media-gateway'],
  ['openai.connected', 'realtime-bridge'],
  ['session.configured', 'realtime-bridge'],
  ['warm.ready', 'realtime-bridge'],
  ['stream.started', 'media-gateway'],
  ['warm.joined', 'realtime-bridge'],
  ['greeting.first_audio', 'media-gateway'],
  ['caller.speech_started', 'realtime-bridge'],
  ['stream.stopped', 'media-gateway'],
  ['call.ended', 'realtime-bridge'],
  ['call.metrics', 'realtime-bridge'],
];

function timeline(events: Array<[string, App]>): TimelineEntry[] {
  return events.map(([event, app], i) => ({
    id: `${i}-0`,
    event,
    app,
    instance: `${app}-1`,
    ts: 1000 + i,
    fields: {},
  }));
}

const HEARD: HeardSummary = { webhookStatus: 200, firstAudioAtMs: 25, heardAudibleMs: 7840 };
const MODEL: ModelSide = { sessions: 1, firstResponseText: DEMO_GREETING };

describe('compose:smoke call checks', function () {
  it('passes a call that was greeted and went through every service', function () {
    expect(checkCall({ summary: HEARD, timeline: timeline(HEALTHY_CALL) }, MODEL)).to.deep.equal([]);
  });

  it('fails a call whose caller heard nothing', function () {
    const problems = checkCall(
      {
        summary: { webhookStatus: 200, firstAudioAtMs: undefined, heardAudibleMs: 0 },
        timeline: timeline(HEALTHY_CALL),
      },
      MODEL,
    );
    expect(problems).to.include('the caller heard no audio');
    expect(problems.some((p) => p.includes('less than a greeting'))).to.equal(true);
  });

  it('fails a call the webhook refused behind nginx', function () {
    expect(
      checkCall({ summary: { ...HEARD, webhookStatus: 502 }, timeline: timeline(HEALTHY_CALL) }, MODEL),
    ).to.deep.equal(['the webhook answered 502 through nginx']);
  });

  it('fails a call greeted with something other than the business greeting', function () {
    const problems = checkCall(
      { summary: HEARD, timeline: timeline(HEALTHY_CALL) },
      { sessions: 1, firstResponseText: 'Hello, how can I help you today?' },
    );
    expect(problems).to.have.length(1);
    expect(problems[0]).to.include("not the demo business's greeting");
  });

  it('fails a call with an event missing, a fallback, or a service absent from the timeline', function () {
    const noGreeting = HEALTHY_CALL.filter(([e]) => e !== 'greeting.first_audio');
    expect(checkCall({ summary: HEARD, timeline: timeline(noGreeting) }, MODEL)).to.deep.equal([
      'greeting.first_audio is missing from the timeline',
    ]);

    const fellBack = [
      ...HEALTHY_CALL.slice(0, -2),
      ['realtime.fallback', 'realtime-bridge'] as [string, App],
      ...HEALTHY_CALL.slice(-2),
    ];
    expect(checkCall({ summary: HEARD, timeline: timeline(fellBack) }, MODEL)).to.deep.equal([
      'the timeline has realtime.fallback',
    ]);

    const asWebhook = HEALTHY_CALL.map(([e, app]): [string, App] => [e, app === 'media-gateway' ? 'webhook' : app]);
    expect(checkCall({ summary: HEARD, timeline: timeline(asWebhook) }, MODEL)).to.deep.equal([
      'no timeline event from media-gateway',
    ]);
  });

  it('fails a call whose greeting is recorded before its stream started', function () {
    const early = HEALTHY_CALL.filter(([e]) => e !== 'greeting.first_audio');
    early.splice(
      early.findIndex(([e]) => e === 'stream.started'),
      0,
      ['greeting.first_audio', 'media-gateway'],
    );
    expect(checkCall({ summary: HEARD, timeline: timeline(early) }, MODEL)).to.deep.equal([
      'greeting.first_audio comes before stream.started on the timeline',
    ]);
  });

  it('fails a call the model side saw twice', function () {
    expect(checkCall({ summary: HEARD, timeline: timeline(HEALTHY_CALL) }, { ...MODEL, sessions: 2 })).to.deep.equal([
      'the Realtime double saw 2 sessions, expected 1',
    ]);
  });
});
