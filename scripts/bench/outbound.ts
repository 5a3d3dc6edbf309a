/**
 * Outbound calls in the same bench run: the system with warm sessions and the
 * business API on, the Twilio REST double in this process accepting
 * calls.create and playing each callee as a person who answers after a ring.
 * Calls are placed through POST /calls (the way a business does), at the
 * scenario's arrival rate; each is greeted from the session warmed while it
 * rang. Measured per call, in this process's clock: START to the first greeting
 * audio received (the warm-path target, measured as the inbound rows measure
 * it), and the callee's answer to it (what a person picking up waits: the
 * answer's webhook, the stream opening, START, and the greeting).
 */
import { DEMO_PHONE_NUMBER, uniquePhoneNumber } from '@voice/db';
import { TwilioRestDouble, type OutboundCall } from '@voice/testkit';
import { say } from './progress.js';
import { BENCH_AUTH_TOKEN, startSystemTarget, type TargetOptions } from './targets.js';

export interface OutboundPlan {
  calls: number;
  /** How long each callee rings before answering (ms). */
  ringMs: number;
  /** How long each answered call lasts (ms). */
  durationMs: number;
  arrivalRate: number;
}

export interface OutboundResult {
  plan: OutboundPlan;
  placed: number;
  /** Calls whose callee got the agent's audio. */
  greeted: number;
  /** ms from START to the first greeting audio received, per greeted call. */
  afterStartMs: number[];
  /** ms from the callee's answer to the first greeting audio received, per greeted call. */
  afterAnswerMs: number[];
  /** POST /calls answers other than 201, with their status. */
  refused: string[];
}

const BENCH_ACCOUNT_SID = `AC${'b'.repeat(32)}`;
const BENCH_API_TOKEN = 'bench-api-token-0123456789abcdef';
const MS_PER_S = 1000;

export async function runOutbound(plan: OutboundPlan, options: TargetOptions): Promise<OutboundResult> {
  // Where the callees reach the system: known once it has started (the REST double must exist first).
  const system: { origin?: string; resolveStream?: (publicUrl: string) => string } = {};
  const rest = new TwilioRestDouble({
    accountSid: BENCH_ACCOUNT_SID,
    authToken: BENCH_AUTH_TOKEN,
    outbound: {
      callee: () => ({
        answer: 'human',
        ringMs: plan.ringMs,
        caller: { script: [], hangupAfterMs: plan.durationMs, recordSentPayloads: false },
      }),
      resolveUrl: (publicUrl) => {
        const url = new URL(publicUrl);
        return `${system.origin}${url.pathname}${url.search}`;
      },
      resolveStreamUrl: (publicUrl) => system.resolveStream!(publicUrl),
    },
  });
  await rest.start();
  const target = await startSystemTarget('warm', {
    ...options,
    extraEnv: {
      ...options.extraEnv,
      API_TOKEN: BENCH_API_TOKEN,
      TWILIO_ACCOUNT_SID: BENCH_ACCOUNT_SID,
      TWILIO_API_BASE_URL: rest.baseURL,
    },
  });
  const webhookOrigin = new URL(target.webhookUrl).origin;
  system.origin = webhookOrigin;
  system.resolveStream = target.resolveStreamUrl(0);
  const result: OutboundResult = { plan, placed: 0, greeted: 0, afterStartMs: [], afterAnswerMs: [], refused: [] };
  try {
    say(`outbound: ${plan.calls} calls through POST /calls, answered by a person after ${plan.ringMs} ms`);
    const placed: OutboundCall[] = [];
    const t0 = performance.now();
    for (let i = 0; i < plan.calls; i++) {
      const wait = t0 + (i * MS_PER_S) / plan.arrivalRate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const res = await fetch(`${webhookOrigin}/calls`, {
        method: 'POST',
        headers: { authorization: `Bearer ${BENCH_API_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: uniquePhoneNumber(), from: DEMO_PHONE_NUMBER }),
      });
      const body = (await res.json()) as { callSid?: string; error?: string };
      const call = body.callSid ? rest.outboundCalls.get(body.callSid) : undefined;
      if (res.status !== 201 || !call) result.refused.push(`${res.status} ${body.error ?? ''}`.trim());
      else placed.push(call);
    }
    result.placed = placed.length;
    await Promise.all(placed.map((c) => c.done));
    for (const call of placed) {
      const session = call.caller?.session;
      const heard = session?.firstMediaAt;
      if (heard === undefined || session?.startSentAt === undefined || call.answeredAt === undefined) continue;
      result.greeted++;
      result.afterStartMs.push(heard - session.startSentAt);
      result.afterAnswerMs.push(heard - call.answeredAt);
    }
    return result;
  } finally {
    await rest.stop();
    await target.stop();
  }
}
