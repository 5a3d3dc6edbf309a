/**
 * The host's half of the smoke test: the Realtime double (listening on the
 * host's address on Docker's bridge, with a certificate valid for it), one
 * call placed by the test kit's Twilio caller through nginx's published port,
 * and the checks on what the caller heard and what the call's timeline says.
 */
import { join } from 'node:path';
import { DEMO_GREETING, DEMO_PHONE_NUMBER } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import {
  RealtimeDouble,
  createTlsCertificate,
  placeCall,
  synthesizeMulaw,
  waitFor,
  type CallSummary,
} from '@voice/testkit';
import { connectScriptRedis } from '../lib/redis-endpoint.js';
import { SMOKE } from './settings.js';

export const SMOKE_CALL = {
  publicBaseUrl: 'https://voice-smoke.example.test',
  publicStreamUrl: 'wss://voice-smoke.example.test/ws/twilio-media',
  apiKey: 'sk-voice-compose-smoke',
  from: '+15005550001',
  callerSays: 'Hi, can I book a cleaning for Tuesday?',
  /** The caller listens to the greeting (about five seconds), speaks, listens to the reply, hangs up. */
  listenMs: 7000,
  replyMs: 5000,
  /** Real Twilio opens the stream a second or so after the webhook. */
  startDelayMs: 1000,
  /** Less than this much speech heard is not a greeting. */
  minGreetingMs: 1500,
  /** The double's pause before its first audio (a real model's is a few hundred ms). */
  firstAudioDelayMs: 300,
  /** Every one of these must be on the call's timeline; each service writes some. */
  requiredEvents: [
    'webhook.received',
    'ws.accepted',
    'stream.started',
    'bridge.claimed',
    'openai.connected',
    'session.configured',
    'greeting.first_audio',
    'call.ended',
    'call.metrics',
  ],
  /**
   * Orders that hold whatever the path: a warm session claims and connects before the stream opens, so
   * the bridge's events may come before the gateway's; the greeting never comes before the stream.
   */
  before: [
    ['webhook.received', 'bridge.claimed'],
    ['ws.accepted', 'stream.started'],
    ['stream.started', 'greeting.first_audio'],
    ['session.configured', 'greeting.first_audio'],
    ['greeting.first_audio', 'call.ended'],
    ['call.ended', 'call.metrics'],
  ],
  forbiddenEvents: ['realtime.fallback', 'call.silent_failure', 'openai.failed', 'stream.no_start'],
  apps: ['webhook', 'media-gateway', 'realtime-bridge'],
} as const;

export interface StartedDouble {
  double: RealtimeDouble;
  baseURL: string;
  /** The directory holding the certificate (mounted into the bridges). */
  caDir: string;
  caFileName: string;
}

export async function startDouble(hostAddress: string, runDir: string): Promise<StartedDouble> {
  const caDir = join(runDir, 'ca');
  const certificate = await createTlsCertificate(caDir, { ipAddresses: [hostAddress] });
  const double = new RealtimeDouble({
    apiKey: SMOKE_CALL.apiKey,
    host: hostAddress,
    port: 0,
    certificate,
    behaviour: { firstAudioDelayMs: SMOKE_CALL.firstAudioDelayMs },
  });
  await double.start();
  // The speech engine compiles on first use; the greeting is rendered before the call, not during it.
  await synthesizeMulaw(DEMO_GREETING);
  return { double, baseURL: double.baseURL, caDir, caFileName: certificate.certPath.slice(caDir.length + 1) };
}

export interface CallResult {
  summary: CallSummary;
  timeline: TimelineEntry[];
}

/** One call to the demo business through nginx at 127.0.0.1:lbPort; the timeline read from the stack's Redis. */
export async function placeSmokeCall(options: {
  lbPort: number;
  authToken: string;
  redisAddress: string;
}): Promise<CallResult> {
  const origin = `127.0.0.1:${options.lbPort}`;
  const call = placeCall({
    webhookUrl: `http://${origin}/twilio/voice`,
    publicWebhookUrl: `${SMOKE_CALL.publicBaseUrl}/twilio/voice`,
    authToken: options.authToken,
    to: DEMO_PHONE_NUMBER,
    from: SMOKE_CALL.from,
    resolveStreamUrl: (url) => `ws://${origin}${new URL(url).pathname}`,
    script: [{ silenceMs: SMOKE_CALL.listenMs }, { say: SMOKE_CALL.callerSays }, { silenceMs: SMOKE_CALL.replyMs }],
    startDelayMs: SMOKE_CALL.startDelayMs,
    hangupWhenScriptEnds: true,
  });
  const timer = setTimeout(() => void call.hangup(), SMOKE.timeouts.callMs);
  const summary = await call.done.finally(() => clearTimeout(timer));
  const redis = await connectScriptRedis(
    { url: `redis://${options.redisAddress}:${SMOKE.ports.redis}` },
    { failFast: false },
  );
  try {
    await waitFor(async () => (await readTimeline(redis, summary.callSid)).some((e) => e.event === 'call.metrics'), {
      timeoutMs: SMOKE.timeouts.timelineMs,
      message: 'call.metrics on the timeline',
    }).catch(() => undefined);
    return { summary, timeline: await readTimeline(redis, summary.callSid) };
  } finally {
    redis.disconnect();
  }
}

/** What the model side saw: how many sessions the double had, and what its first response spoke. */
export interface ModelSide {
  sessions: number;
  firstResponseText: string | undefined;
}

export function modelSideOf(double: RealtimeDouble): ModelSide {
  return { sessions: double.sessions.length, firstResponseText: double.sessions[0]?.responses[0]?.text };
}

/** The parts of the caller's summary the checks read. */
export type HeardSummary = Pick<CallSummary, 'webhookStatus' | 'firstAudioAtMs' | 'heardAudibleMs'>;

/** What a person would check: the caller heard the greeting, and every service wrote its part of the timeline. */
export function checkCall(
  { summary, timeline }: { summary: HeardSummary; timeline: TimelineEntry[] },
  model: ModelSide,
): string[] {
  const problems: string[] = [];
  if (summary.webhookStatus !== 200)
    problems.push(`the webhook answered ${summary.webhookStatus ?? 'nothing'} through nginx`);
  if (summary.firstAudioAtMs === undefined) problems.push('the caller heard no audio');
  if (summary.heardAudibleMs < SMOKE_CALL.minGreetingMs)
    problems.push(`the caller heard ${Math.round(summary.heardAudibleMs)} ms of speech, less than a greeting`);
  if (model.sessions !== 1) problems.push(`the Realtime double saw ${model.sessions} sessions, expected 1`);
  // The seeded business's greeting travelled Postgres -> webhook's prebuilt prompt -> bridge -> model.
  if (model.firstResponseText !== DEMO_GREETING) {
    problems.push(
      `the first response spoke ${JSON.stringify(model.firstResponseText)}, not the demo business's greeting`,
    );
  }
  const events = timeline.map((e) => e.event);
  for (const name of SMOKE_CALL.requiredEvents)
    if (!events.includes(name)) problems.push(`${name} is missing from the timeline`);
  for (const [first, then] of SMOKE_CALL.before) {
    const a = events.indexOf(first);
    const b = events.indexOf(then);
    if (a >= 0 && b >= 0 && a > b) problems.push(`${then} comes before ${first} on the timeline`);
  }
  for (const name of SMOKE_CALL.forbiddenEvents) if (events.includes(name)) problems.push(`the timeline has ${name}`);
  for (const app of SMOKE_CALL.apps)
    if (!timeline.some((e) => e.app === app)) problems.push(`no timeline event from ${app}`);
  return problems;
}
