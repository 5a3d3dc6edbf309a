/**
 * `calls failed [--since 1h]`: calls that fell back, failed silently, never
 * started, or were cut by a fault, newest first, each with its reason and its
 * failing step (read from its timeline).
 */
import { createCallSearch, type Call } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import type { CliContext } from './context.js';
import { failureOf, type Failure } from './failure.js';
import { dateTime, table } from './output.js';
import { inTimeOrder } from './time-order.js';
import { callFields, describeStep, failureFields } from './summary.js';

export interface FailedOptions {
  since: Date;
  limit: number;
}

interface FailedCall {
  call: Call;
  timeline: TimelineEntry[];
  failure: Failure;
}

/** A row can say "failed" before any trouble event reached the timeline (or after it expired). */
const FALLBACK_FAILURE = (call: Call): Failure => ({
  kind: 'failed',
  reason: call.endReason ?? call.status,
  step: undefined,
});

export async function failed(ctx: CliContext, options: FailedOptions): Promise<void> {
  const calls = await ctx.db((knex) => createCallSearch(knex).failed({ since: options.since, limit: options.limit }));
  const found: FailedCall[] = await Promise.all(
    calls.map(async (call) => {
      const timeline = inTimeOrder(await readTimeline(ctx.redis, call.callSid));
      return { call, timeline, failure: failureOf(call, timeline) ?? FALLBACK_FAILURE(call) };
    }),
  );
  const { out } = ctx;
  for (const f of found) out.record('failed_call', { ...callFields(f.call), ...failureFields(f.failure, f.timeline) });
  if (found.length === 0) {
    out.line(`no failed calls since ${options.since.toISOString()}`);
    return;
  }
  out.line(
    `${found.length} failed call${found.length === 1 ? '' : 's'} since ${options.since.toISOString()}, newest first${found.length === options.limit ? ` (first ${options.limit}; --limit for more)` : ''}`,
  );
  out.line();
  const header = ['ended (UTC)', 'CallSid', 'from -> to', 'kind', 'reason', 'failing step'];
  const rows = found.map((f) => [
    f.call.endedAt ? dateTime(f.call.endedAt) : '-',
    f.call.callSid,
    `${f.call.from ?? '?'} -> ${f.call.to ?? '?'}`,
    f.failure.kind,
    f.failure.reason,
    describeStep(f.failure, f.timeline),
  ]);
  for (const line of table([header, ...rows])) out.line(line);
  out.line();
  out.line(`details: npm run calls -- show ${found[0]!.call.callSid}`);
}
