/**
 * The on-call CLI's reading of a call, on timelines and rows shaped like the
 * ones the services write: argument parsing, how a call failed and where,
 * stage durations, a live call's state. (The commands themselves run against
 * real calls in test/e2e/calls-cli.test.ts.)
 */
import { expect } from 'chai';
import type { Call } from '@voice/db';
import type { TimelineEntry } from '@voice/redis';
import { parseCommand } from '../../scripts/calls/args.js';
import { UsageError } from '../../scripts/calls/errors.js';
import { failureOf } from '../../scripts/calls/failure.js';
import { liveStateOf } from '../../scripts/calls/live-state.js';
import { stagesOf } from '../../scripts/calls/stages.js';
import { scrub, secretsOf } from '../../scripts/calls/errors.js';

const SID = `CA${'a'.repeat(32)}`;
const NOW = Date.parse('2026-12-06T12:00:00Z');

/** A timeline from `[ms since the first event, event, fields]`. */
function timeline(...events: Array<[number, string, Record<string, string>?]>): TimelineEntry[] {
  return events.map(([ms, event, fields = {}], i) => ({
    id: `${NOW + ms}-${i}`,
    event,
    app: 'test',
    instance: 't-1',
    ts: NOW + ms,
    fields,
  }));
}

function row(overrides: Partial<Call> = {}): Call {
  return {
    callSid: SID,
    businessId: null,
    direction: 'inbound',
    from: '+15550000001',
    to: '+15550000002',
    status: 'completed',
    receivedAt: new Date(NOW),
    streamStartedAt: new Date(NOW + 1000),
    endedAt: new Date(NOW + 9000),
    endReason: 'twilio_stop',
    rxFrames: 400,
    txFrames: 100,
    isGhost: false,
    silentFailure: false,
    promptPath: 'fast',
    openaiConnectMs: 40,
    firstGreetingAudioMs: 20,
    metrics: {},
    gatewayInstance: 'gw-1',
    bridgeInstance: 'br-1',
    answeredBy: null,
    usage: {
      input_tokens: 0,
      output_tokens: 0,
      input_text_tokens: 0,
      input_audio_tokens: 0,
      input_cached_tokens: 0,
      input_cached_text_tokens: 0,
      input_cached_audio_tokens: 0,
      output_text_tokens: 0,
      output_audio_tokens: 0,
      responses: 0,
    },
    costUsd: null,
    transcript: null,
    createdAt: new Date(NOW),
    updatedAt: new Date(NOW),
    ...overrides,
  };
}

const usageError = (argv: string[]) => expect(() => parseCommand(argv, NOW)).to.throw(UsageError);

describe('calls CLI: arguments', () => {
  it('reads times as durations back from now or as ISO times, and phone numbers as people type them', () => {
    expect(parseCommand(['failed', '--since', '90m'], NOW)).to.deep.include({ since: new Date(NOW - 90 * 60_000) });
    expect(parseCommand(['failed'], NOW)).to.deep.include({ since: new Date(NOW - 3600_000), limit: 50 });
    const find = parseCommand(
      ['find', '--number', '+1 (555) 000-0001', '--since', '2026-12-06T10:00Z', '--until', '30m'],
      NOW,
    );
    expect(find).to.deep.include({
      number: '+15550000001',
      since: new Date('2026-12-06T10:00Z'),
      until: new Date(NOW - 30 * 60_000),
    });
    expect(
      parseCommand(
        ['tail', '--call', SID, '--event', 'stream.started,call.ended', '--event', 'barge_in', '--for', '5s'],
        NOW,
      ),
    ).to.deep.include({
      callSids: [SID],
      events: ['stream.started', 'call.ended', 'barge_in'],
      forMs: 5000,
    });
    expect(parseCommand(['show', SID, '--json'], NOW)).to.deep.equal({ name: 'show', json: true, callSid: SID });
  });

  it('refuses what it does not understand', () => {
    usageError([]);
    usageError(['timeline', SID]);
    usageError(['show']);
    usageError(['show', 'CA12']);
    usageError(['show', SID, SID]);
    usageError(['live', '--number', '+15550000001']);
    usageError(['failed', '--since', 'an hour']);
    usageError(['failed', '--limit', '0']);
    usageError(['find']);
    usageError(['find', '--number', '5550000001']);
    usageError(['tail', '--event', 'call.endd']);
    usageError(['tail', '--for', 'forever']);
    usageError(['live', '--verbose']);
  });
});

describe('calls CLI: how a call failed and at which step', () => {
  it('a call that went well has no failure, even with trouble on its way (a bridge lost, the call moved)', () => {
    const t = timeline(
      [0, 'webhook.received'],
      [900, 'stream.started'],
      [950, 'greeting.first_audio'],
      [3000, 'call.orphaned'],
      [3100, 'link.attached'],
      [9000, 'call.ended', { end_reason: 'twilio_stop' }],
    );
    expect(failureOf(row(), t)).to.equal(undefined);
  });

  it('a fallback: the first trouble is the failing step, the fallback reason is the reason', () => {
    const t = timeline(
      [0, 'webhook.received'],
      [20, 'openai.connecting'],
      [800, 'openai.failed', { reason: 'OPENAI_REFUSED' }],
      [801, 'realtime.fallback', { reason: 'OPENAI_REFUSED' }],
      [3000, 'call.ended', { end_reason: 'fallback:OPENAI_REFUSED' }],
    );
    const failure = failureOf(row({ status: 'failed', endReason: 'fallback:OPENAI_REFUSED' }), t)!;
    expect(failure).to.deep.include({ kind: 'fallback', reason: 'OPENAI_REFUSED' });
    expect(failure.step?.event).to.equal('openai.failed');
  });

  it('a silent failure, from the timeline alone when the row is missing', () => {
    const t = timeline(
      [0, 'stream.started'],
      [7000, 'call.ended', { end_reason: 'twilio_stop' }],
      [7001, 'call.silent_failure', { reason: 'no_model_audio' }],
    );
    const failure = failureOf(null, t)!;
    expect(failure).to.deep.include({ kind: 'silent_failure', reason: 'no_model_audio' });
    expect(failure.step?.event).to.equal('call.silent_failure');
  });

  it('a call that never started: the no-start event is the step, whatever else went wrong meanwhile', () => {
    const t = timeline(
      [0, 'webhook.received'],
      [300, 'openai.failed', { reason: 'OPENAI_AUTH' }],
      [15_000, 'stream.never_started'],
      [15_001, 'call.ended', { end_reason: 'no_stream' }],
    );
    const failure = failureOf(row({ status: 'failed', endReason: 'no_stream', streamStartedAt: null }), t)!;
    expect(failure).to.deep.include({ kind: 'never_started', reason: 'no_stream' });
    expect(failure.step?.event).to.equal('stream.never_started');
  });

  it('a call cut by a fault, and a failed row whose timeline expired', () => {
    const t = timeline(
      [0, 'stream.started'],
      [4000, 'link.detached', { gateway: 'gw-1' }],
      [9000, 'call.ended', { end_reason: 'gateway_lost' }],
    );
    const cut = failureOf(row({ endReason: 'gateway_lost' }), t)!;
    expect(cut).to.deep.include({ kind: 'fault', reason: 'gateway_lost' });
    expect(cut.step?.event).to.equal('link.detached');
    expect(failureOf(row({ status: 'failed', endReason: 'fallback:NO_CAPACITY' }), [])).to.deep.equal({
      kind: 'fallback',
      reason: 'NO_CAPACITY',
      step: undefined,
    });
  });
});

describe('calls CLI: stage durations', () => {
  it('measures each stage, says a warm claim came before START, and names what stopped a stage', () => {
    const t = timeline(
      [0, 'webhook.received'],
      [30, 'bridge.claimed'],
      [35, 'openai.connecting'],
      [900, 'openai.failed', { reason: 'OPENAI_CONNECT_TIMEOUT' }],
      [1200, 'stream.started'],
      [1210, 'realtime.fallback', { reason: 'OPENAI_CONNECT_TIMEOUT' }],
      [5200, 'call.ended', { duration_ms: '4000' }],
    );
    const stages = Object.fromEntries(stagesOf(t).map((s) => [s.stage, s]));
    expect(stages.webhook_to_start).to.include({ ms: 1200, failed: false });
    expect(stages.start_to_claimed).to.include({ ms: -1170, note: 'claimed before START (warm session)' });
    expect(stages.connect).to.include({
      ms: null,
      failed: true,
      note: 'stopped by openai.failed reason=OPENAI_CONNECT_TIMEOUT after 865 ms',
    });
    expect(stages.configure).to.include({ ms: null, failed: false, note: 'no openai.connected' });
    expect(stages.first_greeting_audio).to.include({ ms: null, failed: true });
    expect(stages.call_duration).to.include({ ms: 4000 });
  });
});

describe('calls CLI: the state of a live call', () => {
  it('follows the call from ringing to talking, through a move, to its end', () => {
    const steps: Array<[string, string]> = [
      ['webhook.received', 'ringing'],
      ['ws.accepted', 'connecting'],
      ['stream.started', 'starting'],
      ['greeting.first_audio', 'talking'],
      ['call.orphaned', 'on_hold'],
      ['link.attached', 'talking'],
      ['stream.stopped', 'ending'],
    ];
    const events: Array<[number, string]> = [];
    for (const [event, state] of steps) {
      events.push([events.length * 100, event]);
      expect(liveStateOf(timeline(...events)), `after ${event}`).to.equal(state);
    }
  });

  it('stays in fallback once the caller is being sent there', () => {
    expect(
      liveStateOf(
        timeline([0, 'stream.started'], [500, 'realtime.fallback'], [600, 'clip.played'], [700, 'link.attached']),
      ),
    ).to.equal('fallback');
  });
});

describe('calls CLI: secrets in error lines', () => {
  it('blanks URL credentials and the passwords of the URLs it was given', () => {
    const secrets = secretsOf(['postgres://app:p%40ss@db:5432/voice', 'redis://default:r3dis@cache:6379', undefined]);
    expect(scrub('connect to postgres://app:p%40ss@db:5432/voice failed: auth p@ss r3dis', secrets)).to.equal(
      'connect to postgres://app:***@db:5432/voice failed: auth *** ***',
    );
  });
});
