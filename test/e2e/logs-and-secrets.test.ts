/**
 * What the services print about one call, as separate processes with real
 * secrets in their configuration (a Twilio auth token, an OpenAI key, a
 * password in DATABASE_URL and in REDIS_URL, the media link secret):
 * - every log line about the call carries its CallSid as a field, so
 *   `grep CA…` (or a log query on callSid) over all services finds all of it;
 * - no secret appears in any log line, the call's timeline, or what the
 *   on-call CLI prints (also when it cannot reach Redis).
 * Redis is a private redis-server that requires its password (requirepass);
 * Postgres here uses trust auth, which accepts and ignores the password.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { Redis } from 'ioredis';
import { prepareTestDatabase, testDatabaseUrl } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import { RealtimeDouble, freePort, placeCall, startProcessStack, waitFor, type ProcessStack } from '@voice/testkit';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../../scripts/bench/private-redis.js';
import { PUBLIC_BASE_URL, TEST_ACCOUNT_SID, baseTestEnv, uniqueNamespace } from '../support/env.js';
import { createTestBusiness } from '../support/business.js';
import { runCli, showCall } from '../support/cli.js';

const secret = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`;

interface LogLine {
  process: string;
  raw: string;
  json: Record<string, unknown> | undefined;
}

describe('e2e: logs and operator output (secrets in the config)', function () {
  this.timeout(120_000);
  const secrets = {
    TWILIO_AUTH_TOKEN: secret('twilio-token-'),
    OPENAI_API_KEY: secret('sk-proj-'),
    MEDIA_LINK_SECRET: secret('link-secret-'),
    redisPassword: secret('redis-pw-'),
    databasePassword: secret('pg-pw-'),
  };
  let knex: Knex;
  let privateRedis: PrivateRedis;
  let redis: Redis;
  let realtime: RealtimeDouble;
  let stack: ProcessStack | undefined;
  let databaseUrl: string;
  const lines: LogLine[] = [];

  before(async function () {
    // A Redis that requires a password is a private redis-server (the shared one has none).
    if (!redisServerAvailable()) {
      console.warn('      skipped: needs redis-server on PATH (apt-get install redis-server)');
      this.skip();
    }
    ({ knex } = await prepareTestDatabase());
    privateRedis = await startPrivateRedis({ password: secrets.redisPassword });
    redis = new Redis(privateRedis.url);
    realtime = new RealtimeDouble({ apiKey: secrets.OPENAI_API_KEY });
    await realtime.start();
    const db = new URL(testDatabaseUrl());
    db.password = secrets.databasePassword;
    databaseUrl = db.toString();
  });
  after(async () => {
    await stack?.stop();
    await realtime?.stop();
    redis?.disconnect();
    await privateRedis?.stop();
    await knex?.destroy();
  });

  it('one call: every line about it carries its CallSid, and no secret is printed anywhere', async () => {
    stack = await startProcessStack({
      env: {
        ...baseTestEnv(uniqueNamespace()),
        // The private, password-protected Redis even when the suite runs on a cluster (test:cluster).
        REDIS_URL: privateRedis.url,
        REDIS_CLUSTER_NODES: undefined,
        DATABASE_URL: databaseUrl,
        TWILIO_AUTH_TOKEN: secrets.TWILIO_AUTH_TOKEN,
        MEDIA_LINK_SECRET: secrets.MEDIA_LINK_SECRET,
        LOG_LEVEL: 'debug',
      },
      realtime: { baseURL: realtime.baseURL, certPath: realtime.certPath, apiKey: secrets.OPENAI_API_KEY },
      onLine: (label, raw) => lines.push({ process: label, raw, json: parseJson(raw) }),
    });
    const running = stack;
    const business = await createTestBusiness(knex, { greeting: 'Hello, Secret Dental.' });
    const call = placeCall({
      webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
      publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
      authToken: secrets.TWILIO_AUTH_TOKEN,
      accountSid: TEST_ACCOUNT_SID,
      to: business.phoneNumber,
      resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[0]}${new URL(url).pathname}`,
      script: [{ silenceMs: 1500 }, { say: 'I need a cleaning.' }, { silenceMs: 2500 }],
      hangupWhenScriptEnds: true,
    });
    const summary = await call.done;
    const callSid = summary.callSid;
    await waitFor(async () => (await readTimeline(redis, callSid)).some((e) => e.event === 'call.metrics'), {
      timeoutMs: 20_000,
      message: 'call.metrics',
    });
    // Shutdown lines count too: a stop path that prints its config would show here.
    await running.stop();
    stack = undefined;
    const timeline = await readTimeline(redis, callSid);
    expect(summary.heardAudibleMs, 'the call worked').to.be.greaterThan(500);

    // Every service printed only JSON lines.
    expect(
      lines.filter((l) => !l.json).map((l) => `${l.process}: ${l.raw}`),
      'non-JSON output',
    ).to.deep.equal([]);
    const byProcess = new Set(lines.map((l) => l.process));
    expect([...byProcess].sort()).to.deep.equal(['bridge-1', 'gateway-1', 'webhook']);

    // About the call: any line naming one of its identifiers carries callSid = the call's CallSid.
    const ids = callIdentifiers(callSid, timeline);
    const naming = lines.filter((l) => ids.some((id) => l.raw.includes(id)));
    expect(naming.length, 'lines about the call').to.be.greaterThan(10);
    expect(
      naming.filter((l) => l.json!.callSid !== callSid).map((l) => l.raw),
      'lines about the call without its callSid',
    ).to.deep.equal([]);
    // Every service wrote about the call.
    expect(new Set(naming.map((l) => l.process)).size).to.equal(3);
    // Not about the call: only the process's own life (see PROCESS_LINES for which and why).
    const withoutCall = lines.filter((l) => l.json!.callSid === undefined);
    expect(
      withoutCall.map((l) => String(l.json!.message)).filter((m) => !(m in PROCESS_LINES)),
      'lines with no callSid that are not about the process',
    ).to.deep.equal([]);

    // No secret in any log line, in the timeline, or in what the on-call CLI prints.
    expectNoSecret(lines.map((l) => l.raw).join('\n'), 'log lines');
    expectNoSecret(JSON.stringify(timeline), 'the timeline');
    const shown = await showCall(callSid, { REDIS_URL: privateRedis.url });
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include('call.metrics');
    expectNoSecret(shown.stdout + shown.stderr, 'the CLI output');
  });

  it('the on-call CLI and a service that cannot use their configuration do not print its passwords', async () => {
    const nothingThere = `redis://:${secrets.redisPassword}@127.0.0.1:${await freePort()}`;
    const unreachable = await showCall(`CA${'0'.repeat(32)}`, { REDIS_URL: nothingThere });
    expect(unreachable.code).to.equal(1);
    expect(unreachable.stderr).to.include('cannot reach Redis');
    expectNoSecret(unreachable.stdout + unreachable.stderr, 'the CLI output when Redis is not there');

    const wrongScheme = await showCall(`CA${'0'.repeat(32)}`, {
      REDIS_URL: `http://:${secrets.redisPassword}@127.0.0.1:6379`,
    });
    expect(wrongScheme.stderr).to.include('REDIS_URL');
    expectNoSecret(wrongScheme.stdout + wrongScheme.stderr, 'the CLI output for a malformed REDIS_URL');

    // A service refusing its configuration names the variable, not the password inside it.
    const badDatabase = await runCli(['apps/webhook/src/main.ts'], [], {
      ...baseTestEnv(uniqueNamespace()),
      DATABASE_URL: `mysql://voice:${secrets.databasePassword}@127.0.0.1:3306/voice`,
      TWILIO_AUTH_TOKEN: secrets.TWILIO_AUTH_TOKEN,
    });
    expect(badDatabase.code).to.equal(1);
    expect(badDatabase.stderr).to.include('DATABASE_URL');
    expectNoSecret(badDatabase.stdout + badDatabase.stderr, 'a service refusing DATABASE_URL');
  });

  function expectNoSecret(text: string, where: string): void {
    for (const [name, value] of Object.entries(secrets))
      expect(text.includes(value), `${name} in ${where}`).to.equal(false);
  }
});

/**
 * Lines that are about a process, not a call, so they carry no callSid: its start and
 * stop, and the media links between a gateway and a bridge (one link carries every call
 * between the two, so it belongs to no call). A new message here is a decision, not a
 * default: a line about one call takes the call's child logger instead.
 */
const PROCESS_LINES: Record<string, string> = {
  'webhook started': 'start-up',
  'media gateway listening': 'start-up',
  'realtime bridge started': 'start-up',
  'no Twilio REST credentials: end_call and transfer_call are not offered to the model': 'start-up (configuration)',
  'media link accepted': 'the link of a gateway and a bridge, shared by all their calls',
  'media link up': 'the link of a gateway and a bridge, shared by all their calls',
  'draining media sockets': 'shutdown',
  'shutting down': 'shutdown',
  stopped: 'shutdown',
};

/** The call's CallSid and the ids the timeline shows for it (stream, model session, items, job). */
function callIdentifiers(callSid: string, timeline: TimelineEntry[]): string[] {
  const ids = new Set([callSid]);
  for (const entry of timeline) {
    for (const [key, value] of Object.entries(entry.fields))
      if (/(_sid|_id)$/.test(key) && value.length >= 10) ids.add(value);
  }
  return [...ids];
}

function parseJson(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
