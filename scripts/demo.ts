/**
 * `npm run demo`: one simulated phone call through the whole stack on this
 * machine. Migrates and seeds, starts the three services and the OpenAI
 * Realtime double as separate processes, places a call to the demo business
 * exactly as Twilio would (signed webhook, TwiML, media stream, real speech),
 * prints the call's timeline and writes what the caller heard to a WAV file.
 * Needs only Redis and Postgres; when REDIS_URL / DATABASE_URL are unset and
 * nothing answers on the defaults, starts them for this run only
 * (scripts/lib/local-services).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEMO_GREETING, DEMO_PHONE_NUMBER } from '@voice/db';
import { formatTimeline, readTimeline } from '@voice/redis';
import { inTimeOrder } from './calls/time-order.js';
import { REPO_ROOT, placeCall, startProcessStack, waitFor, type ProcessStack } from '@voice/testkit';
import { PreflightError, checkRedis, endpointsFromEnv, prepareDatabase } from './lib/preflight.js';
import { connectScriptRedis, describeRedisEndpoint, formatClusterNodes } from './lib/redis-endpoint.js';
import { LocalServiceError, ensureLocalServices, type LocalServices } from './lib/local-services/local-services.js';

const PUBLIC_BASE_URL = 'https://demo.example.test';
const PUBLIC_STREAM_URL = 'wss://demo.example.test/ws/twilio-media';
const DEMO_AUTH_TOKEN = 'demo-twilio-auth-token';
const CALLER_SAYS = "Hi, I'd like to book a cleaning for next Tuesday morning, please.";
/** The greeting is about five seconds of speech; the caller waits for it, speaks, then listens to the reply. */
const CALLER_SCRIPT = [{ silenceMs: 7000 }, { say: CALLER_SAYS }, { silenceMs: 7000 }];
const PROGRESS_EVERY_MS = 1000;
/** Real Twilio opens the media stream a second or more after the webhook: the time warm sessions use. */
const TWILIO_START_DELAY_MS = 1200;
const TIMELINE_SETTLE_MS = 10_000;

function say(line: string): void {
  process.stdout.write(`[demo] ${line}\n`);
}

async function main(): Promise<number> {
  const services = await ensureLocalServices(process.env);
  if (services.summary) say(services.summary);
  try {
    return await runDemo(services);
  } finally {
    await services.stop();
  }
}

async function runDemo(services: LocalServices): Promise<number> {
  const endpoints = endpointsFromEnv({ ...process.env, ...services.env });
  say(`checking ${describeRedisEndpoint(endpoints.redis)} and PostgreSQL`);
  await checkRedis(endpoints.redis);
  await prepareDatabase(endpoints.databaseUrl);
  say(`database migrated; demo business answers ${DEMO_PHONE_NUMBER}`);

  const namespace = `demo-${randomBytes(3).toString('hex')}`;
  say('starting the Realtime double, webhook, media gateway and realtime bridge as separate processes...');
  let stack: ProcessStack | undefined;
  const redis = await connectScriptRedis(endpoints.redis, { failFast: false });
  try {
    stack = await startProcessStack({
      env: {
        REDIS_URL: endpoints.redis.url,
        // The services read the cluster from here (it wins over REDIS_URL); unset for standalone Redis.
        REDIS_CLUSTER_NODES: endpoints.redis.clusterNodes
          ? formatClusterNodes(endpoints.redis.clusterNodes)
          : undefined,
        DATABASE_URL: endpoints.databaseUrl,
        REDIS_NAMESPACE: namespace,
        PUBLIC_BASE_URL,
        PUBLIC_STREAM_URL,
        TWILIO_AUTH_TOKEN: DEMO_AUTH_TOKEN,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
      // The double renders speech on demand (espeak-ng, ~1 s for a sentence); the real model does not keep
      // a caller waiting for that, so the demo greeting is rendered before the call.
      doubleArgs: ['--first-audio-delay-ms', '300', '--prerender', DEMO_GREETING],
      onLine: (label, line) => {
        if (/"level":"(error|warn)"/.test(line)) say(`${label}: ${line}`);
      },
    });
    const running = stack;
    say(
      `services up: webhook :${running.webhookPort}, gateway :${running.gatewayPorts[0]}, bridge :${running.bridgePorts[0]}, model ${running.realtimeBaseURL}`,
    );

    const call = placeCall({
      webhookUrl: `http://127.0.0.1:${running.webhookPort}/twilio/voice`,
      publicWebhookUrl: `${PUBLIC_BASE_URL}/twilio/voice`,
      authToken: DEMO_AUTH_TOKEN,
      to: DEMO_PHONE_NUMBER,
      from: '+15005550001',
      resolveStreamUrl: (url) => `ws://127.0.0.1:${running.gatewayPorts[0]}${new URL(url).pathname}`,
      script: CALLER_SCRIPT,
      startDelayMs: TWILIO_START_DELAY_MS,
      hangupWhenScriptEnds: true,
    });
    say(`placing call ${call.callSid} to ${DEMO_PHONE_NUMBER}; the caller will say: "${CALLER_SAYS}"`);
    const progress = setInterval(() => {
      const heard =
        call.firstAudioAtMs === undefined
          ? 'no audio yet'
          : `first audio ${Math.round(call.firstAudioAtMs)} ms after START`;
      say(
        `  call ${call.state}: ${call.sentFrames} frames sent, ${heard}, ${Math.round(call.heardAudibleMs())} ms of speech heard`,
      );
    }, PROGRESS_EVERY_MS);
    const summary = await call.done.finally(() => clearInterval(progress));

    await waitFor(async () => (await readTimeline(redis, summary.callSid)).some((e) => e.event === 'call.metrics'), {
      timeoutMs: TIMELINE_SETTLE_MS,
      message: 'the call to be finalized',
    }).catch(() => say('warning: call.metrics did not appear; the timeline below is partial'));
    const timeline = await readTimeline(redis, summary.callSid);
    process.stdout.write(
      `\nTimeline of ${summary.callSid} (redis-cli XRANGE 'call:{${summary.callSid}}:timeline' - +):\n`,
    );
    // In the order things happened: the gateway writes a call's first entries once START is accepted.
    process.stdout.write(`${formatTimeline(inTimeOrder(timeline))}\n\n`);

    const dir = join(REPO_ROOT, 'recordings');
    mkdirSync(dir, { recursive: true });
    const wav = join(dir, `demo-${summary.callSid}.wav`);
    await call.writeWav(wav);
    say(
      `the caller heard ${Math.round(summary.heardAudibleMs)} ms of speech (first audio ${summary.firstAudioAtMs?.toFixed(0) ?? '-'} ms after START)`,
    );
    say(`recording of what the caller heard: ${wav}`);
    say(`the on-call view of this call: npm run calls -- show ${summary.callSid}`);

    const ok =
      summary.firstAudioAtMs !== undefined &&
      timeline.some((e) => e.event === 'greeting.first_audio') &&
      timeline.some((e) => e.event === 'call.ended');
    if (!ok) say('the call did not complete as expected: see the timeline above');
    return ok ? 0 : 1;
  } finally {
    say('stopping services...');
    await stack?.stop();
    redis.disconnect();
  }
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    const message =
      err instanceof PreflightError || err instanceof LocalServiceError
        ? err.message
        : err instanceof Error
          ? err.message
          : String(err);
    process.stderr.write(`[demo] failed: ${message}\n`);
    process.exit(1);
  });
