/**
 * `calls show CA…`: one call, everything on-call needs in one screen: who
 * called whom and how it ended, the timeline as a waterfall with the failing
 * step marked, the stage durations, then the transcript and the token usage
 * and cost when the call has them (another part of the system fills those at
 * the end of the call; until then they are "none").
 */
import { createCallRepository, type Call, type CallUsage, type TranscriptTurn } from '@voice/db';
import { readTimeline, type TimelineEntry } from '@voice/redis';
import type { CliContext } from './context.js';
import { CallNotFoundError, oneLine } from './errors.js';
import { failureOf, type Failure } from './failure.js';
import { clockTime, formatMs, table } from './output.js';
import { stagesOf, type Stage } from './stages.js';
import { callFields, describeStep, failureFields } from './summary.js';
import { inTimeOrder } from './time-order.js';
import { renderWaterfall, waterfallRecord, waterfallRows } from './waterfall.js';

/** Usage the row holds before anything was recorded: every count zero. */
function usageOf(call: Call | null): CallUsage | null {
  if (!call) return null;
  return Object.values(call.usage).some((n) => n > 0) ? call.usage : null;
}

export async function show(ctx: CliContext, callSid: string): Promise<void> {
  // PostgreSQL down must not hide the timeline on-call needs most.
  let dbError: unknown;
  const [row, streamOrder] = await Promise.all([
    ctx
      .db((knex) => createCallRepository(knex).findByCallSid(callSid))
      .catch((err: unknown) => {
        dbError = err;
        return null;
      }),
    readTimeline(ctx.redis, callSid),
  ]);
  const timeline = inTimeOrder(streamOrder);
  if (dbError !== undefined && timeline.length === 0) throw dbError;
  if (dbError !== undefined) ctx.note(`(${oneLine(dbError)}; showing the timeline only)`);
  if (!row && timeline.length === 0) throw new CallNotFoundError(callSid);
  const failure = failureOf(row, timeline);
  const rows = waterfallRows(timeline, failure);
  const stages = stagesOf(timeline);
  const usage = usageOf(row);
  const transcript = row?.transcript ?? [];

  const { out } = ctx;
  if (out.json) {
    out.record('call', {
      ...(row ? callFields(row) : { call_sid: callSid }),
      in_postgres: row !== null,
      timeline_events: timeline.length,
      failed: failure !== undefined,
      failure: failureFields(failure, timeline),
      usage,
      cost_usd: row?.costUsd ?? null,
    });
    for (const r of rows) out.record('event', { call_sid: callSid, ...waterfallRecord(r) });
    for (const s of stages)
      out.record('stage', {
        call_sid: callSid,
        stage: s.stage,
        label: s.label,
        ms: s.ms,
        from: s.from,
        to: s.to,
        failed: s.failed,
        note: s.note,
      });
    out.record('transcript', { call_sid: callSid, transcript });
    return;
  }
  for (const line of header(callSid, row, timeline, failure)) out.line(line);
  out.line();
  if (timeline.length === 0) out.line('(no timeline: it expired (7 days) or was never written)');
  else {
    out.line(
      'timeline, in the order it happened (offset from the first event, gap from the previous; >> failing step, ! trouble)',
    );
    for (const line of renderWaterfall(rows)) out.line(line);
    out.line();
    out.line('stages');
    for (const line of renderStages(stages)) out.line(`  ${line}`);
  }
  out.line();
  for (const line of renderTranscript(transcript)) out.line(line);
  out.line(`usage: ${usage ? describeUsage(usage) : 'none'}`);
  out.line(`cost: ${row?.costUsd === null || row?.costUsd === undefined ? 'none' : `$${row.costUsd.toFixed(6)}`}`);
}

function header(
  callSid: string,
  row: Call | null,
  timeline: readonly TimelineEntry[],
  failure: Failure | undefined,
): string[] {
  const lines: string[] = [];
  if (row) {
    lines.push(`call ${callSid}  ${row.direction ?? '?'}  ${row.from ?? '?'} -> ${row.to ?? '?'}`);
    const ended = row.endedAt
      ? `ended ${row.endedAt.toISOString()} (${row.endReason ?? 'no end reason'})`
      : 'not ended';
    const received = row.receivedAt ? `received ${row.receivedAt.toISOString()}` : 'no webhook recorded';
    lines.push(`status ${row.status}, ${received}, ${ended}`);
    lines.push(
      `gateway ${row.gatewayInstance ?? '-'}, bridge ${row.bridgeInstance ?? '-'}, prompt ${row.promptPath ?? '-'}${row.answeredBy ? `, answered by ${row.answeredBy}` : ''}`,
    );
  } else {
    lines.push(`call ${callSid}  (no calls row in PostgreSQL: only the timeline is known)`);
  }
  lines.push(
    failure
      ? `FAILED: ${failure.kind} (${failure.reason}); failing step: ${describeStep(failure, timeline)}`
      : 'failing step: none',
  );
  return lines;
}

function renderStages(stages: readonly Stage[]): string[] {
  return table(
    stages.map((s) => [
      s.label,
      s.ms === null ? (s.failed ? 'FAILED' : '-') : formatMs(s.ms).padStart(9),
      s.note ?? '',
    ]),
  );
}

function renderTranscript(transcript: readonly TranscriptTurn[]): string[] {
  if (transcript.length === 0) return ['transcript: none'];
  const turns = table(transcript.map((t) => [`  ${clockTime(t.at)}`, t.role, t.text]));
  return [`transcript (${transcript.length} turns)`, ...turns];
}

function describeUsage(u: CallUsage): string {
  return (
    `${u.input_tokens} input tokens (${u.input_audio_tokens} audio, ${u.input_text_tokens} text, ${u.input_cached_tokens} cached), ` +
    `${u.output_tokens} output tokens (${u.output_audio_tokens} audio, ${u.output_text_tokens} text), ${u.responses} responses`
  );
}
