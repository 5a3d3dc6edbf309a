/**
 * A bridge process killed with SIGKILL (a crashed pod), before START while
 * holding a warm session, and in the middle of a call. Either way another
 * bridge takes the call over and the caller hears the agent again.
 */
import { expect } from 'chai';
import { BYTES_PER_MS } from '@voice/protocols';
import { formatTimeline, readTimeline } from '@voice/redis';
import {
  DEFAULT_BEHAVIOUR,
  RealtimeDouble,
  freePort,
  placeCall,
  startProcessStack,
  startServiceProcess,
  waitFor,
  type PlaceCallOptions,
  type ProcessStack,
  type ServiceProcess,
} from '@voice/testkit';
import { createTestBusiness } from '../support/business.js';
import { eventNames, finishedTimeline, findEvent, useE2EContext } from '../support/e2e-context.js';
import { reportFigure } from '../support/figures.js';
import { longestSilence, msSinceStart } from '../support/heard.js';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from '../support/env.js';

/** Registry reports every 0.3 s (stale after ~0.9 s); a dead link is noticed by its pings within a second anyway. */
const FAST_FAILOVER = { HEARTBEAT_MS: '300' };

describe('e2e: bridge failover', function () {
  this.timeout(90_000);
  const ctx = useE2EContext();
  let realtime: RealtimeDouble;
  let processes: ProcessStack | undefined;
  let extraBridge: ServiceProcess | undefined;
  let env: Record<string, string | undefined>;
  let namespace: string;

  before(async () => {
    realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY });
    await realtime.start();
  });
  beforeEach(() => {
    namespace = uniqueNamespace();
    env = {
      ...baseTestEnv(namespace),
      ...FAST_FAILOVER,
      LOG_LEVEL: 'warn',
      OPENAI_BASE_URL: realtime.baseURL,
      OPENAI_API_KEY: TEST_OPENAI_KEY,
      NODE_EXTRA_CA_CERTS: realtime.certPath,
    };
  });
  afterEach(async () => {
    await extraBridge?.stop();
    await processes?.stop();
    extraBridge = undefined;
    processes = undefined;
  });
  after(async () => {
    await realtime.stop();
  });

  async function startSystem(bridges: number, extraEnv: Record<string, string> = {}): Promise<ProcessStack> {
    env = { ...env, ...extraEnv };
    processes = await startProcessStack({
      env,
      bridges,
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY },
    });
    return processes;
  }

  async function call(running: ProcessStack, greeting: string, options: Partial<PlaceCallOptions>) {
    const business = await createTestBusiness(ctx.knex, { greeting });
    return placeCall({
      webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
      publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
      authToken: TEST_AUTH_TOKEN,
      accountSid: TEST_ACCOUNT_SID,
      to: business.phoneNumber,
      resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[0]}${new URL(url).pathname}`,
      hangupWhenScriptEnds: true,
      ...options,
    });
  }

  async function startAnotherBridge(): Promise<void> {
    const [port, linkPort] = [await freePort(), await freePort()];
    extraBridge = await startServiceProcess({
      name: 'realtime-bridge',
      label: 'bridge-2',
      env: {
        ...env,
        BRIDGE_PORT: String(port),
        MEDIA_LINK_PORT: String(linkPort),
        MEDIA_LINK_HOST: '127.0.0.1',
        INSTANCE_ID: 'bridge-2',
      },
      readyPort: port,
    });
  }

  it('a warm bridge dies before START: a cold session on another bridge, with one greeting', async () => {
    // START only once the warm bridge is dead and another one is up (a process start can take
    // seconds on a loaded machine: a fixed START delay raced it), hence the longer START timeout.
    const running = await startSystem(1, { START_TIMEOUT_MS: '30000' });
    let replaced!: () => void;
    const bridgeReplaced = new Promise<void>((resolve) => (replaced = resolve));
    const caller = await call(running, 'Hi, second bridge here.', {
      startWhen: () => bridgeReplaced,
      script: [{ silenceMs: 4000 }],
    });
    await waitFor(async () => eventNames(await readTimeline(ctx.redis, caller.callSid)).includes('warm.ready'), {
      timeoutMs: 20_000,
      message: 'warm.ready',
    });
    await running.byRole('realtime-bridge')[0]!.kill('SIGKILL');
    await startAnotherBridge();
    replaced();

    const summary = await caller.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    const claims = timeline.filter((e) => e.event === 'bridge.claimed');
    expect(claims.map((c) => c.instance)).to.deep.equal(['bridge-1', 'bridge-2']);
    expect(claims[1]!.fields.takeover_from).to.equal('bridge-1');
    expect(findEvent(timeline, 'call.metrics')?.fields.greeting_path).to.equal('cold');
    expect(summary.heardAudibleMs).to.be.greaterThan(500);
    const greetingsHeard = caller.marks.filter((m) => m.name.endsWith('|0') && m.played).length;
    expect(greetingsHeard, 'one greeting item played').to.equal(1);
  });

  it('a bridge dies mid-call: the gateway notices its link is gone, another bridge takes the call, the caller hears the agent again', async () => {
    const running = await startSystem(1);
    const caller = await call(running, 'Hello from the first bridge.', { script: [{ silenceMs: 12_000 }] });
    await waitFor(async () => (caller.firstAudioAtMs ?? 0) > 0 && caller.heardAudibleMs() > 1000, {
      timeoutMs: 15_000,
      message: 'greeting heard',
    });
    await startAnotherBridge();
    const killedAtMs = caller.heardSegments().reduce((end, s) => Math.max(end, s.startMs + s.bytes.length / 8), 0);
    const killAt = msSinceStart(caller);
    await running.byRole('realtime-bridge')[0]!.kill('SIGKILL');

    const summary = await caller.done;
    if (process.env.DEBUG_TIMELINE) {
      await new Promise((r) => setTimeout(r, 3000));
      console.log(formatTimeline(await readTimeline(ctx.redis, summary.callSid)));
    }
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    expect(eventNames(timeline)).to.include('call.orphaned');
    expect(findEvent(timeline, 'call.orphaned')?.fields.previous_owner).to.equal('bridge-1');
    const claims = timeline.filter((e) => e.event === 'bridge.claimed');
    expect(claims.map((c) => c.instance)).to.deep.equal(['bridge-1', 'bridge-2']);
    expect(findEvent(timeline, 'call.ended')?.instance).to.equal('bridge-2');
    expect(findEvent(timeline, 'call.ended')?.fields.end_reason).to.equal('twilio_stop');

    // After the kill the caller heard the hold clip; the new session was given the greeting and did not greet again.
    const heardAfter = caller.heardSegments().filter((s) => s.startMs >= killedAtMs);
    expect(heardAfter.length, 'audio after the failover').to.be.greaterThan(0);
    const greeted = realtime.sessions.filter((s) => s.responses.some((r) => r.text === 'Hello from the first bridge.'));
    expect(greeted.length, 'one greeting').to.equal(1);
    const resumed = realtime.sessions.filter((s) =>
      s.createdItems.some((i) => i.role === 'assistant' && i.text === 'Hello from the first bridge.'),
    );
    expect(resumed.length, 'a second session resumed the call').to.equal(1);
    expect(resumed[0]!.responses, 'the agent had answered: nothing to ask again').to.deep.equal([]);
    // Audio again soon after the kill (the line was quiet: the hold clip is what the caller hears first).
    const audioAgainMs =
      Math.min(...heardAfter.filter((seg) => seg.startMs >= killAt).map((seg) => seg.startMs)) - killAt;
    expect(audioAgainMs, 'ms from the kill to audio again').to.be.lessThan(3000);
    reportFigure('bridge SIGKILL mid-call, quiet line: kill to audio again (hold clip)', audioAgainMs);
    const resumedEntry = findEvent(timeline, 'call.resumed');
    expect(resumedEntry?.fields).to.include({ from: 'bridge-1', to: 'bridge-2', reply: 'none', planned: 'false' });
    // The resumed session had nothing to say: its hold off ended the gateway's hold loop (no clip after the resume).
    const holdsAfterResume = timeline.filter(
      (e) => e.event === 'clip.played' && e.fields.clip === 'hold' && e.ts > resumedEntry!.ts,
    );
    expect(holdsAfterResume, 'hold clips after the resume').to.deep.equal([]);
    const orphanedAt = findEvent(timeline, 'call.orphaned')!.ts;
    const killedAt = findEvent(timeline, 'stream.started')!.ts + killedAtMs;
    reportFigure('mid-call failover: ms from last audio before the kill to call.orphaned', orphanedAt - killedAt);
  });

  it('the bridge dies mid-reply: another bridge resumes the conversation, asks for the cut reply again, and never greets twice', async () => {
    const greeting = 'Hi, how can I help?';
    const said = 'I would like to book a table for two tonight.';
    const reply =
      'Of course. Let me look at what we have free this evening for two people, one moment while I check the book.';
    // Real-time deltas: the reply is still being generated when the bridge dies.
    realtime.setBehaviour({ inputTranscripts: [said], replies: [reply], realtimeFactor: 1 });
    const earlierSessions = realtime.sessions.length;
    const sessions = () => realtime.sessions.slice(earlierSessions);
    try {
      const running = await startSystem(2);
      const caller = await call(running, greeting, {
        script: [{ silenceMs: 3500 }, { say: 'I would like to book a table for two tonight.' }, { silenceMs: 14_000 }],
      });
      const replying = () =>
        sessions().find((s) =>
          s.responses.some((r) => r.text === reply && r.firstAudioAtMs !== undefined && r.status === 'in_progress'),
        );
      await waitFor(() => replying() !== undefined, { timeoutMs: 20_000, message: 'the reply is being spoken' });
      const first = replying()!;
      const owner = findEvent(await readTimeline(ctx.redis, caller.callSid), 'bridge.claimed')!.instance;
      const survivor = owner === 'bridge-1' ? 'bridge-2' : 'bridge-1';
      const killedAt = msSinceStart(caller);
      await running
        .byRole('realtime-bridge')
        .find((p) => p.label === owner)!
        .kill('SIGKILL');

      const summary = await caller.done;
      const timeline = await finishedTimeline(ctx.redis, summary.callSid);
      const resumed = findEvent(timeline, 'call.resumed');
      expect(resumed?.fields, 'call.resumed').to.include({
        from: owner,
        to: survivor,
        reply: 'reasked',
        planned: 'false',
      });
      expect(Number(resumed!.fields.items), 'items replayed').to.be.at.least(2);
      expect(findEvent(timeline, 'call.ended')?.instance).to.equal(survivor);

      // The new session was given what was said before (the greeting and the caller's words), and greeted nobody.
      const second = sessions().find((s) => s !== first && s.createdItems.length > 0)!;
      expect(second, 'a resumed session').to.not.equal(undefined);
      expect(second.createdItems.map((i) => `${i.role}: ${i.text}`)).to.include.members([
        `assistant: ${greeting}`,
        `user: ${said}`,
      ]);
      const allResponses = sessions().flatMap((s) => s.responses);
      expect(allResponses.filter((r) => r.text === greeting).length, 'one greeting').to.equal(1);
      // The reply the death cut was asked for again, once, and the caller heard it.
      expect(second.responses.map((r) => [r.trigger, r.text])).to.deep.equal([['client', reply]]);
      expect(second.responses[0]!.status).to.equal('completed');
      const reaskedAt = findEvent(timeline, 'call.resumed')!.ts - findEvent(timeline, 'stream.started')!.ts;
      const heardAfterResume = caller
        .heardSegments()
        .filter((s) => s.startMs >= reaskedAt)
        .reduce((ms, s) => ms + s.bytes.length / BYTES_PER_MS, 0);
      expect(heardAfterResume, 'ms heard after the resume').to.be.greaterThan(2000);

      // Never silent for long: hold audio (then the reply) follows the kill.
      const silence = longestSilence(caller.heardSegments(), killedAt, reaskedAt + 500);
      expect(silence, 'longest silence after the kill').to.be.lessThan(3000);
      reportFigure(
        'bridge SIGKILL mid-reply: longest silence the caller heard from the kill to the resumed reply',
        silence,
      );
      reportFigure(
        'bridge SIGKILL mid-reply: gap from the lost link to the resumed session (call.resumed gap_ms)',
        Number(resumed!.fields.gap_ms),
      );
      const replyMark = caller.marks.find((m) => m.name.startsWith(`${second.responses[0]!.itemId}|`));
      if (replyMark)
        reportFigure(
          'bridge SIGKILL mid-reply: kill to the re-asked reply reaching the caller',
          replyMark.receivedAtMs - killedAt,
        );
    } finally {
      realtime.setBehaviour({
        inputTranscripts: [],
        replies: DEFAULT_BEHAVIOUR.replies,
        realtimeFactor: DEFAULT_BEHAVIOUR.realtimeFactor,
      });
    }
  });
});
