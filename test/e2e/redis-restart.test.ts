/**
 * Redis restarts empty (SIGTERM on a server with no persistence: everything it
 * held is gone) in the middle of a call. The stack runs on a private
 * redis-server of its own (a free port), never on the shared development Redis.
 *
 * The live call must not notice: its audio rides the media link, so the caller
 * hears no hold clip and the model's replies come as fast as before; the owner
 * key and the bridge registry are rebuilt; the timeline entries written while
 * Redis was down reach the timeline once it is back. A new call placed right
 * after Redis is back is greeted; and while Redis is down the voice webhook
 * answers at once with the spoken fallback.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { BYTES_PER_MS } from '@voice/protocols';
import { createLogger } from '@voice/logging';
import { createCallRepository, uniqueCallSid } from '@voice/db';
import {
  callKeys,
  createRedis,
  quitRedis,
  readConversation,
  readTimeline,
  sharedKeys,
  type RedisClient,
} from '@voice/redis';
import {
  RealtimeDouble,
  placeCall,
  startProcessStack,
  synthesizeMulaw,
  waitFor,
  type PlaceCallOptions,
  type ProcessStack,
  type TwilioCallerDouble,
} from '@voice/testkit';
import { DEFAULTS as GATEWAY_DEFAULTS } from '../../apps/media-gateway/src/config.js';
import { WEBHOOK_DEFAULTS } from '../../apps/webhook/src/config.js';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../../scripts/bench/private-redis.js';
import { createTestBusiness } from '../support/business.js';
import { finishedTimeline, useE2EContext } from '../support/e2e-context.js';
import {
  PUBLIC_BASE_URL,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_OPENAI_KEY,
  baseTestEnv,
  uniqueNamespace,
} from '../support/env.js';
import { reportFigure } from '../support/figures.js';
import { postAsTwilio } from '../support/twilio-http.js';

/** The private redis-server, even when the suite runs on a cluster (npm run test:cluster sets REDIS_CLUSTER_NODES). */
const PRIVATE_REDIS_ONLY = undefined;

const REPLIES = ['Sure, a cleaning it is.', 'Tuesday morning works.', 'You are booked, goodbye.'];
const LEADING_SILENCE_MS = 4000;
/** Between two caller turns: room for the reply to play out. */
const TURN_GAP_MS = 6000;
/** How long Redis stays down. */
const OUTAGE_MS = 3000;
/** Redis goes down this long before the caller's second turn starts, so that turn is answered during the outage. */
const DOWN_BEFORE_TURN_MS = 1000;
/** Generous bounds (a shared 2-core machine): the goals are 1 s and 5 s. */
const MAX_EXTRA_REPLY_DELAY_MS = 1500;
const MAX_NEW_CALL_GREETED_MS = 10_000;
const MAX_FALLBACK_ANSWER_MS = 3000;
/** Longer than the webhook's answer deadline (VOICE_ANSWER_TIMEOUT_MS, 1.5 s by default). */
const PAUSE_MS = 5000;
/** The first 300 ms of the hold clip: enough to find it in what the caller heard, not matched by chance. */
const HOLD_PROBE_MS = 300;

describe('e2e: Redis restarts empty mid-call', function () {
  this.timeout(180_000);
  let server: PrivateRedis | undefined;
  let probe: RedisClient | undefined;
  let processes: ProcessStack | undefined;
  const doubles: RealtimeDouble[] = [];

  before(function () {
    if (!redisServerAvailable()) this.skip();
  });
  beforeEach(async () => {
    server = await startPrivateRedis();
    probe = createRedis({
      endpoint: { url: server.url },
      name: 'test-private-redis',
      role: 'command',
      logger: createLogger({ service: 'test', instance: 'probe', level: 'silent' }),
    });
  });
  afterEach(async () => {
    // A test that failed with Redis down: bring it back so the services can stop cleanly.
    if (server && !server.running()) server = await startPrivateRedis({ port: server.port });
    // The stack first, while Redis is up (these hooks are registered before useE2EContext's, so they run first).
    await ctx.stack?.stop();
    ctx.stack = undefined;
    await processes?.stop();
    processes = undefined;
    await Promise.all(doubles.splice(0).map((d) => d.stop()));
    if (probe) await quitRedis(probe);
    await server?.stop();
    server = undefined;
  });
  const ctx = useE2EContext();

  /** Ms since the caller's START, on the clock of heardSegments(). */
  const callNow = (call: TwilioCallerDouble) => performance.now() - call.placedAt - (call.startSentCallMs ?? 0);
  /** First audible audio heard at or after `fromMs` (ms since START). */
  const heardFrom = (call: TwilioCallerDouble, fromMs: number) =>
    call
      .heardSegments()
      .filter((s) => s.startMs >= fromMs && s.bytes.some((b) => b !== 0xff && b !== 0x7f))
      .reduce((first, s) => Math.min(first, s.startMs), Number.POSITIVE_INFINITY);

  /** What the scenario needs of a running system, in-process or as processes. */
  interface System {
    label: string;
    namespace: string;
    webhookPort: number;
    /** Places a call; `second` sends it to another gateway where there is one. */
    call(to: string, options: Partial<PlaceCallOptions>, second?: boolean): TwilioCallerDouble;
  }

  it('in-process: keeps the live call going with no hold clip and no reply delay, rebuilds its state, and greets a new call', async () => {
    const stack = await ctx.start({
      env: { REDIS_URL: server!.url, REDIS_CLUSTER_NODES: PRIVATE_REDIS_ONLY },
      realtime: { replies: REPLIES },
    });
    await restartMidCall({
      label: 'in-process',
      namespace: stack.namespace,
      webhookPort: stack.webhook.port,
      call: (to, options) => stack.call(to, options),
    });
  });

  it('processes (2 gateways, 2 bridges): the same, with each service in its own process', async () => {
    const realtime = new RealtimeDouble({ apiKey: TEST_OPENAI_KEY, behaviour: { replies: REPLIES } });
    await realtime.start();
    doubles.push(realtime);
    const namespace = uniqueNamespace();
    const env = {
      ...baseTestEnv(namespace, { REDIS_URL: server!.url, REDIS_CLUSTER_NODES: PRIVATE_REDIS_ONLY }),
      LOG_LEVEL: 'warn',
      OPENAI_BASE_URL: realtime.baseURL,
      OPENAI_API_KEY: TEST_OPENAI_KEY,
      NODE_EXTRA_CA_CERTS: realtime.certPath,
    };
    const running = await startProcessStack({
      env,
      gateways: 2,
      bridges: 2,
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: TEST_OPENAI_KEY },
    });
    processes = running;
    await restartMidCall({
      label: 'processes',
      namespace,
      webhookPort: running.webhookPort,
      call: (to, options, second = false) =>
        placeCall({
          webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
          publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
          authToken: TEST_AUTH_TOKEN,
          accountSid: TEST_ACCOUNT_SID,
          to,
          resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[second ? 1 : 0]}${new URL(url).pathname}`,
          ...options,
        }),
    });
  });

  async function restartMidCall(system: System): Promise<void> {
    const figure = (name: string, value: number, unit?: string) =>
      reportFigure(`${system.label}: ${name}`, value, unit);
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hello, dental office.' });
    const turns = await Promise.all(
      ['I need a cleaning please.', 'Is Tuesday possible?', 'Thank you very much.'].map((t) => synthesizeMulaw(t)),
    );
    const script = [
      { silenceMs: LEADING_SILENCE_MS },
      ...turns.flatMap((audio) => [{ audio }, { silenceMs: TURN_GAP_MS }]),
    ];
    const turnEnds: number[] = [];
    let at = LEADING_SILENCE_MS;
    for (const audio of turns) {
      at += audio.length / BYTES_PER_MS;
      turnEnds.push(at);
      at += TURN_GAP_MS;
    }
    const turnStart = (i: number) => turnEnds[i]! - turns[i]!.length / BYTES_PER_MS;

    const call = system.call(business.phoneNumber, { script, hangupWhenScriptEnds: true });
    await waitFor(() => call.startSentCallMs !== undefined && callNow(call) >= turnStart(1) - DOWN_BEFORE_TURN_MS, {
      timeoutMs: 30_000,
      message: 'the call reaches its second turn',
    });
    const ownerBefore = await probe!.get(callKeys.owner(call.callSid));
    expect(ownerBefore, 'the call has an owner before the restart').to.be.a('string');

    const downAtMs = callNow(call);
    const downAt = Date.now();
    await server!.stop();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));

    // While Redis is down, the voice webhook answers with the spoken fallback, at once.
    const refused = uniqueCallSid();
    const askedAt = performance.now();
    const answer = await postAsTwilio(system.webhookPort, '/twilio/voice', {
      CallSid: refused,
      AccountSid: TEST_ACCOUNT_SID,
      From: '+15551230000',
      To: business.phoneNumber,
    });
    const answerMs = performance.now() - askedAt;
    figure('redis down: voice webhook answered with the spoken fallback in', answerMs);
    expect(answer.status).to.equal(200);
    expect(answer.body).to.include(`<Say`).and.include(WEBHOOK_DEFAULTS.fallbackMessage).and.include('<Hangup/>');
    expect(answer.body).not.to.include('<Stream');
    expect(answerMs).to.be.below(MAX_FALLBACK_ANSWER_MS);
    // The call is on record (Postgres is up): on-call finds it among the failed ones.
    await waitFor(async () => (await createCallRepository(ctx.knex).findByCallSid(refused))?.status === 'failed', {
      timeoutMs: 5000,
      message: 'the refused call recorded as failed',
    });
    expect((await createCallRepository(ctx.knex).findByCallSid(refused))?.endReason).to.equal(
      'fallback:webhook_redis_down',
    );

    server = await startPrivateRedis({ port: server!.port });
    const backAt = performance.now();
    const upAtMs = callNow(call);
    const upAt = Date.now();
    // A new call, placed the moment Redis is back, is greeted.
    const other = await createTestBusiness(ctx.knex, { greeting: 'Hi, second line here.' });
    const fresh = system.call(other.phoneNumber, { script: [{ silenceMs: 4000 }], hangupWhenScriptEnds: true }, true);

    // Owner and registry come back on their own.
    await waitFor(async () => (await probe!.get(callKeys.owner(call.callSid))) === ownerBefore, {
      timeoutMs: 10_000,
      message: 'the owner key is written again',
    });
    figure('redis back: owner key rebuilt after', performance.now() - backAt);
    await waitFor(async () => (await probe!.hlen(sharedKeys(system.namespace).bridges)) > 0, {
      timeoutMs: 10_000,
      message: 'the bridge registers again',
    });
    figure('redis back: bridge registry rebuilt after', performance.now() - backAt);
    // The conversation record (what a resumed session replays) is rebuilt from the bridge's memory:
    // the session settings and the reply given before the restart are in it again.
    await waitFor(
      async () => {
        const { entries } = await readConversation(probe!, call.callSid);
        return (
          entries.some((e) => e.kind === 'session') && entries.some((e) => e.kind === 'agent' && e.text === REPLIES[0])
        );
      },
      { timeoutMs: 10_000, message: 'the conversation record is rebuilt' },
    );
    figure('redis back: conversation record rebuilt after', performance.now() - backAt);

    await waitFor(() => fresh.firstAudioAtMs !== undefined && fresh.heardAudibleMs() > 0, {
      timeoutMs: 20_000,
      message: 'the new call is greeted',
    });
    const greetedMs = performance.now() - backAt;
    figure('redis back: new call greeted after', greetedMs);
    expect(greetedMs).to.be.below(MAX_NEW_CALL_GREETED_MS);

    const summary = await call.done;
    expect(summary.endedBy, 'the caller finished the script and hung up').to.equal('caller');

    // No hold clip after the restart: the call never left its bridge.
    const hold = await readFile(`${GATEWAY_DEFAULTS.clipsDir}/hold.ulaw`);
    const heard = call.heardAudio();
    const holdAt = heard.indexOf(hold.subarray(0, HOLD_PROBE_MS * BYTES_PER_MS), Math.round(downAtMs * BYTES_PER_MS));
    expect(
      holdAt,
      `hold clip heard at ${Math.round(holdAt / BYTES_PER_MS)} ms (Redis down at ${Math.round(downAtMs)} ms)`,
    ).to.equal(-1);

    // Replies: the one before the outage is the baseline; the ones during and after it are no slower.
    const delays = turnEnds.map((end) => heardFrom(call, end) - end);
    figure('reply delay before the outage (caller speech end to reply audio)', delays[0]!);
    figure(`reply delay while Redis was down (${Math.round(downAtMs)}-${Math.round(upAtMs)} ms)`, delays[1]!);
    figure('reply delay after Redis came back', delays[2]!);
    for (const [i, delay] of delays.entries())
      expect(delay, `reply ${i + 1} heard`).to.be.below(Number.POSITIVE_INFINITY);
    expect(delays[1]! - delays[0]!, 'reply during the outage, extra delay').to.be.below(MAX_EXTRA_REPLY_DELAY_MS);
    expect(delays[2]! - delays[0]!, 'reply after the outage, extra delay').to.be.below(MAX_EXTRA_REPLY_DELAY_MS);

    // What was written while Redis was down reached the timeline (or was counted as lost).
    // (What was written before the restart is gone with it: the server has no persistence.)
    const timeline = await finishedTimeline(probe!, call.callSid, 20_000);
    const duringOutage = timeline.filter((e) => e.ts >= downAt && e.ts < upAt);
    figure('timeline entries written while Redis was down, flushed after', duringOutage.length, 'entries');
    expect(duringOutage.length, 'entries from the outage on the timeline').to.be.greaterThan(0);
    expect(timeline.map((e) => e.event)).not.to.include('call.orphaned');
    expect(timeline.filter((e) => e.event === 'call.ended').map((e) => e.fields.end_reason)).to.deep.equal([
      'twilio_stop',
    ]);
  }

  it('a caller who hangs up while Redis is down still gets a call record: transcript and end in Postgres, timeline after', async () => {
    const stack = await ctx.start({
      env: { REDIS_URL: server!.url, REDIS_CLUSTER_NODES: PRIVATE_REDIS_ONLY },
      realtime: { replies: REPLIES },
    });
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hello, dental office.' });
    const call = stack.call(business.phoneNumber, { script: [{ silenceMs: 60_000 }] });
    await waitFor(() => stack.realtime.sessions[0]?.responses[0]?.status === 'completed', {
      timeoutMs: 30_000,
      message: 'the greeting was spoken',
    });
    await waitFor(async () => (await readConversation(probe!, call.callSid)).entries.some((e) => e.kind === 'agent'), {
      timeoutMs: 10_000,
      message: 'the greeting is on the conversation record',
    });

    await server!.stop();
    await call.hangup();
    // The bridge ends the call while Redis is still down (a stop rides the media link, not Redis).
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const row = await createCallRepository(ctx.knex).findByCallSid(call.callSid);
    expect(row?.status, 'the call row is ended while Redis is down').to.equal('completed');
    expect(row?.endReason).to.equal('twilio_stop');
    expect((row?.transcript ?? []).map((t) => t.role)).to.include('agent');

    server = await startPrivateRedis({ port: server!.port });
    const timeline = await finishedTimeline(probe!, call.callSid, 20_000);
    expect(timeline.filter((e) => e.event === 'call.ended').map((e) => e.fields.end_reason)).to.deep.equal([
      'twilio_stop',
    ]);
  });

  it('answers the voice webhook with the spoken fallback when Redis accepts connections but does not answer', async () => {
    // No warm session: the prebuild of the late work could still offer one before the meta is deleted,
    // and a warm session for a call that never starts holds the bridge's shutdown for its TTL.
    const stack = await ctx.start({
      env: { REDIS_URL: server!.url, REDIS_CLUSTER_NODES: PRIVATE_REDIS_ONLY, WARM_SESSIONS_ENABLED: 'false' },
    });
    const business = await createTestBusiness(ctx.knex);
    // Every client's commands hang (a Redis stuck in a slow command or a long fork) while its socket stays up.
    await probe!.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
    const callSid = uniqueCallSid();
    const askedAt = performance.now();
    const answer = await postAsTwilio(stack.webhook.port, '/twilio/voice', {
      CallSid: callSid,
      AccountSid: TEST_ACCOUNT_SID,
      From: '+15551230000',
      To: business.phoneNumber,
    });
    const answerMs = performance.now() - askedAt;
    reportFigure('redis hanging: voice webhook answered with the spoken fallback in', answerMs);
    expect(answer.body).to.include(WEBHOOK_DEFAULTS.fallbackMessage).and.include('<Hangup/>');
    expect(answer.body).not.to.include('<Stream');
    expect(answerMs, 'answered before Redis answered').to.be.below(PAUSE_MS);
    await probe!.call('CLIENT', 'UNPAUSE');
    // The work the deadline cut short finishes on its own once Redis answers, and says what the caller got.
    await waitFor(async () => (await readTimeline(probe!, callSid)).some((e) => e.event === 'prebuild.enqueued'), {
      timeoutMs: 10_000,
      message: 'the late work finished',
    });
    const fallback = (await readTimeline(probe!, callSid)).find((e) => e.event === 'webhook.fallback');
    expect(fallback?.fields.reason).to.equal('timeout');
    // The row says what the caller got, whatever order the late work and the fallback's write came in:
    // not 'received', which the stream watchdog would later take for a stream that never started.
    const row = await createCallRepository(ctx.knex).findByCallSid(callSid);
    expect(row).to.include({ status: 'failed', endReason: 'fallback:webhook_timeout' });
    expect(row?.businessId, 'the late work filled the business in').to.equal(business.id);
    // ...and leaves no token or meta behind for a stream that will never start.
    await waitFor(async () => (await probe!.exists(callKeys.token(callSid), callKeys.meta(callSid))) === 0, {
      timeoutMs: 5000,
      message: 'late call state deleted',
    });
  });

  it('answers <Connect action> with the spoken fallback when Redis accepts connections but does not answer', async () => {
    const stack = await ctx.start({
      env: { REDIS_URL: server!.url, REDIS_CLUSTER_NODES: PRIVATE_REDIS_ONLY, WARM_SESSIONS_ENABLED: 'false' },
    });
    const callSid = uniqueCallSid();
    // Twilio posts the action URL when a call's stream ends (a gateway went away) while Redis hangs.
    await probe!.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
    const askedAt = performance.now();
    const answer = await postAsTwilio(stack.webhook.port, '/twilio/connect-action', {
      CallSid: callSid,
      AccountSid: TEST_ACCOUNT_SID,
    });
    const answerMs = performance.now() - askedAt;
    reportFigure('redis hanging: <Connect action> answered with the spoken fallback in', answerMs);
    expect(answer.status).to.equal(200);
    expect(answer.body).to.include(WEBHOOK_DEFAULTS.fallbackMessage).and.include('<Hangup/>');
    expect(answerMs, 'answered before Redis answered (Twilio gives up after about 15 s)').to.be.below(PAUSE_MS);
    await probe!.call('CLIENT', 'UNPAUSE');
    await waitFor(
      async () =>
        (await readTimeline(probe!, callSid)).some((e) => e.event === 'stream.action' && e.fields.reason === 'timeout'),
      { timeoutMs: 10_000, message: 'stream.action reason=timeout on the timeline' },
    );
    // The late decision does not leave a "reconnect" for the bridge holding the call to read.
    await waitFor(async () => (await probe!.get(callKeys.lastAction(callSid))) === 'fallback:timeout', {
      timeoutMs: 10_000,
      message: 'the fallback marked for the bridge',
    });
  });

  it('a START while Redis hangs is refused in time: the caller hears the spoken fallback, not silence', async () => {
    const stack = await ctx.start({
      env: { REDIS_URL: server!.url, REDIS_CLUSTER_NODES: PRIVATE_REDIS_ONLY, WARM_SESSIONS_ENABLED: 'false' },
      gatewayEnv: { START_CHECK_TIMEOUT_MS: '1000' },
    });
    const business = await createTestBusiness(ctx.knex);
    // The webhook answered with the stream; Redis stops answering just before START.
    const call = stack.call(business.phoneNumber, {
      startWhen: () => probe!.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL'),
      script: [{ silenceMs: 10_000 }],
      hangupWhenScriptEnds: true,
    });
    const summary = await call.done;
    await probe!.call('CLIENT', 'UNPAUSE');
    const spoken = summary.spokenByTwilio.find((s) => s.phase === 'after-stream');
    expect(spoken?.text, 'the spoken fallback after the stream').to.equal(WEBHOOK_DEFAULTS.fallbackMessage);
    const afterStartMs = spoken!.callMs - summary.startSentCallMs!;
    reportFigure('redis hanging at START: START to the spoken fallback', afterStartMs);
    expect(afterStartMs, 'before Redis answered again').to.be.below(PAUSE_MS);
    const rejected = (await readTimeline(probe!, summary.callSid)).find((e) => e.event === 'stream.rejected');
    expect(rejected?.fields.reason).to.equal('token_check_failed');
  });
});
