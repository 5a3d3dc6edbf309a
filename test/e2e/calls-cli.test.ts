/**
 * The on-call CLI (`npm run calls`) against real calls through the whole
 * stack: run as a child process, as an engineer runs it, with connection URLs
 * that carry passwords and the services' secrets in its environment. What it
 * prints is asserted the way a person reads it, and its --json lines parsed.
 */
import { expect } from 'chai';
import { testDatabaseUrl, uniqueCallSid, uniquePhoneNumber } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import { freePort, waitFor, type ScriptSegment } from '@voice/testkit';
import { finishedTimeline, useE2EContext } from '../support/e2e-context.js';
import { createTestBusiness } from '../support/business.js';
import { jsonLines, runCli, startCli, type CliResult } from '../support/calls-cli.js';
import { postAsTwilio } from '../support/twilio-http.js';
import {
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_MEDIA_LINK_SECRET,
  TEST_OPENAI_KEY,
  testRedisEndpoint,
} from '../support/env.js';

const DB_PASSWORD = 'db-pass-7f3a9c';
const REDIS_PASSWORD = 'redis-pass-51be02';
/** Never to appear in anything the CLI prints. */
const SECRETS = [DB_PASSWORD, REDIS_PASSWORD, TEST_AUTH_TOKEN, TEST_OPENAI_KEY, TEST_MEDIA_LINK_SECRET];

function withPassword(url: string, password: string, username?: string): string {
  const parsed = new URL(url);
  if (username && !parsed.username) parsed.username = username;
  parsed.password = password;
  return parsed.toString();
}

/**
 * The CLI's environment: the test's Redis (or cluster) and database, reached
 * with URLs holding a password (PostgreSQL's trust auth and Redis's passwordless
 * default user accept any), and the services' secrets beside them, as on a
 * box where on-call runs it.
 */
function cliEnv(namespace?: string): Record<string, string | undefined> {
  return {
    REDIS_URL: withPassword(testRedisEndpoint().url, REDIS_PASSWORD, 'default'),
    REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES,
    DATABASE_URL: withPassword(testDatabaseUrl(), DB_PASSWORD),
    REDIS_NAMESPACE: namespace,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    OPENAI_API_KEY: TEST_OPENAI_KEY,
    MEDIA_LINK_SECRET: TEST_MEDIA_LINK_SECRET,
  };
}

function expectNoSecret(result: Pick<CliResult, 'stdout' | 'stderr'>): void {
  for (const secret of SECRETS) {
    expect(result.stdout, 'stdout').not.to.include(secret);
    expect(result.stderr, 'stderr').not.to.include(secret);
  }
}

/** Runs a command that must succeed; its output must hold no secret. */
async function calls(args: string[], namespace?: string): Promise<string> {
  const result = await runCli(args, cliEnv(namespace));
  expectNoSecret(result);
  expect(result.code, `calls ${args.join(' ')} exited ${result.code}: ${result.stderr}`).to.equal(0);
  return result.stdout;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The waterfall line of a timeline entry: its offset from the earliest event, then its name. */
function expectWaterfallLine(stdout: string, timeline: TimelineEntry[], entry: TimelineEntry): void {
  const offset = entry.ts - Math.min(...timeline.map((e) => e.ts));
  const line = new RegExp(`^(>>|! |  )\\s*\\+\\s*${offset} ms\\s+\\+\\s*\\d+\\s+${escape(entry.event)}\\s`, 'm');
  expect(stdout, `waterfall line of ${entry.event} at +${offset} ms`).to.match(line);
}

describe('e2e: the on-call CLI (npm run calls)', function () {
  this.timeout(120_000);
  const ctx = useE2EContext();

  async function placeCall(
    options: Parameters<typeof ctx.start>[0] = {},
    script: ScriptSegment[] = [{ silenceMs: 3000 }],
  ) {
    const stack = await ctx.start(options);
    const business = await createTestBusiness(ctx.knex, { greeting: 'Hi, this is Test Dental.' });
    const from = uniquePhoneNumber();
    const call = stack.call(business.phoneNumber, { from, script, hangupWhenScriptEnds: true });
    const summary = await call.done;
    const timeline = await finishedTimeline(ctx.redis, summary.callSid);
    return { stack, from, callSid: summary.callSid, timeline };
  }

  it('show: a completed call as a waterfall with offsets and stage durations; find by number; transcript, usage and cost when the row has them', async () => {
    const { stack, from, callSid, timeline } = await placeCall({ realtime: { replies: ['Sure, which day?'] } }, [
      { silenceMs: 2500 },
      { say: 'I need a cleaning please.' },
      { silenceMs: 3000 },
    ]);
    // What the row holds before anything fills the transcript and usage (another part of the call's end does).
    await ctx.knex('calls').where({ call_sid: callSid }).update({ transcript: null, usage: '{}', cost_usd: null });

    const text = await calls(['show', callSid], stack.namespace);
    expect(text).to.include(`call ${callSid}  inbound  ${from} -> `);
    expect(text).to.include('status completed');
    expect(text).to.match(/^failing step: none$/m);
    for (const entry of timeline) expectWaterfallLine(text, timeline, entry);
    expect(text, 'no event marked').not.to.match(/^(>>|! )/m);
    expect(text).to.include('timeline, in the order it happened');
    expect(text).to.match(/^\s+webhook -> START\s+\d+ ms/m);
    expect(text).to.match(/^\s+connect \(model\)\s+\d+ ms/m);
    expect(text).to.match(/^\s+first greeting audio\s+\d+ ms/m);
    const duration = timeline.find((e) => e.event === 'call.ended')!.fields.duration_ms!;
    const shown = Number(duration) < 10_000 ? `${duration} ms` : `${(Number(duration) / 1000).toFixed(1)} s`;
    expect(text).to.match(new RegExp(`^\\s+call duration\\s+${escape(shown)}$`, 'm'));
    expect(text).to.match(/^transcript: none$/m);
    expect(text).to.match(/^usage: none$/m);
    expect(text).to.match(/^cost: none$/m);

    // Found by the caller's number alone, as text and as JSON.
    const found = await calls(['find', '--number', from, '--since', '10m']);
    expect(found).to.include(callSid);
    expect(found).to.match(new RegExp(`${callSid}\\s+inbound\\s+${escape(from)} -> \\S+\\s+completed`));
    const foundJson = jsonLines(await calls(['find', '--number', from, '--since', '10m', '--json']));
    expect(foundJson.map((r) => [r.type, r.call_sid, r.from])).to.deep.equal([['call', callSid, from]]);
    expect(await calls(['find', '--number', from, '--until', '1h'])).to.include('no calls from or to');

    // Once the call's end has filled them, show prints transcript, usage and cost.
    const transcript = [
      { role: 'agent', text: 'Hi, this is Test Dental.', at: new Date(timeline[0]!.ts + 1000).toISOString() },
      { role: 'caller', text: 'I need a cleaning please.', at: new Date(timeline[0]!.ts + 4000).toISOString() },
    ];
    const usage = {
      input_tokens: 420,
      output_tokens: 96,
      input_audio_tokens: 400,
      input_text_tokens: 20,
      output_audio_tokens: 90,
      output_text_tokens: 6,
      responses: 2,
    };
    await ctx
      .knex('calls')
      .where({ call_sid: callSid })
      .update({ transcript: JSON.stringify(transcript), usage: JSON.stringify(usage), cost_usd: '0.012345' });
    const full = await calls(['show', callSid], stack.namespace);
    expect(full).to.match(/^transcript \(2 turns\)$/m);
    expect(full).to.match(/^\s+\d\d:\d\d:\d\d\.\d{3}\s+agent\s+Hi, this is Test Dental\.$/m);
    expect(full).to.match(/^\s+\d\d:\d\d:\d\d\.\d{3}\s+caller\s+I need a cleaning please\.$/m);
    expect(full).to.match(
      /^usage: 420 input tokens \(400 audio, 20 text, 0 cached\), 96 output tokens \(90 audio, 6 text\), 2 responses$/m,
    );
    expect(full).to.match(/^cost: \$0\.012345$/m);

    const lines = jsonLines(await calls(['show', callSid, '--json'], stack.namespace));
    const call = lines.find((l) => l.type === 'call')!;
    expect(call).to.include({
      call_sid: callSid,
      status: 'completed',
      failed: false,
      from,
      cost_usd: 0.012345,
      timeline_events: timeline.length,
    });
    expect(call.usage).to.include({ input_tokens: 420, responses: 2 });
    const events = lines.filter((l) => l.type === 'event');
    const happened = [...timeline].sort((a, b) => a.ts - b.ts);
    expect(events.map((e) => e.id)).to.deep.equal(happened.map((e) => e.id));
    expect(events.map((e) => e.offset_ms)).to.deep.equal(happened.map((e) => e.ts - happened[0]!.ts));
    expect(events.every((e) => e.mark === null)).to.equal(true);
    const stages = lines.filter((l) => l.type === 'stage');
    expect(stages.find((s) => s.stage === 'call_duration')?.ms).to.equal(Number(duration));
    expect(lines.find((l) => l.type === 'transcript')?.transcript).to.deep.equal(transcript);
  });

  it('show marks the failing step of a call whose model is unreachable; failed lists it and a call that never started, with reasons and steps', async () => {
    const { stack, callSid, timeline } = await placeCall({
      realtime: { refuseConnections: true },
      env: { STREAM_WATCHDOG_MS: '500', STREAM_WATCHDOG_SWEEP_MS: '100' },
    });
    // Twilio answered this one but never opened its media stream: the webhook's watchdog fails it.
    const business = await createTestBusiness(ctx.knex);
    const neverStarted = uniqueCallSid();
    const answered = await postAsTwilio(stack.webhook.port, '/twilio/voice', {
      CallSid: neverStarted,
      AccountSid: TEST_ACCOUNT_SID,
      From: uniquePhoneNumber(),
      To: business.phoneNumber,
    });
    expect(answered.status).to.equal(200);
    await waitFor(
      async () => (await readTimeline(ctx.redis, neverStarted)).some((e) => e.event === 'stream.never_started'),
      { message: 'watchdog verdict' },
    );

    const text = await calls(['show', callSid], stack.namespace);
    expect(text).to.include('status failed');
    expect(text).to.match(/^FAILED: fallback \(OPENAI_REFUSED\); failing step: openai\.failed \(\+\d+ ms\)$/m);
    expect(text).to.match(/^>>.*\sopenai\.failed\s.*reason=OPENAI_REFUSED.*<== failing step$/m);
    expect(text).to.match(/^! .*\srealtime\.fallback\s/m);
    expect(text.match(/^>>/gm), 'one failing step').to.have.length(1);
    expect(text).to.match(
      /^\s+connect \(model\)\s+FAILED\s+stopped by openai\.failed reason=OPENAI_REFUSED after \d+ ms$/m,
    );
    for (const entry of timeline) expectWaterfallLine(text, timeline, entry);

    const lines = jsonLines(await calls(['show', callSid, '--json'], stack.namespace));
    const call = lines.find((l) => l.type === 'call')!;
    expect(call.failed).to.equal(true);
    expect(call.failure).to.deep.include({ kind: 'fallback', reason: 'OPENAI_REFUSED' });
    expect(call.failure.failing_step.event).to.equal('openai.failed');
    expect(lines.filter((l) => l.type === 'event' && l.mark === 'failing_step').map((l) => l.event)).to.deep.equal([
      'openai.failed',
    ]);

    const failed = await calls(['failed', '--since', '10m']);
    expect(failed).to.match(
      new RegExp(`${callSid}\\s+\\S+ -> \\S+\\s+fallback\\s+OPENAI_REFUSED\\s+openai\\.failed \\(\\+\\d+ ms\\)`),
    );
    const failedJson = jsonLines(await calls(['failed', '--since', '10m', '--json']));
    expect(failedJson.every((r) => r.type === 'failed_call')).to.equal(true);
    const mine = failedJson.find((r) => r.call_sid === callSid);
    expect(mine).to.deep.include({
      kind: 'fallback',
      reason: 'OPENAI_REFUSED',
      end_reason: 'fallback:OPENAI_REFUSED',
      status: 'failed',
    });
    expect(mine!.failing_step.event).to.equal('openai.failed');
    const notStarted = failedJson.find((r) => r.call_sid === neverStarted);
    expect(notStarted).to.deep.include({ kind: 'never_started', reason: 'no_stream', status: 'failed' });
    expect(notStarted!.failing_step.event).to.equal('stream.never_started');
    expect(failed).to.match(
      new RegExp(
        `${neverStarted}\\s+\\S+ -> \\S+\\s+never_started\\s+no_stream\\s+stream\\.never_started \\(\\+\\d+ ms\\)`,
      ),
    );
    // Newest first.
    expect(failed.indexOf(neverStarted)).to.be.lessThan(failed.indexOf(callSid));
  });

  it('live shows a call while it is up; tail prints its events as they happen and stops on Ctrl-C', async () => {
    const stack = await ctx.start();
    const business = await createTestBusiness(ctx.knex);
    const callSid = uniqueCallSid();
    const env = cliEnv(stack.namespace);
    const tailAll = startCli(['tail', '--json', '--for', '90s'], env);
    const tailOne = startCli(['tail', '--call', callSid, '--event', 'stream.started,call.ended'], env);
    await waitFor(() => tailAll.stderr().includes('tailing') && tailOne.stderr().includes('tailing'), {
      timeoutMs: 20_000,
      message: 'tails started',
    });

    const call = stack.call(business.phoneNumber, {
      callSid,
      from: uniquePhoneNumber(),
      script: [{ silenceMs: 15_000 }],
      hangupWhenScriptEnds: true,
    });
    const tailed = () => jsonLines(tailAll.stdout()).filter((r) => r.call_sid === callSid);
    await waitFor(() => tailed().some((r) => r.event === 'greeting.first_audio'), {
      timeoutMs: 20_000,
      message: 'greeting.first_audio tailed',
    });

    // While the call is up.
    const text = await calls(['live'], stack.namespace);
    // Its load is what the bridge reported at its last heartbeat (this call may not be in it yet).
    expect(text).to.match(/^\s+br-1\s+live\s+\d+\/\d+\s/m);
    expect(text).to.match(
      new RegExp(`^\\s+${callSid}\\s+[\\d.]+ m?s\\s+talking\\s+\\S+ -> \\S+\\s+gw-1\\s+br-1 \\(live\\)\\s`, 'm'),
    );
    const liveJson = jsonLines(await calls(['live', '--json'], stack.namespace));
    expect(liveJson.find((r) => r.type === 'bridge' && r.instance === 'br-1')).to.include({
      status: 'live',
      draining: false,
    });
    expect(liveJson.find((r) => r.type === 'live_call' && r.call_sid === callSid)).to.include({
      state: 'talking',
      gateway: 'gw-1',
      bridge: 'br-1',
      bridge_status: 'live',
    });

    await call.done;
    await finishedTimeline(ctx.redis, callSid);
    await waitFor(() => tailed().some((r) => r.event === 'call.metrics'), {
      timeoutMs: 20_000,
      message: 'call.metrics tailed',
    });
    await waitFor(() => /call\.ended/.test(tailOne.stdout()), {
      timeoutMs: 20_000,
      message: 'call.ended tailed for --call',
    });
    expect((await calls(['live'], stack.namespace)).includes(callSid), 'gone from live once ended').to.equal(false);

    // Ctrl-C stops both.
    tailAll.child.kill('SIGINT');
    tailOne.child.kill('SIGINT');
    const [all, one] = await Promise.all([tailAll.done, tailOne.done]);
    for (const result of [all, one]) {
      expectNoSecret(result);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stderr).to.match(/tail stopped: \d+ events?/);
    }
    // Every event of the call, in the order it was written.
    const timeline = await readTimeline(ctx.redis, callSid);
    expect(tailed().map((r) => r.event)).to.deep.equal(timeline.map((e) => e.event));
    expect(tailed().map((r) => r.id)).to.deep.equal(timeline.map((e) => e.id));
    // --call and --event: that call's two events only.
    const oneLines = one.stdout.split('\n').filter(Boolean);
    expect(oneLines.map((l) => /^\d\d:\d\d:\d\d\.\d{3} . (CA\w+)\s+(\S+)\s/.exec(l)?.slice(1, 3))).to.deep.equal([
      [callSid, 'stream.started'],
      [callSid, 'call.ended'],
    ]);
  });

  it('tail --for ends on its own', async () => {
    const started = Date.now();
    const result = await runCli(['tail', '--for', '1s'], cliEnv());
    expectNoSecret(result);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.include('tail stopped: 0 events');
    expect(Date.now() - started).to.be.greaterThan(1000);
  });

  it('bad arguments: usage and exit 2; an unknown CallSid: one line and exit 1', async () => {
    for (const args of [
      [],
      ['nope'],
      ['show'],
      ['show', 'CA123'],
      ['failed', '--since', 'yesterday'],
      ['find'],
      ['find', '--number', '12'],
      ['tail', '--event', 'no.such'],
      ['live', '--since', '1h'],
    ]) {
      const result = await runCli(args, cliEnv());
      expect(result.code, `calls ${args.join(' ')}`).to.equal(2);
      expect(result.stderr).to.match(/^calls: .+\nusage: npm run calls -- <command>/);
      expect(result.stdout).to.equal('');
    }
    const sid = uniqueCallSid();
    const unknown = await runCli(['show', sid], cliEnv());
    expectNoSecret(unknown);
    expect(unknown.code).to.equal(1);
    expect(unknown.stdout).to.equal('');
    expect(unknown.stderr.trim().split('\n')).to.deep.equal([
      `calls show: no call ${sid} in PostgreSQL or Redis (timelines expire after 7 days; check the CallSid and REDIS_NAMESPACE/DATABASE_URL)`,
    ]);
  });

  it('says which server it cannot reach in one line, without the password in its URL', async () => {
    const deadPort = await freePort();
    const deadRedis = process.env.REDIS_CLUSTER_NODES
      ? { REDIS_CLUSTER_NODES: `127.0.0.1:${deadPort}` }
      : { REDIS_URL: withPassword(`redis://127.0.0.1:${deadPort}`, REDIS_PASSWORD, 'default') };
    const noRedis = await runCli(['live'], { ...cliEnv(), ...deadRedis });
    expectNoSecret(noRedis);
    expect(noRedis.code).to.equal(1);
    expect(noRedis.stderr.trim().split('\n')).to.have.length(1);
    expect(noRedis.stderr).to.match(
      new RegExp(`^calls live: cannot reach (Redis at|the Redis Cluster at) 127\\.0\\.0\\.1:${deadPort}`),
    );

    const noPostgres = await runCli(['failed'], {
      ...cliEnv(),
      DATABASE_URL: withPassword(`postgres://postgres@127.0.0.1:${deadPort}/voice`, DB_PASSWORD),
    });
    expectNoSecret(noPostgres);
    expect(noPostgres.code).to.equal(1);
    expect(noPostgres.stderr.trim()).to.match(
      new RegExp(`^calls failed: PostgreSQL at 127\\.0\\.0\\.1:${deadPort}/voice: .*ECONNREFUSED`),
    );

    const badUrl = await runCli(['live'], {
      ...cliEnv(),
      REDIS_CLUSTER_NODES: undefined,
      REDIS_URL: `http://user:${REDIS_PASSWORD}@example.test`,
    });
    expectNoSecret(badUrl);
    expect(badUrl.code).to.equal(1);
    expect(badUrl.stderr).to.match(/^calls: Invalid configuration: REDIS_URL /);
  });
});
